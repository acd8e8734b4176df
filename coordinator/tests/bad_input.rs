//! Bad input exits with code 2 and a message naming the input, before any
//! load is sent.

use crate::support;

fn expect_usage_error(args: &[&str], needles: &[&str]) {
    let out = support::run(args);
    let (_, stderr) = support::text(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    for n in needles {
        assert!(
            stderr.contains(n),
            "{args:?}: stderr lacks {n:?}:\n{stderr}"
        );
    }
}

#[test]
fn zero_sessions() {
    expect_usage_error(&["run", "-n", "0"], &["'0'", "--requests"]);
}

#[test]
fn negative_or_nan_wait() {
    expect_usage_error(&["run", "-w", "-1"], &["'-1'", "--wait"]);
    expect_usage_error(&["run", "-w", "NaN"], &["'NaN'", "--wait"]);
    expect_usage_error(&["run", "--wait-grid", "0.1,-2"], &["'-2'", "--wait-grid"]);
}

#[test]
fn malformed_grids() {
    expect_usage_error(
        &["run", "--requests-grid", "1,,2"],
        &["'1,,2'", "empty", "--requests-grid"],
    );
    expect_usage_error(
        &["run", "--requests-grid", "a"],
        &["'a'", "--requests-grid"],
    );
    expect_usage_error(
        &["run", "--requests-grid", "-3"],
        &["'-3'", "--requests-grid"],
    );
    expect_usage_error(&["run", "--batch-size-grid", "4,0"], &["'0'"]);
}

#[test]
fn unknown_mode() {
    expect_usage_error(&["run", "--mode", "grpc"], &["'grpc'", "--mode"]);
}

#[test]
fn urls_without_or_with_unsupported_scheme() {
    expect_usage_error(&["run", "--url", "localhost"], &["localhost", "no scheme"]);
    expect_usage_error(
        &["run", "--url", "ftp://h:21"],
        &["ftp://h:21", "unsupported scheme"],
    );
    expect_usage_error(&["run", "--urls", "http://a:1,gopher://b"], &["gopher://b"]);
}

#[test]
fn unwritable_output_dir() {
    expect_usage_error(
        &["run", "-n", "1", "-w", "0", "-o", "/etc/hostname/results"],
        &["--output-dir", "/etc/hostname/results"],
    );
}

#[test]
fn require_hosts_needs_expected_hosts() {
    expect_usage_error(&["run", "--require-hosts"], &["--expected-hosts"]);
}

#[test]
fn bad_timeout() {
    expect_usage_error(&["run", "-t", "0"], &["'0'", "--timeout"]);
}

/// Every subcommand, hostile values: each refused with exit 2 naming flag
/// and value, before anything runs (no results folder appears).
#[test]
fn absurd_values_across_every_subcommand() {
    let out = support::out_dir("bad-input-table");
    let o = out.to_str().unwrap();
    let matrix = support::out_file("bad-input-table", "toml");
    let table: &[(&[&str], &[&str])] = &[
        (
            &["run", "-t", "1e20", "-o", o],
            &["'1e20'", "--timeout", "604800"],
        ),
        (&["run", "-t", "inf", "-o", o], &["'inf'", "--timeout"]),
        (&["run", "-t", "-1", "-o", o], &["'-1'", "--timeout"]),
        (
            &["run", "--close-timeout", "0", "-o", o],
            &["'0'", "--close-timeout"],
        ),
        (
            &["run", "-n", "18446744073709551615", "-o", o],
            &["'18446744073709551615'", "--requests", "16777216"],
        ),
        (
            &["run", "-n", "16777216", "-w", "0", "-o", o],
            &["N=16777216", "ulimit -n"],
        ),
        (
            &["run", "--agents", "1000000", "-o", o],
            &["'1000000'", "--agents", "4096"],
        ),
        (
            &["run", "--agents", "300", "-o", o],
            &["--agents 300", "coordinator"],
        ),
        (&["run", "--reps", "0", "-o", o], &["'0'", "--reps"]),
        (
            &["run", "--cooldown", "-1", "-o", o],
            &["'-1'", "--cooldown"],
        ),
        (
            &["run", "--cooldown", "1e9", "-o", o],
            &["'1e9'", "--cooldown"],
        ),
        (&["run", "--cores", "-1", "-o", o], &["'-1'", "--cores"]),
        (
            &["run", "--max-message-size", "10", "-o", o],
            &["'10'", "--max-message-size"],
        ),
        (
            &["run", "--infrastructure", "../../x"],
            &["'../../x'", "--infrastructure", "safe name"],
        ),
        (
            &["run", "--url", "http://", "-o", o],
            &["http://", "no host"],
        ),
        (
            &[
                "run",
                "--requests-grid",
                "1,2,3,4,5,6,7,8",
                "--wait-grid",
                "0,1,2,3",
                "--reps",
                "10000",
                "--modes",
                "ws,http",
                "-o",
                o,
            ],
            &["more than 100000 phases"],
        ),
        (
            &[
                "coordinator",
                "--agents",
                "2",
                "--url",
                "http://h:1",
                "--agent-wait",
                "1e20",
                "-o",
                o,
            ],
            &["'1e20'", "--agent-wait"],
        ),
        (
            &[
                "coordinator",
                "--agents",
                "2",
                "--url",
                "http://h:1",
                "--heartbeat-deadline",
                "NaN",
                "-o",
                o,
            ],
            &["'NaN'", "--heartbeat-deadline"],
        ),
        (
            &[
                "coordinator",
                "--agents",
                "5000",
                "--url",
                "http://h:1",
                "-o",
                o,
            ],
            &["'5000'", "--agents"],
        ),
        (
            &[
                "coordinator",
                "--agents",
                "2",
                "--min-agents",
                "-1",
                "--url",
                "http://h:1",
                "-o",
                o,
            ],
            &["'-1'", "--min-agents"],
        ),
        (
            &[
                "agent",
                "--coordinator",
                "http://h:1",
                "--connect-for",
                "1e20",
            ],
            &["'1e20'", "--connect-for"],
        ),
        (
            &["agent", "--coordinator", "http://h:1", "--cpus", "0"],
            &["'0'", "--cpus"],
        ),
        (
            &["ceiling", "--max-p99", "inf", "-o", o],
            &["'inf'", "--max-p99"],
        ),
        (&["ceiling", "--max-n", "0", "-o", o], &["'0'", "--max-n"]),
        (&["serve", "--port", "-1"], &["'-1'", "--port"]),
        (&["serve", "--workers", "0"], &["'0'", "--workers"]),
        (
            &["lb-config", "--backend", "http://a:1"],
            &["http://a:1", "--backend", "not HOST:PORT"],
        ),
        (
            &["lb-config", "--backend", "a:1\n  server evil b:2"],
            &["--backend", "not HOST:PORT"],
        ),
        (
            &["report", "x", "--out", o, "--cores", "a=0"],
            &["'0'", "--cores"],
        ),
        (
            &[
                "experiment",
                "--matrix",
                matrix.to_str().unwrap(),
                "--infrastructure",
                "x",
            ],
            &["ready_timeout", "'100000000000000000000'"],
        ),
        (
            &[
                "experiment",
                "--matrix",
                matrix.to_str().unwrap(),
                "--infrastructure",
                "../../x",
            ],
            &["'../../x'"],
        ),
    ];
    std::fs::write(
        &matrix,
        "[grid]\nrequests = [1]\n[[infrastructure]]\nid = \"x\"\ndeploy = \"embedded\"\nready_timeout = 1e20\n",
    )
    .unwrap();
    for (args, needles) in table {
        expect_usage_error(args, needles);
        assert!(!out.exists(), "{args:?} created {o} before refusing");
    }
    let _ = std::fs::remove_file(matrix);
}

/// More concurrent sessions to one address than the ephemeral port range
/// holds (IPv6 loopback: one source address, so the range is the bound) is
/// refused before anything starts, naming the sysctl; it used to fail every
/// session past the range with "Cannot assign requested address".
#[test]
fn more_sessions_than_local_ports() {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    let r: Vec<u64> = range
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    let n = (r[1] - r[0] + 2).to_string();
    let out = support::out_dir("ports");
    expect_usage_error(
        &[
            "run",
            "-u",
            "http://[::1]:9",
            "-n",
            &n,
            "--agents",
            "8",
            "-o",
            out.to_str().unwrap(),
        ],
        &[&format!("N={n}"), "net.ipv4.ip_local_port_range", "[::1]:9"],
    );
    assert!(!out.exists(), "nothing was started or written");
}

#[test]
fn bad_slo_and_summary_json() {
    expect_usage_error(&["run", "--slo", "p99<=fast"], &["'p99<=fast'", "--slo"]);
    expect_usage_error(&["run", "--slo", "success<=0.9"], &["--slo", ">="]);
    expect_usage_error(
        &["run", "--slo", "connect_p90<=1"],
        &["--slo", "connect p50, p95, p99"],
    );
    expect_usage_error(
        &["run", "--summary-json", "/nonexistent-envload/s.json"],
        &["--summary-json", "/nonexistent-envload"],
    );
    expect_usage_error(
        &["run", "--summary-json", "/tmp"],
        &["--summary-json", "folder"],
    );
    expect_usage_error(
        &["ceiling", "--slo", "p99<=2", "--max-p99", "3"],
        &["--slo", "--max-p99"],
    );
    expect_usage_error(
        &["ceiling", "--slo", "step_p99<=2"],
        &["--slo", "success and total p99"],
    );
    expect_usage_error(
        &["run", "--slo", "p99<=2*(wait-1)"],
        &["'p99<=2*(wait-1)'", "M*(wait+S)"],
    );
    expect_usage_error(
        &["report", "/tmp", "--out", "/tmp/r", "--slo", "step_p99<=2"],
        &["--slo", "success and total p99"],
    );
    expect_usage_error(
        &["report", "/tmp", "--out", "/tmp/r", "--log"],
        &["--log without FILE", "--matrix"],
    );
    expect_usage_error(
        &[
            "report",
            "/tmp",
            "--out",
            "/tmp/r",
            "--matrix",
            "/nonexistent-envload/m.yaml",
        ],
        &["--matrix /nonexistent-envload/m.yaml"],
    );
}

#[test]
fn bad_arrival_flags() {
    expect_usage_error(&["run", "--ramp-up", "0"], &["'0'", "--ramp-up"]);
    expect_usage_error(&["run", "--rate", "5"], &["--duration"]);
    expect_usage_error(
        &["run", "--rate", "-1", "--duration", "1"],
        &["'-1'", "--rate"],
    );
    expect_usage_error(
        &["run", "--rate", "5", "--duration", "1", "-n", "3"],
        &["--rate", "--requests"],
    );
    expect_usage_error(&["run", "--max-in-flight", "3"], &["--rate"]);
    expect_usage_error(
        &["run", "--ramp-up", "1", "--rate", "5", "--duration", "1"],
        &["--ramp-up", "--rate"],
    );
    expect_usage_error(
        &[
            "run",
            "--rate",
            "5",
            "--duration",
            "1",
            "--max-in-flight",
            "2",
            "--agents",
            "3",
        ],
        &["--max-in-flight 2 is below --agents 3"],
    );
    expect_usage_error(
        &["ceiling", "--rate", "5", "--duration", "1"],
        &["ceiling searches N itself", "--rate"],
    );
    expect_usage_error(
        &["run", "--rate", "1000000", "--duration", "604800"],
        &["sessions, more than a phase holds"],
    );
}
