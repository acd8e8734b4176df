//! The shipped rollout scenarios against real Python OpenEnv servers of
//! deploy/local under uvicorn: the text game (its observation grows each
//! turn) on openenv-core 0.3.0 and openenv 0.10.0, and the MCP tool
//! environment on openenv 0.10.0 (0.3.0 serves it too: `protocol_python`).
//! Both venvs come from PyPI, as for the benchmark server's tests.

use crate::support;
use crate::uvicorn::{venv, Uvicorn};

use std::path::Path;

use support::{col, csv_rows, out_dir, raw_lines, run, text};

fn scenario(name: &str) -> String {
    format!(
        "{}/../experiments/scenarios/{name}.toml",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn run_scenario(url: &str, name: &str, extra: &[&str], tag: &str) -> support::OutDir {
    let dir = out_dir(&format!("pyroll-{tag}"));
    let sc = scenario(name);
    let mut args = vec![
        "run",
        "-u",
        url,
        "--scenario",
        &sc,
        "-o",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = run(&args);
    assert!(out.status.success(), "{args:?}: {:?}", text(&out));
    dir
}

fn episodes_row(dir: &Path) -> (Vec<String>, Vec<String>) {
    let rows = support::csv_file(dir, "episodes.csv");
    (rows[0].clone(), rows[rows.len() - 1].clone())
}

fn text_game(package: &str, tag: &str) {
    let s = Uvicorn::start_app(&venv(package), "text_game_env:app", 1, 100);
    let dir = run_scenario(
        &s.url,
        "trl-grpo",
        &[
            "-n",
            "6",
            "--episodes",
            "2",
            "--steps",
            "5",
            "--time-scale",
            "0.02",
        ],
        tag,
    );
    let rows = csv_rows(&dir);
    assert_eq!(col(&rows[0], &rows[1], "successful"), "6");
    let (h, e) = episodes_row(&dir);
    assert_eq!(
        (col(&h, &e, "episodes_ok"), col(&h, &e, "steps")),
        ("12", "60")
    );
    let received = |dir: &Path| -> f64 {
        let lines = raw_lines(dir);
        for l in &lines {
            assert_eq!(l["reconnects"], 0);
        }
        let sum: u64 = lines
            .iter()
            .map(|l| l["bytes_received"].as_u64().unwrap())
            .sum();
        sum as f64 / lines.len() as f64 / 2.0 // per episode
    };
    // The transcript grows: with replies of one size, four more steps would
    // add four replies the size of the first step's (half a one-step
    // episode); growing replies add well over that.
    let one = run_scenario(
        &s.url,
        "trl-grpo",
        &[
            "-n",
            "2",
            "--episodes",
            "2",
            "--steps",
            "1",
            "--time-scale",
            "0.02",
        ],
        &format!("{tag}-1"),
    );
    let (five, one) = (received(&dir), received(&one));
    assert!(
        five - one > 1.3 * 4.0 * one / 2.0,
        "5 steps {five} B, 1 step {one} B per episode"
    );
    let steps = std::fs::read_to_string(dir.join("steps.csv")).unwrap();
    assert_eq!(
        steps.lines().count(),
        1 + 5,
        "one row per step index:\n{steps}"
    );
}

#[test]
fn trl_grpo_scenario_against_the_text_game_on_openenv_core_0_3_0() {
    text_game("openenv-core==0.3.0", "tg-030");
}

#[test]
fn trl_grpo_scenario_against_the_text_game_on_openenv_0_10_0() {
    text_game("openenv==0.10.0", "tg-0100");
}

#[test]
fn mcp_tools_scenario_against_the_mcp_environment_on_openenv_0_10_0() {
    let s = Uvicorn::start_app(&venv("openenv==0.10.0"), "mcp_env:app", 1, 100);
    let dir = run_scenario(&s.url, "mcp-tools", &["-n", "4"], "mcp");
    let rows = csv_rows(&dir);
    assert_eq!(col(&rows[0], &rows[1], "successful"), "4");
    let (h, e) = episodes_row(&dir);
    // Tool calls are the mcp stage: 8 episodes × 4 calls, no step.
    assert_eq!(
        (col(&h, &e, "episodes_ok"), col(&h, &e, "steps")),
        ("8", "0")
    );
    let steps = support::csv_file(&dir, "steps.csv");
    let calls: u64 = steps[1..]
        .iter()
        .map(|r| col(&steps[0], r, "mcp_count").parse::<u64>().unwrap())
        .sum();
    assert_eq!(calls, 32);
    // Each call really waited: 4 calls of 0.05 s and 4 thinks of 0.1 s.
    let p50: f64 = col(&h, &e, "episode_p50").parse().unwrap();
    assert!(p50 >= 0.6, "episode p50 {p50}");
}

#[test]
fn trl_grpo_scenario_distributed_against_the_text_game() {
    use support::procs::run_distributed;
    let s = Uvicorn::start_app(&venv("openenv-core==0.3.0"), "text_game_env:app", 2, 100);
    let dir = out_dir("pyroll-dist");
    let d = dir.to_str().unwrap();
    let sc = scenario("trl-grpo");
    run_distributed(
        2,
        "py",
        &[
            "-u",
            &s.url,
            "--scenario",
            &sc,
            "-n",
            "8",
            "--episodes",
            "2",
            "--steps",
            "4",
            "--time-scale",
            "0.02",
            "-o",
            d,
        ],
        std::time::Duration::from_secs(120),
    );
    let rows = csv_rows(&dir);
    assert_eq!(col(&rows[0], &rows[1], "successful"), "8");
    assert_eq!(
        col(&rows[0], &rows[1], "unique_pids"),
        "2",
        "both uvicorn workers"
    );
    let (h, e) = episodes_row(&dir);
    assert_eq!(
        (col(&h, &e, "episodes_ok"), col(&h, &e, "steps")),
        ("16", "64")
    );
    let steps = std::fs::read_to_string(dir.join("steps.csv")).unwrap();
    let counts: Vec<&str> = steps
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(6).unwrap())
        .collect();
    assert_eq!(
        counts,
        ["16", "16", "16", "16"],
        "merged from both agents: {steps}"
    );
}

/// The GRPO-realistic scenario (groups of 8, lognormal thinks, pings, 1%
/// aborts, a leak probe of 64) against a real OpenEnv server of capacity
/// 64: every session not aborted succeeds, the groups of 8 end together,
/// and the probe finds every slot given back.
fn grpo_realistic(app: &str, extra: &[&str], tag: &str) {
    let s = Uvicorn::start_app(&venv("openenv==0.10.0"), app, 1, 64);
    let mut args = vec!["--time-scale", "0.05", "--abort", "0.05@step"];
    args.extend_from_slice(extra);
    let dir = run_scenario(&s.url, "grpo-realistic", &args, tag);
    let mut lines = support::raw_lines(&dir);
    assert_eq!(lines.len(), 64);
    let aborted = lines
        .iter()
        .filter(|l| l["error_type"] == "Aborted")
        .count();
    assert!(aborted > 0, "seed 7 aborts some at 5%");
    assert!(lines
        .iter()
        .all(|l| l["success"] == true || l["error_type"] == "Aborted"));
    let doc = support::run_json(&dir);
    assert_eq!(doc["plan"]["workload"]["group"], 8);
    assert_eq!(doc["phases"][0]["leak_probe"]["leaked_slots"], 0, "{doc}");
    // A group without an aborted member ends together.
    lines.sort_by_key(|l| l["request_id"].as_u64().unwrap());
    for g in lines.chunks(8) {
        if g.iter().all(|l| l["success"] == true) {
            let t: Vec<f64> = g
                .iter()
                .map(|l| l["total_latency"].as_f64().unwrap())
                .collect();
            let spread = t.iter().cloned().fold(f64::MIN, f64::max)
                - t.iter().cloned().fold(f64::MAX, f64::min);
            assert!(spread < 0.25, "a group ends together: {t:?}");
        }
    }
}

#[test]
fn grpo_realistic_scenario_against_the_text_game_on_openenv_0_10_0() {
    grpo_realistic("text_game_env:app", &[], "grpo-tg");
}

#[test]
fn grpo_realistic_scenario_against_the_python_benchmark_server() {
    // The benchmark environment takes the benchmark's action, not text.
    grpo_realistic(
        "benchmark_env:app",
        &["--action", r#"{"wait_seconds": {wait}}"#],
        "grpo-bm",
    );
}
