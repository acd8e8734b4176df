//! Client faults and slot leaks: `--abort FRACTION[@stage]` makes sessions
//! vanish without a close frame (RST, or FIN with `--abort-mode fin`), as a
//! trainer's crashed worker does, and `--leak-probe M` then asks a server of
//! capacity M for M sessions: one that kept the vanished sessions' slots
//! (`envload serve --inject-slot-leak`, the stall OpenEnv's PR #1000 fixed)
//! is caught, one that freed them is not.

use crate::support::{
    json_file, out_dir, out_file, raw_lines, run, run_json, run_ok, text, Server,
};

/// `envload run` with `args` into a fresh folder; its run.json and raw lines.
fn faulty(name: &str, args: &[&str]) -> (serde_json::Value, Vec<serde_json::Value>, String) {
    let dir = out_dir(name);
    let mut all = vec!["run", "-o", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = run(&all);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    (run_json(&dir), raw_lines(&dir), stdout)
}

#[test]
fn a_server_that_frees_vanished_sessions_slots_shows_no_leak() {
    let s = Server::start(&["--max-concurrent-envs", "4"]);
    let summary = out_file("faults-summary", "json");
    let (doc, lines, stdout) = faulty(
        "faults-free",
        &[
            "-u",
            &s.url,
            "-n",
            "4",
            "-w",
            "0.2",
            "--abort",
            "0.5@step",
            "--seed",
            "1",
            "--leak-probe",
            "4",
            "--summary-json",
            summary.to_str().unwrap(),
        ],
    );
    let aborted = lines
        .iter()
        .filter(|l| l["error_type"] == "Aborted")
        .count();
    assert!((1..4).contains(&aborted), "seed 1 aborts some: {lines:?}");
    assert!(lines
        .iter()
        .all(|l| l["success"] == true || l["error_type"] == "Aborted"));
    let probe = &doc["phases"][0]["leak_probe"];
    assert_eq!(probe["sessions"], 4, "{probe}");
    assert_eq!(probe["leaked_slots"], 0, "{probe}");
    assert_eq!(json_file(&summary)["phases"][0]["leaked_slots"], 0);
    assert!(stdout.contains("leak probe: 4/4"), "{stdout}");
}

#[test]
fn a_server_that_keeps_vanished_sessions_slots_is_caught_rst_or_fin() {
    for mode in ["rst", "fin"] {
        let s = Server::start(&["--max-concurrent-envs", "4", "--inject-slot-leak"]);
        let (doc, lines, stdout) = faulty(
            "faults-leak",
            &[
                "-u",
                &s.url,
                "-n",
                "2",
                "-w",
                "0.1",
                "--abort",
                "1",
                "--abort-mode",
                mode,
                "--leak-probe",
                "4",
            ],
        );
        assert!(lines.iter().all(|l| l["error_type"] == "Aborted"), "{mode}");
        let msg = lines[0]["error_message"].as_str().unwrap();
        assert!(
            msg.contains(&mode.to_uppercase()) && msg.contains("step"),
            "{msg}"
        );
        let probe = &doc["phases"][0]["leak_probe"];
        assert_eq!(probe["leaked_slots"], 2, "{mode}: {probe}");
        assert_eq!(probe["errors"]["CapacityReached"], 2, "{mode}: {probe}");
        assert!(stdout.contains("leaked_slots 2"), "{stdout}");
    }
}

#[test]
fn sessions_vanish_at_the_stage_asked_for() {
    let s = Server::start(&[]);
    for stage in ["reset", "think", "step"] {
        let spec = format!("1@{stage}");
        let (_, lines, _) = faulty(
            "faults-stage",
            &["-u", &s.url, "-n", "2", "-w", "0", "--abort", &spec],
        );
        for l in &lines {
            assert_eq!(l["error_type"], "Aborted", "{l}");
            let msg = l["error_message"].as_str().unwrap();
            assert!(msg.contains(&format!("at {stage}")), "{msg}");
        }
        // A rollout session vanishes in its first episode too.
        let (_, lines, _) = faulty(
            "faults-stage-rollout",
            &[
                "-u",
                &s.url,
                "-n",
                "2",
                "-w",
                "0",
                "--steps",
                "2",
                "--episodes",
                "2",
                "--abort",
                &spec,
            ],
        );
        assert!(
            lines.iter().all(|l| l["error_type"] == "Aborted"),
            "{stage}: {lines:?}"
        );
    }
}

#[test]
fn bad_fault_flags_are_refused_before_anything_runs() {
    for args in [
        &["--abort", "0"][..],
        &["--abort", "1.5"][..],
        &["--abort", "0.5@nowhere"][..],
        &["--abort", "0.5", "--mode", "http"][..],
        &["--abort-mode", "fin"][..],
        &["--leak-probe", "0"][..],
    ] {
        let mut all = vec!["run", "-u", "http://127.0.0.1:9"];
        all.extend_from_slice(args);
        let out = run(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {:?}", text(&out));
    }
}

#[test]
fn the_report_tabulates_what_the_leak_probes_found() {
    let s = Server::start(&["--max-concurrent-envs", "4", "--inject-slot-leak"]);
    let dir = out_dir("faults-report");
    let report = out_dir("faults-report-out");
    let d = dir.to_str().unwrap();
    run_ok(&[
        "run",
        "-u",
        &s.url,
        "-n",
        "2",
        "-w",
        "0.1",
        "--abort",
        "1",
        "--leak-probe",
        "4",
        "-o",
        d,
    ]);
    run_ok(&["report", d, "--out", report.to_str().unwrap()]);
    let md = std::fs::read_to_string(report.join("tables.md")).unwrap();
    assert!(md.contains("## Leak probes"), "{md}");
    assert!(md.contains("| 1 | ws | 2 | 4 | 2 | 2 |"), "{md}");
}
