//! Think times and arrivals as trainers make them, not tidy: `--think`
//! `exp:MEAN`, `lognormal:MEDIAN,SIGMA` and `file:PATH` beside `S` and
//! `A..B`, and the open model's `--arrival poisson` (exponential gaps,
//! seeded); what was asked and the gaps drawn land in run.json.

use crate::support::{out_dir, out_file, raw_lines, run, run_json, run_ok, text, Server};

fn rollout(url: &str, think: &str, dir: &std::path::Path) -> serde_json::Value {
    let out = run(&[
        "run",
        "-u",
        url,
        "-n",
        "4",
        "-w",
        "0",
        "--steps",
        "3",
        "--think",
        think,
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{think}: {:?}", text(&out));
    let lines = raw_lines(dir);
    assert!(lines.iter().all(|l| l["success"] == true), "{think}");
    run_json(dir)
}

#[test]
fn heavy_tailed_and_recorded_think_times_run_and_are_recorded() {
    let s = Server::start(&[]);
    let values = out_file("think-values", "txt");
    std::fs::write(&*values, "0.01\n\n0.03\n").unwrap();
    let file = format!("file:{}", values.display());
    for (think, recorded) in [
        ("exp:0.02", "exp:0.02"),
        ("lognormal:0.02,0.8", "lognormal:0.02,0.8"),
        (file.as_str(), "file:(2 values)"),
    ] {
        let dir = out_dir("think-dist");
        let doc = rollout(&s.url, think, &dir);
        let w = &doc["plan"]["workload"];
        assert_eq!(w["think"], recorded, "{w}");
        assert!(w.get("think_seconds").is_none(), "{w}");
        // The 12 think times drawn (4 sessions × 3 steps), summarised.
        let t = &doc["phases"][0]["think"];
        let (mean, p50, p99) = (
            t["mean"].as_f64().unwrap(),
            t["p50"].as_f64().unwrap(),
            t["p99"].as_f64().unwrap(),
        );
        assert!(mean > 0.0 && p50 <= p99 && p99 < 1.0, "{think}: {t}");
        if think.starts_with("file:") {
            assert!([p50, p99].iter().all(|v| *v == 0.01 || *v == 0.03), "{t}");
        }
        let _ = std::fs::remove_dir_all(&*dir);
    }
    let dir = out_dir("think-uniform");
    let doc = rollout(&s.url, "0.01..0.02", &dir);
    assert_eq!(
        doc["plan"]["workload"]["think_seconds"],
        serde_json::json!([0.01, 0.02])
    );
}

#[test]
fn bad_think_specs_are_refused_naming_the_flag() {
    for bad in [
        "exp:-1",
        "exp:0",
        "lognormal:1",
        "lognormal:1,9",
        "file:/nonexistent/thinks.txt",
    ] {
        let out = run(&["run", "-u", "http://127.0.0.1:9", "--think", bad]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{bad}: {stderr}");
        assert!(stderr.contains("--think"), "{bad}: {stderr}");
    }
}

/// The inter-arrival gaps run.json records for an open-model phase.
fn gaps(url: &str, extra: &[&str], name: &str) -> serde_json::Value {
    let dir = out_dir(name);
    let mut args = vec![
        "run",
        "-u",
        url,
        "--rate",
        "400",
        "--duration",
        "1",
        "-w",
        "0",
        "-o",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run_ok(&args);
    run_json(&dir)["phases"][0]["inter_arrival"].clone()
}

#[test]
fn poisson_arrivals_have_exponential_gaps_drawn_from_the_seed() {
    let s = Server::start(&[]);
    let even = gaps(&s.url, &[], "arrival-even");
    assert!(
        (even["p50"].as_f64().unwrap() - 0.0025).abs() < 1e-6,
        "{even}"
    );
    assert_eq!(even["p50"], even["p99"], "evenly spaced: {even}");
    let p = gaps(
        &s.url,
        &["--arrival", "poisson", "--seed", "5"],
        "arrival-poisson",
    );
    let (mean, p50, p99) = (
        p["mean"].as_f64().unwrap(),
        p["p50"].as_f64().unwrap(),
        p["p99"].as_f64().unwrap(),
    );
    // Exponential gaps of mean 1/400 s: median ln 2 × mean, p99 ln 100 × mean.
    assert!((mean - 0.0025).abs() < 0.0005, "{p}");
    assert!(p50 < 0.8 * mean && p99 > 3.0 * mean, "{p}");
    let again = gaps(
        &s.url,
        &["--arrival", "poisson", "--seed", "5"],
        "arrival-poisson-2",
    );
    assert_eq!(p, again, "the same seed draws the same schedule");
    let other = gaps(
        &s.url,
        &["--arrival", "poisson", "--seed", "6"],
        "arrival-poisson-3",
    );
    assert_ne!(p, other);
    let out = run(&["run", "-u", &s.url, "--arrival", "poisson"]);
    assert_eq!(out.status.code(), Some(2), "--arrival needs --rate");
}

#[test]
fn a_grpo_group_starts_together_and_steps_in_lockstep() {
    let s = Server::start(&[]);
    // Each session's total latency, by request id.
    let totals = |extra: &[&str], name: &str| -> Vec<f64> {
        let dir = out_dir(name);
        let mut args = vec![
            "run",
            "-u",
            &s.url,
            "-n",
            "8",
            "-w",
            "0",
            "--steps",
            "3",
            "--think",
            "0..0.3",
            "--seed",
            "3",
            "-o",
            dir.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        run_ok(&args);
        let mut lines = raw_lines(&dir);
        assert!(lines.iter().all(|l| l["success"] == true), "{name}");
        lines.sort_by_key(|l| l["request_id"].as_u64().unwrap());
        lines
            .iter()
            .map(|l| l["total_latency"].as_f64().unwrap())
            .collect()
    };
    let spread = |v: &[f64]| {
        v.iter().cloned().fold(f64::MIN, f64::max) - v.iter().cloned().fold(f64::MAX, f64::min)
    };
    // Alone, each session thinks its own three draws.
    let alone = totals(&[], "group-none");
    assert!(spread(&alone) > 0.15, "{alone:?}");
    // In groups of 4, every member waits for the slowest think at each
    // step: a group ends together.
    let grouped = totals(&["--group", "4"], "group-4");
    for g in grouped.chunks(4) {
        assert!(spread(g) < 0.05, "a group ends together: {grouped:?}");
    }
    // On a schedule a group arrives as one: gaps of 0 within, 4/R between.
    let dir = out_dir("group-rate");
    run_ok(&[
        "run",
        "-u",
        &s.url,
        "--rate",
        "40",
        "--duration",
        "0.4",
        "-w",
        "0",
        "--group",
        "4",
        "-o",
        dir.to_str().unwrap(),
    ]);
    let gaps = &run_json(&dir)["phases"][0]["inter_arrival"];
    assert_eq!(gaps["p50"], 0.0, "{gaps}");
    assert!((gaps["p99"].as_f64().unwrap() - 0.1).abs() < 1e-6, "{gaps}");
    assert_eq!(run_json(&dir)["plan"]["workload"]["group"], 4);
    let out = run(&[
        "run",
        "-u",
        &s.url,
        "--rate",
        "40",
        "--duration",
        "1",
        "--max-in-flight",
        "2",
        "--group",
        "4",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a bound below a group: {:?}",
        text(&out)
    );
}
