//! Rollout workloads end to end: the shipped scenarios against `envload
//! serve`, and what the server saw (its `/envload/counters`): reset waves
//! never above the bound, pooled sessions never reconnecting, pings answered
//! through thinking longer than the ping interval; failed episodes counted
//! one by one; the step-index breakdown merged across agents.

use crate::support;

use std::time::Duration;

use support::hostile::{Hostile, HostileServer};
use support::procs::run_distributed;
use support::{col, counters, csv_file, csv_rows, out_dir, raw_lines, run, text, Server};

const SCENARIOS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../experiments/scenarios");

fn scenario(name: &str) -> String {
    format!("{SCENARIOS}/{name}.toml")
}

fn ok_run(args: &[&str]) -> String {
    support::run_ok(args).0
}

#[test]
fn the_shipped_scenarios_run_against_envload_serve() {
    let s = Server::start(&["--workers", "1"]);
    for (name, extra) in [
        ("benchmark", &["-n", "8", "-w", "0.05"][..]),
        (
            "trl-grpo",
            &["-n", "8", "--episodes", "2", "--time-scale", "0.02"][..],
        ),
        (
            "openenv-stress",
            &["-n", "64", "-w", "0.01", "--time-scale", "0.01"][..],
        ),
        ("mcp-tools", &["-n", "8"][..]),
        ("mcp-http", &["-n", "8", "--leak-probe", "8"][..]),
    ] {
        let dir = out_dir(&format!("scenario-{name}"));
        let d = dir.to_str().unwrap();
        let sc = scenario(name);
        let mut args = vec!["run", "-u", &s.url, "--scenario", &sc, "-o", d];
        args.extend_from_slice(extra);
        ok_run(&args);
        let rows = csv_rows(&dir);
        let n = extra[1];
        assert_eq!(col(&rows[0], &rows[1], "successful"), n, "{name}");
        let raw = raw_lines(&dir);
        assert_eq!(raw.len().to_string(), n, "{name}");
        // The reference's keys first, in order, then the rollout's.
        let keys: Vec<&String> = raw[0].as_object().unwrap().keys().collect();
        assert_eq!(
            keys.len(),
            if name == "benchmark" { 17 } else { 28 },
            "{name}: {keys:?}"
        );
        if name == "benchmark" {
            assert!(
                !dir.join("steps.csv").exists(),
                "benchmark runs keep the reference's files only"
            );
            continue;
        }
        let steps = csv_file(&dir, "steps.csv");
        let episodes = csv_file(&dir, "episodes.csv");
        let e = |c: &str| col(&episodes[0], &episodes[1], c).to_string();
        assert_eq!(e("episodes_failed"), "0", "{name}");
        let bytes_sent: u64 = e("bytes_sent").parse().unwrap();
        let bytes_received: u64 = e("bytes_received").parse().unwrap();
        // Observations outweigh actions; HTTP MCP calls carry the session
        // id, their replies only a short text.
        assert!(
            bytes_sent > 0 && (bytes_received > bytes_sent || name == "mcp-http"),
            "{name}: {bytes_sent} {bytes_received}"
        );
        // Counted per step index: as many rows as the longest episode, each
        // count at most the one before (episodes are 1..K steps long).
        // MCP calls are their own stage (mcp_count), not steps.
        let mcp = name.starts_with("mcp-");
        let count = if mcp { "mcp_count" } else { "count" };
        let counts: Vec<u64> = steps[1..]
            .iter()
            .map(|r| col(&steps[0], r, count).parse().unwrap())
            .collect();
        assert!(
            counts.windows(2).all(|w| w[0] >= w[1]),
            "{name}: {counts:?}"
        );
        let total: u64 = counts.iter().sum();
        if mcp {
            // 8 sessions × 2 episodes × 4 calls.
            assert_eq!((total, e("steps").as_str()), (64, "0"), "{name}");
            if name == "mcp-http" {
                assert_eq!(e("unclosed"), "0");
                let probe = &support::run_json(&dir)["phases"][0]["leak_probe"];
                assert_eq!(probe["leaked_slots"].as_u64(), Some(0), "{probe}");
            }
            assert!(!col(&rows[0], &rows[1], "mcp_p50").is_empty());
        } else {
            assert_eq!(total.to_string(), e("steps"), "{name}");
        }
    }
}

#[test]
fn the_text_observation_grows_turn_by_turn() {
    let s = Server::start(&["--workers", "1"]);
    let sc = scenario("trl-grpo");
    let received = |steps: &str| -> f64 {
        let dir = out_dir(&format!("growing-{steps}"));
        let d = dir.to_str().unwrap();
        ok_run(&[
            "run",
            "-u",
            &s.url,
            "--scenario",
            &sc,
            "-n",
            "2",
            "--episodes",
            "1",
            "--steps",
            steps,
            "--time-scale",
            "0.01",
            "-o",
            d,
        ]);
        let raw = raw_lines(&dir);
        raw.iter()
            .map(|l| l["bytes_received"].as_u64().unwrap())
            .sum::<u64>() as f64
            / 2.0
    };
    // Each reply carries every message so far: five more steps add far more
    // than five replies the size of the first step's (half a one-step
    // session's bytes).
    let (one, six) = (received("1"), received("6"));
    assert!(
        six - one > 1.3 * 5.0 * one / 2.0,
        "6 steps {six} B, 1 step {one} B"
    );
}

#[test]
fn reset_waves_never_exceed_the_bound_at_the_server() {
    let s = Server::start(&["--workers", "1", "--reset-seconds", "0.05"]);
    let dir = out_dir("reset-waves");
    let d = dir.to_str().unwrap();
    ok_run(&[
        "run",
        "-u",
        &s.url,
        "-n",
        "64",
        "-w",
        "0",
        "--steps",
        "2",
        "--max-resets-in-flight",
        "8",
        "-o",
        d,
    ]);
    let c = counters(&s.url);
    assert_eq!(c["resets"], 64);
    let max = c["resets_in_flight_max"].as_u64().unwrap();
    assert!(
        (2..=8).contains(&max),
        "resets in flight at the server peaked at {max}"
    );
}

#[test]
fn pooled_sessions_answer_pings_through_long_thinks_and_never_reconnect() {
    // The server pings every 0.2 s and drops a session whose ping is still
    // unanswered at the next one; each think lasts 0.7 s.
    let s = Server::start(&["--workers", "1", "--ping-interval", "0.2"]);
    let dir = out_dir("pings");
    let d = dir.to_str().unwrap();
    ok_run(&[
        "run",
        "-u",
        &s.url,
        "-n",
        "4",
        "-w",
        "0",
        "--episodes",
        "3",
        "--steps",
        "2",
        "--think",
        "0.7",
        "-o",
        d,
    ]);
    let rows = csv_rows(&dir);
    assert_eq!(col(&rows[0], &rows[1], "successful"), "4");
    for line in raw_lines(&dir) {
        assert_eq!(
            (line["episodes_ok"].as_u64(), line["reconnects"].as_u64()),
            (Some(3), Some(0))
        );
    }
    let c = counters(&s.url);
    assert_eq!(
        c["sessions"], 4,
        "one connection per session for all its episodes"
    );
    assert!(c["pings_sent"].as_u64().unwrap() >= 4 * 3 * 2 * 3);
    assert!(c["pongs_received"].as_u64().unwrap() >= c["pings_sent"].as_u64().unwrap() - 4);
}

#[test]
fn a_drop_mid_episode_fails_that_episode_and_the_next_one_reconnects() {
    let h = HostileServer::start(Hostile::RstOnStep);
    let dir = out_dir("episode-drops");
    let d = dir.to_str().unwrap();
    let out = run(&[
        "run",
        "-u",
        &h.url,
        "-n",
        "2",
        "-w",
        "0",
        "--episodes",
        "3",
        "-o",
        d,
    ]);
    assert!(out.status.success(), "{}", text(&out).1);
    for line in raw_lines(&dir) {
        assert_eq!(line["success"], false);
        assert_eq!(line["error_type"], "UnexpectedClose");
        assert_eq!(
            (
                line["episodes"].as_u64(),
                line["episodes_ok"].as_u64(),
                line["reconnects"].as_u64()
            ),
            (Some(3), Some(0), Some(2))
        );
        assert_eq!(line["episode_errors"].as_array().unwrap().len(), 3);
    }
    let episodes = csv_file(&dir, "episodes.csv");
    assert_eq!(
        col(&episodes[0], &episodes[1], "episode_errors"),
        "UnexpectedClose:6"
    );
}

#[test]
fn bad_workloads_are_refused_before_anything_runs() {
    for (args, needle) in [
        (&["--steps", "0"][..], "'0'"),
        (&["--steps", "5..2"][..], "empty range"),
        (&["--think", "-1"][..], "'-1'"),
        (&["--action", "[1]"][..], "not a JSON object"),
        (&["--reset", "{"][..], "--reset"),
        (
            &["--actions", "/nonexistent.jsonl"][..],
            "cannot read actions file",
        ),
        (&["--scenario", "/nonexistent.toml"][..], "--scenario"),
        (
            &["-m", "http", "--scenario", &scenario("mcp-tools")][..],
            "use --mode ws",
        ),
    ] {
        let mut a = vec!["run", "-u", "http://127.0.0.1:9"];
        a.extend_from_slice(args);
        let out = run(&a);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

#[test]
fn a_scenario_runs_distributed_and_its_step_histograms_merge_exactly() {
    let s = Server::start(&["--workers", "1"]);
    let dir = out_dir("rollout-dist");
    let d = dir.to_str().unwrap();
    let sc = scenario("trl-grpo");
    run_distributed(
        2,
        "r",
        &[
            "-u",
            &s.url,
            "--scenario",
            &sc,
            "-n",
            "10",
            "--episodes",
            "2",
            "--time-scale",
            "0.01",
            "-o",
            d,
        ],
        Duration::from_secs(60),
    );
    // The merged per-index counts equal the steps the rows report.
    let steps = csv_file(&dir, "steps.csv");
    let by_index: u64 = steps[1..]
        .iter()
        .map(|r| col(&steps[0], r, "count").parse::<u64>().unwrap())
        .sum();
    let from_rows: u64 = raw_lines(&dir)
        .iter()
        .map(|l| l["steps"].as_u64().unwrap())
        .sum();
    assert_eq!(by_index, from_rows);
    let episodes = csv_file(&dir, "episodes.csv");
    assert_eq!(col(&episodes[0], &episodes[1], "episodes_ok"), "20");
}

#[test]
fn the_report_draws_step_latency_by_index_and_tabulates_episodes() {
    let s = Server::start(&["--workers", "1"]);
    let dir = out_dir("rollout-report-run");
    let d = dir.to_str().unwrap();
    ok_run(&[
        "run",
        "-u",
        &s.url,
        "-n",
        "4",
        "-w",
        "0.01",
        "--steps",
        "3",
        "--episodes",
        "2",
        "-o",
        d,
    ]);
    let out = out_dir("rollout-report");
    ok_run(&["report", d, "--out", out.to_str().unwrap()]);
    for ext in ["png", "svg"] {
        assert!(out.join(format!("step_latency_by_index.{ext}")).exists());
    }
    let md = std::fs::read_to_string(out.join("tables.md")).unwrap();
    assert!(md.contains("## Rollouts") && md.contains("| 8/8 |"), "{md}");
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("step_latency_by_index"));
}

#[test]
fn http_episodes_are_one_reset_and_k_independent_steps() {
    let s = Server::start(&["--workers", "1"]);
    let dir = out_dir("rollout-http");
    let d = dir.to_str().unwrap();
    let before = counters(&s.url);
    ok_run(&[
        "run",
        "-u",
        &s.url,
        "-m",
        "http",
        "-n",
        "5",
        "-w",
        "0.01",
        "--steps",
        "3",
        "--episodes",
        "2",
        "--action",
        r#"{"wait_seconds": {wait}, "message": "turn {step}"}"#,
        "-o",
        d,
    ]);
    let episodes = csv_file(&dir, "episodes.csv");
    let e = |c: &str| col(&episodes[0], &episodes[1], c).to_string();
    assert_eq!((e("episodes_ok"), e("steps")), ("10".into(), "30".into()));
    let after = counters(&s.url);
    let delta = |k: &str| after[k].as_u64().unwrap() - before[k].as_u64().unwrap();
    assert_eq!(
        (delta("resets"), delta("steps")),
        (10, 30),
        "POSTs the server saw"
    );
}

#[test]
fn a_malformed_rollout_file_is_named_before_the_report_writes_anything() {
    let s = Server::start(&["--workers", "1"]);
    let dir = out_dir("rollout-report-bad");
    let d = dir.to_str().unwrap();
    ok_run(&[
        "run", "-u", &s.url, "-n", "2", "-w", "0", "--steps", "2", "-o", d,
    ]);
    let steps = dir.join("steps.csv");
    let csv_text = std::fs::read_to_string(&steps).unwrap();
    // The p50 of step 1 (column 8) is not a number.
    let bad: Vec<String> = csv_text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let mut cols: Vec<&str> = l.split(',').collect();
            if i == 1 {
                cols[7] = "x";
            }
            cols.join(",")
        })
        .collect();
    std::fs::write(&steps, bad.join("\n")).unwrap();
    let out = out_dir("rollout-report-bad-out");
    let res = run(&["report", d, "--out", out.to_str().unwrap()]);
    let (_, stderr) = text(&res);
    assert_eq!(res.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("steps.csv"), "{stderr}");
    assert!(!out.exists(), "nothing written");
}
