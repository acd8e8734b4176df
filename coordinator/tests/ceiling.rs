//! The ceiling search against a benchmark server of known capacity
//! (`--max-concurrent-envs 40`, one worker): it converges to the capacity.

use crate::support;

use support::{csv_rows, out_dir, run, text, Server};

fn ceiling(url: &str, name: &str, extra: &[&str]) -> (u64, support::OutDir) {
    let dir = out_dir(name);
    let mut args = vec![
        "ceiling",
        "-u",
        url,
        "-n",
        "8",
        "-w",
        "0.2",
        "--resolution",
        "0",
        "-o",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = run(&args);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let last = stdout.lines().last().unwrap_or_default();
    let n = last
        .strip_prefix("ceiling=")
        .unwrap_or_else(|| panic!("last line {last:?}"))
        .parse()
        .unwrap();
    (n, dir)
}

#[test]
fn converges_to_the_servers_capacity() {
    let s = Server::start(&["--max-concurrent-envs", "40"]);
    // Every session must succeed: exactly the capacity.
    let (n, dir) = ceiling(&s.url, "ceiling-exact", &["--success-threshold", "1.0"]);
    assert_eq!(n, 40);
    let probes = std::fs::read_to_string(dir.join("ceiling.jsonl")).unwrap();
    let probes: Vec<serde_json::Value> = probes
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        csv_rows(&dir).len() - 1,
        probes.len(),
        "every probe is a phase in summary.csv"
    );
    assert!(probes
        .iter()
        .any(|p| p["batch_size"] == 40 && p["pass"] == true));
    assert!(probes
        .iter()
        .any(|p| p["batch_size"] == 41 && p["pass"] == false));
    // The reference's 95%: the largest N with 40/N >= 0.95.
    let (n, _) = ceiling(&s.url, "ceiling-95", &[]);
    assert_eq!(n, 42);
}

#[test]
fn a_latency_slo_bounds_the_search_too() {
    let s = Server::start(&[]);
    // p99 can never be under the 0.2 s wait: the first probe fails, N=0.
    let (n, dir) = ceiling(&s.url, "ceiling-p99", &["--max-p99", "0.1"]);
    assert_eq!(n, 0);
    let first = std::fs::read_to_string(dir.join("ceiling.jsonl")).unwrap();
    assert!(first.contains("\"pass\":false"), "{first}");
}

/// Rollouts: the largest number of concurrent multi-step episodes within
/// the SLO, against the same known capacity (each session holds its slot
/// for its whole episode).
#[test]
fn finds_the_most_concurrent_rollouts_within_the_slo() {
    let s = Server::start(&["--max-concurrent-envs", "24"]);
    let (n, dir) = ceiling(
        &s.url,
        "ceiling-rollouts",
        &[
            "--success-threshold",
            "1.0",
            "--steps",
            "3",
            "--think",
            "0.05",
            "--max-p99",
            "5",
        ],
    );
    assert_eq!(n, 24);
    assert!(
        dir.join("steps.csv").exists(),
        "every probe ran the rollout"
    );
}
