//! `envload run` end to end against a real `envload serve` process: WS, HTTP,
//! `--compare`, grids with repetitions, host expectations, capacity refusals.

use crate::support;

use std::collections::HashSet;

use support::{col, csv_rows, out_dir, raw_lines, run, run_ok, text, Server};

#[test]
fn ws_and_http_single_runs() {
    let s = Server::start(&[]);
    for mode in ["ws", "http"] {
        let dir = out_dir(&format!("single-{mode}"));
        let d = dir.to_str().unwrap();
        let (stdout, _) = run_ok(&[
            "run", "-u", &s.url, "-n", "25", "-w", "0.1", "-m", mode, "-o", d,
        ]);
        assert!(stdout.contains("25/25 success (100%)"), "{stdout}");
        assert!(
            stdout.contains(&format!("{} Mode | N=25", mode.to_uppercase())),
            "single runs print the summary: {stdout}"
        );
        let rows = csv_rows(&dir);
        assert_eq!(rows.len(), 2);
        assert_eq!(col(&rows[0], &rows[1], "mode"), mode);
        assert_eq!(col(&rows[0], &rows[1], "successful"), "25");
        assert_eq!(col(&rows[0], &rows[1], "unique_sessions"), "25");
        let raw = raw_lines(&dir);
        let ids: HashSet<u64> = raw
            .iter()
            .map(|l| l["request_id"].as_u64().unwrap())
            .collect();
        assert_eq!(ids, (0..25).collect());
        assert!(raw
            .iter()
            .all(|l| l["success"] == true && l["waited_seconds"].as_f64() == Some(0.1)));
        let connect_zero = raw
            .iter()
            .all(|l| l["connect_latency"].as_f64() == Some(0.0));
        assert_eq!(
            connect_zero,
            mode == "http",
            "HTTP has connect 0.0, WS does not"
        );
        let step_min: f64 = raw
            .iter()
            .map(|l| l["step_latency"].as_f64().unwrap())
            .fold(f64::MAX, f64::min);
        assert!(
            step_min >= 0.1,
            "a step cannot be shorter than its wait: {step_min}"
        );
    }
}

#[test]
fn compare_runs_http_then_ws_and_prints_the_table() {
    let s = Server::start(&[]);
    let dir = out_dir("compare");
    let (stdout, _) = run_ok(&[
        "run",
        "-u",
        &s.url,
        "--compare",
        "-n",
        "10",
        "-w",
        "0.05",
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert!(stdout.contains("HTTP vs WebSocket Comparison"), "{stdout}");
    let rows = csv_rows(&dir);
    let modes: Vec<&str> = rows[1..].iter().map(|r| col(&rows[0], r, "mode")).collect();
    assert_eq!(modes, ["http", "ws"]);
}

#[test]
fn grid_with_reps_runs_every_phase_in_order() {
    let s = Server::start(&[]);
    let dir = out_dir("grid");
    let (stdout, _) = run_ok(&[
        "run",
        "-u",
        &s.url,
        "--requests-grid",
        "2,5",
        "--wait-grid",
        "0,0.05",
        "--reps",
        "2",
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert!(
        stdout.contains("Grid Sweep Complete") && stdout.contains("[8/8]"),
        "{stdout}"
    );
    let rows = csv_rows(&dir);
    let got: Vec<(String, String, String)> = rows[1..]
        .iter()
        .map(|r| {
            let c = |n| col(&rows[0], r, n).to_string();
            (c("num_requests"), c("wait_seconds"), c("repetition"))
        })
        .collect();
    let want: Vec<(String, String, String)> = [
        ("2", "0.0", "1"),
        ("2", "0.0", "2"),
        ("2", "0.05", "1"),
        ("2", "0.05", "2"),
        ("5", "0.0", "1"),
        ("5", "0.0", "2"),
        ("5", "0.05", "1"),
        ("5", "0.05", "2"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(got, want);
    assert_eq!(raw_lines(&dir).len(), 2 * 4 + 5 * 4);
    let runj = support::run_json(&dir);
    assert_eq!(runj["status"], "complete");
    assert_eq!(runj["phases"].as_array().unwrap().len(), 8);
    assert!(runj["phases"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["status"] == "complete"));
}

#[test]
fn embedded_server_is_the_default_target() {
    let dir = out_dir("embedded");
    let (stdout, _) = run_ok(&[
        "run",
        "-n",
        "8",
        "-w",
        "0",
        "-o",
        dir.to_str().unwrap(),
        "--infrastructure",
        "laptop",
    ]);
    assert!(
        stdout.contains("started the embedded benchmark server at http://127.0.0.1:"),
        "{stdout}"
    );
    let runj = support::run_json(&dir);
    assert!(runj["embedded_server"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    assert_eq!(runj["infrastructure"], "laptop");
    assert_eq!(
        runj["agents"][0]["cpus"].as_u64().map(|c| c >= 1),
        Some(true)
    );
    assert!(runj["command"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "--infrastructure"));
    assert!(runj["finished_at"].is_string());
}

#[test]
fn too_few_hosts_warns_and_with_require_hosts_fails() {
    let s = Server::start(&[]);
    let dir = out_dir("hosts-warn");
    let (_, stderr) = run_ok(&[
        "run",
        "-u",
        &s.url,
        "-n",
        "4",
        "-w",
        "0",
        "--expected-hosts",
        "2",
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert!(
        stderr.contains("WARNING") && stderr.contains("expected 2"),
        "{stderr}"
    );

    let dir = out_dir("hosts-require");
    let out = run(&[
        "run",
        "-u",
        &s.url,
        "-n",
        "4",
        "-w",
        "0",
        "--expected-hosts",
        "2",
        "--require-hosts",
        "-o",
        dir.to_str().unwrap(),
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--require-hosts"), "{stderr}");
    assert_eq!(
        csv_rows(&dir).len(),
        2,
        "what was measured is still written"
    );
}

#[test]
fn capacity_refusals_are_counted_as_such() {
    let s = Server::start(&["--max-concurrent-envs", "3"]);
    let dir = out_dir("capacity");
    let (stdout, _) = run_ok(&[
        "run",
        "-u",
        &s.url,
        "-n",
        "10",
        "-w",
        "1.0",
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert!(stdout.contains("CapacityReached x7"), "{stdout}");
    let rows = csv_rows(&dir);
    assert_eq!(col(&rows[0], &rows[1], "successful"), "3");
    assert_eq!(col(&rows[0], &rows[1], "error_rate"), "0.7");
    let refused = raw_lines(&dir)
        .iter()
        .filter(|l| l["error_type"] == "CapacityReached")
        .count();
    assert_eq!(refused, 7);
}

#[test]
fn server_first_close_works() {
    let s = Server::start(&[]);
    let dir = out_dir("server-first");
    let (stdout, _) = run_ok(&[
        "run",
        "-u",
        &s.url,
        "-n",
        "10",
        "-w",
        "0",
        "--close",
        "server-first",
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert!(stdout.contains("10/10 success"), "{stdout}");
}

#[test]
fn urls_spread_sessions_round_robin() {
    let (a, b) = (Server::start(&[]), Server::start(&[]));
    let dir = out_dir("urls");
    let urls = format!("{},{}", a.url, b.url);
    let (stdout, _) = run_ok(&[
        "run",
        "--urls",
        &urls,
        "-n",
        "10",
        "-w",
        "0",
        "--expected-hosts",
        "2",
        "--require-hosts",
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert!(
        stdout.contains(&format!("target {}: 5 sessions, 5 ok", a.url)),
        "{stdout}"
    );
    let rows = csv_rows(&dir);
    assert_eq!(col(&rows[0], &rows[1], "unique_hosts"), "2");
    let raw = raw_lines(&dir);
    let on_a = raw
        .iter()
        .filter(|l| {
            l["host_url"]
                .as_str()
                .unwrap()
                .ends_with(a.url.rsplit(':').next().unwrap())
        })
        .count();
    assert_eq!(on_a, 5);
    let rj = support::run_json(&dir);
    let per_target = rj["phases"][0]["targets"].as_array().unwrap();
    assert_eq!(per_target.len(), 2);
    assert!(
        per_target
            .iter()
            .all(|t| t["sessions"] == 5 && t["successful"] == 5),
        "{per_target:?}"
    );
}

#[test]
fn a_second_run_the_same_day_does_not_overwrite_the_first() {
    let s = Server::start(&[]);
    let cwd = out_dir("same-day");
    std::fs::create_dir_all(&cwd).unwrap();
    let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let base = cwd.join("experiments/results/twice");
    for (n, dir) in [("3", base.join(&day)), ("5", base.join(format!("{day}-2")))] {
        let out = std::process::Command::new(support::envload())
            .current_dir(&cwd)
            .args([
                "run",
                "-u",
                &s.url,
                "-n",
                n,
                "-w",
                "0.05",
                "--infrastructure",
                "twice",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{:?}", text(&out));
        let rows = csv_rows(&dir);
        assert_eq!(
            col(&rows[0], &rows[1], "num_requests"),
            n,
            "{}",
            dir.display()
        );
    }
    let first = csv_rows(&base.join(&day));
    assert_eq!(
        col(&first[0], &first[1], "num_requests"),
        "3",
        "first run kept"
    );
}

/// run.json says what each side spent: this process and, with the
/// embedded server (a child process of its own), the server.
#[test]
fn run_json_records_client_and_embedded_server_cpu_per_phase() {
    let dir = out_dir("cpu-seconds");
    let out = run(&["run", "-n", "200", "-w", "0", "-o", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{:?}", text(&out));
    let doc = support::run_json(&dir);
    let cpu = &doc["phases"][0]["cpu_seconds"];
    assert!(cpu["envload"].as_f64().unwrap() > 0.0, "{cpu}");
    assert!(cpu["embedded_server"].as_f64().unwrap() > 0.0, "{cpu}");
}

/// The reference writes effective_concurrency 0.0 for a phase in which
/// every session failed (envload wrote N·wait/wall: 1777.66 for three
/// refused sessions).
#[test]
fn effective_concurrency_is_zero_when_every_session_fails() {
    let dir = out_dir("all-failed");
    run_ok(&[
        "run",
        "-u",
        &format!("http://127.0.0.1:{}", support::free_port()),
        "-n",
        "3",
        "-w",
        "1.0",
        "-o",
        dir.to_str().unwrap(),
    ]);
    let rows = csv_rows(&dir);
    assert_eq!(col(&rows[0], &rows[1], "successful"), "0");
    assert_eq!(col(&rows[0], &rows[1], "effective_concurrency"), "0.0");
}

/// What the reference's argparse accepts, envload accepts too: unambiguous
/// flag prefixes (`--out`, `--verb`, `--hard`, `--time`, `--expected`) and
/// a URL without a scheme (`HOST:PORT`, taken as http://). Both were exit 2.
#[test]
fn reference_abbreviations_and_a_url_without_a_scheme_are_accepted() {
    let s = Server::start(&[]);
    let dir = out_dir("abbrev");
    let host_port = s.url.trim_start_matches("http://").to_string();
    let (stdout, _) = run_ok(&[
        "run",
        "--url",
        &host_port,
        "-n",
        "2",
        "-w",
        "0.05",
        "--verb",
        "--hard",
        "cpu-test",
        "--time",
        "30",
        "--expected",
        "1",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(stdout.contains("2/2 success"), "{stdout}");
    let rows = csv_rows(&dir);
    assert_eq!(
        col(&rows[0], &rows[1], "url"),
        host_port,
        "the URL as written"
    );
    assert_eq!(col(&rows[0], &rows[1], "hardware"), "cpu-test");
}

/// Sessions to a loopback target come from 127.0.0.1…32 by default (more
/// local ports); `--loopback-sources 1` keeps them on 127.0.0.1 for NAT
/// rules that masquerade only that address (podman's CNI port forwarding
/// left 31 of every 32 WebSocket sessions without an answer). A listener
/// that answers nothing records where each connection came from.
#[test]
fn loopback_sources_spread_sessions_or_keep_them_on_127_0_0_1() {
    use std::collections::BTreeSet;
    use std::sync::{Arc, Mutex};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Arc<Mutex<BTreeSet<std::net::IpAddr>>> = Arc::default();
    let record = seen.clone();
    std::thread::spawn(move || {
        let mut open = Vec::new();
        for conn in listener.incoming().flatten() {
            record
                .lock()
                .unwrap()
                .insert(conn.peer_addr().unwrap().ip());
            open.push(conn);
        }
    });
    let url = format!("ws://127.0.0.1:{port}");
    for (extra, distinct) in [(&[][..], 8), (&["--loopback-sources", "1"][..], 1)] {
        seen.lock().unwrap().clear();
        let dir = out_dir("loopback-sources");
        let mut args = vec!["run", "-u", &url, "-n", "8", "-w", "0", "-t", "0.5", "-o"];
        args.push(dir.to_str().unwrap());
        args.extend_from_slice(extra);
        let (stdout, _) = support::run_ok(&args);
        assert!(stdout.contains("0/8 success"), "{stdout}");
        let ips = seen.lock().unwrap().clone();
        assert_eq!(ips.len(), distinct, "{extra:?}: {ips:?}");
        if distinct == 1 {
            assert!(ips.contains(&"127.0.0.1".parse().unwrap()));
        }
    }
}
