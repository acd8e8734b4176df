//! Load over time: a 60-second stage plan (`--stages`, k6's `stages`) run
//! against `envload serve`, in-process and over two agents, written as it goes in
//! `timeseries.csv` (one row per `--interval`) and `latency.hlog` — whose
//! users follow the plan, whose rows add up to `summary.csv`, and whose
//! interval log HdrHistogram's own Python reader (PyPI `hdrhistogram`)
//! reads back to the same counts.

use std::process::Command;

use crate::support;
use crate::uvicorn::venv;

use support::{col, csv_file, csv_rows, refused, run_to, text, Server};

/// The plan: 10 s to 64 users, 40 s at 64, 10 s down to 0.
const PLAN: &str = "10s:64,40s:64,10s:0";

/// Users [`PLAN`] holds at `t` seconds.
fn plan_at(t: f64) -> f64 {
    match t {
        t if t < 10.0 => 6.4 * t,
        t if t < 50.0 => 64.0,
        t if t < 60.0 => 64.0 - 6.4 * (t - 50.0),
        _ => 0.0,
    }
}

fn num(v: &str) -> f64 {
    v.parse()
        .unwrap_or_else(|_| panic!("'{v}' is not a number"))
}

/// Runs the plan; checks the series against it and the summary; the folder.
fn stage_run(tag: &str, url: &str, extra: &[&str]) -> support::OutDir {
    let mut args = vec!["--stages", PLAN, "-w", "0.5", "--interval", "1"];
    args.extend_from_slice(extra);
    let dir = run_to(tag, url, &args);
    let ts = csv_file(&dir, "timeseries.csv");
    let (h, rows) = (&ts[0], &ts[1..]);
    assert!(
        (60..=61).contains(&rows.len()),
        "{tag}: {} rows",
        rows.len()
    );
    let (mut started, mut succeeded) = (0u64, 0u64);
    for r in rows {
        let t = num(col(h, r, "time_s"));
        let active = num(col(h, r, "active"));
        // Within one interval of the plan (and the agents' rounding down).
        let lo = plan_at(t).min(plan_at(t - 1.0)) - 2.0;
        let hi = plan_at(t).max(plan_at(t - 1.0)) + 1.0;
        assert!(
            lo <= active && active <= hi,
            "{tag}: t={t} active {active}, plan {lo}..{hi}"
        );
        started += col(h, r, "started").parse::<u64>().unwrap();
        succeeded += col(h, r, "succeeded").parse::<u64>().unwrap();
        assert_eq!(col(h, r, "failed"), "0", "{tag}: {r:?}");
    }
    let s = csv_rows(&dir);
    assert_eq!(col(&s[0], &s[1], "batch_size"), "64", "N is the peak");
    assert_eq!(
        succeeded.to_string(),
        col(&s[0], &s[1], "successful"),
        "{tag}"
    );
    assert_eq!(
        started.to_string(),
        col(&s[0], &s[1], "num_requests"),
        "{tag}"
    );
    // Users ran sessions back to back (about 2 a second each): far more
    // sessions than users.
    assert!(succeeded > 64 * 40, "{tag}: {succeeded}");
    dir
}

/// `dir/latency.hlog` read by HdrHistogram's own Python reader: one
/// interval per row of timeseries.csv, the phase's sessions in all.
fn hlog_agrees(dir: &std::path::Path) {
    let py = venv("hdrhistogram==0.10.8").join("bin/python");
    let out = Command::new(&py)
        .arg("-c")
        .arg(
            "import sys\n\
             from hdrh.histogram import HdrHistogram\n\
             from hdrh.log import HistogramLogReader\n\
             r = HistogramLogReader(sys.argv[1], HdrHistogram(1, 3600000000, 3))\n\
             n = c = 0\n\
             while True:\n\
             \x20   h = r.get_next_interval_histogram()\n\
             \x20   if h is None: break\n\
             \x20   n += 1; c += h.get_total_count()\n\
             print(n, c, r.get_start_time_sec() > 1.7e9)\n",
        )
        .arg(dir.join("latency.hlog"))
        .output()
        .expect("python runs");
    let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(out.status.success(), "{:?}", text(&out));
    let s = csv_rows(dir);
    let rows = csv_file(dir, "timeseries.csv").len() - 1;
    assert_eq!(
        said,
        format!("{rows} {} True", col(&s[0], &s[1], "successful"))
    );
}

#[test]
fn a_stage_plan_follows_its_users_and_its_series_adds_up_to_the_summary() {
    let s = Server::start(&[]);
    hlog_agrees(&stage_run("ts-stages", &s.url, &[]));
}

#[test]
fn a_stage_plan_over_two_agents_keeps_one_series() {
    let s = Server::start(&[]);
    hlog_agrees(&stage_run("ts-stages-agents", &s.url, &["--agents", "2"]));
}

#[test]
fn every_run_has_its_series_and_bad_plans_are_refused() {
    let s = Server::start(&[]);
    let dir = run_to(
        "ts-plain",
        &s.url,
        &["-n", "4", "-w", "0.3", "--interval", "0.1"],
    );
    let ts = csv_file(&dir, "timeseries.csv");
    let ended: u64 = ts[1..]
        .iter()
        .map(|r| col(&ts[0], r, "succeeded").parse::<u64>().unwrap())
        .sum();
    assert_eq!(ended, 4);
    assert!(ts.len() > 3, "three intervals or more: {ts:?}");
    // A scenario's [[stages]]: the same plan.
    let sc = support::out_dir("ts-scenario").join("s.toml");
    std::fs::create_dir_all(sc.parent().unwrap()).unwrap();
    std::fs::write(
        &sc,
        "wait = 0.05\n[[stages]]\nduration = \"1s\"\ntarget = 6\n[[stages]]\nduration = 1\ntarget = 6\n",
    )
    .unwrap();
    let dir = run_to(
        "ts-scenario-run",
        &s.url,
        &["--scenario", sc.to_str().unwrap()],
    );
    let rows = csv_rows(&dir);
    assert_eq!(col(&rows[0], &rows[1], "batch_size"), "6");
    let ts = csv_file(&dir, "timeseries.csv");
    assert_eq!(col(&ts[0], &ts[2], "active"), "6", "{ts:?}");
    std::fs::write(&sc, "[[stages]]\nduration = \"1s\"\nusers = 6\n").unwrap();
    let err = refused(&[
        "run",
        "-u",
        "http://127.0.0.1:9",
        "--scenario",
        sc.to_str().unwrap(),
    ]);
    assert!(err.contains("stages") && err.contains("target"), "{err}");
    let err = refused(&["ceiling", "-u", "http://127.0.0.1:9", "--stages", "5s:4"]);
    assert!(err.contains("drop --stages"), "{err}");
    for (args, needle) in [
        (&["--stages", "10s"][..], "DURATION:TARGET"),
        (&["--stages", "10s:0"][..], "every target is 0"),
        (&["--stages", "5s:4", "-n", "4"][..], "--requests"),
        (&["--stages", "5s:4", "--group", "2"][..], "--group"),
        (&["--interval", "0"][..], "--interval"),
    ] {
        let mut a = vec!["run", "-u", "http://127.0.0.1:9"];
        a.extend_from_slice(args);
        let err = refused(&a);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

/// The report's verdict on one phase's series: its line of `tables.md`'s
/// Load over time table, and of the experiment log.
fn verdict(dir: &std::path::Path, tag: &str) -> (String, String) {
    let out = support::out_dir(&format!("{tag}-report"));
    let log = out.join("EXPERIMENT_LOG.md");
    let (o, l) = (out.to_str().unwrap(), log.to_str().unwrap());
    support::run_ok(&["report", dir.to_str().unwrap(), "--out", o, "--log", l]);
    let tables = std::fs::read_to_string(out.join("tables.md")).unwrap();
    let row = tables
        .split("## Load over time")
        .nth(1)
        .and_then(|t| t.lines().find(|l| l.contains("phase 1")))
        .unwrap_or_else(|| panic!("{tables}"))
        .to_string();
    let text = std::fs::read_to_string(&log).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("- Over time ("))
        .unwrap_or_else(|| panic!("{text}"))
        .to_string();
    (row, line)
}

#[test]
fn a_soak_against_a_leaking_server_drifts_and_a_clean_one_is_stable() {
    let plan = ["--stages", "1s:8,11s:8", "-w", "0.2", "--interval", "1"];
    let clean = Server::start(&["--max-concurrent-envs", "20"]);
    let dir = run_to("ts-soak-clean", &clean.url, &plan);
    let (row, line) = verdict(&dir, "ts-soak-clean");
    assert!(row.ends_with("| stable |"), "{row}");
    assert!(
        line.contains(": stable;") && line.contains("held in every interval"),
        "{line}"
    );
    // Every 10th session keeps its slot: about 4 a second, so the 20 slots
    // are gone in ~5 s and sessions are refused more and more.
    let leaky = Server::start(&["--max-concurrent-envs", "20", "--leak-every", "10"]);
    let dir = run_to("ts-soak-leak", &leaky.url, &plan);
    let (row, line) = verdict(&dir, "ts-soak-leak");
    assert!(row.contains("drifting: success falls"), "{row}");
    assert!(
        line.contains("drifting: success falls") && line.contains("first missed at interval"),
        "{line}"
    );
    let ts = csv_file(&dir, "timeseries.csv");
    let first_fail = ts[1..]
        .iter()
        .position(|r| col(&ts[0], r, "failed") != "0")
        .expect("the leak refuses sessions");
    assert!(
        first_fail >= 2,
        "capacity lasts a few seconds: {first_fail}"
    );
    assert!(col(&ts[0], ts.last().unwrap(), "errors").contains("CapacityReached"));
}
