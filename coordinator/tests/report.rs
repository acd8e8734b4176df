//! `envload report` on a fixed results set — one folder written by envload
//! (infrastructure from run.json), one in the reference tool's layout
//! (`results/<infrastructure>/<date>/summary.csv`, no run.json) — against a
//! golden `tables.md`.

mod support;

use std::path::Path;

use support::{out_dir, run, text};

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report")
}

#[test]
fn tables_match_the_golden_file() {
    let out = out_dir("report");
    let f = fixtures();
    let a = f.join("envload-run");
    let b = f.join("reference/hf-spaces/2026-10-01");
    let res = run(&[
        "report",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(res.status.success(), "{:?}", text(&res));
    let got = std::fs::read_to_string(out.join("tables.md")).unwrap();
    let want = std::fs::read_to_string(f.join("tables.golden.md")).unwrap();
    assert_eq!(
        got, want,
        "tables.md differs from tests/fixtures/report/tables.golden.md"
    );
    // The threshold is a parameter: at 99% local-uvicorn's WebSocket maximum
    // drops from 64 (98.4%) to 32.
    let res = run(&[
        "report",
        a.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--success-threshold",
        "0.99",
    ]);
    assert!(res.status.success());
    let strict = std::fs::read_to_string(out.join("tables.md")).unwrap();
    assert!(
        strict.contains("| local-uvicorn | ws | 1.0 | 32 | 100.0% |"),
        "{strict}"
    );
}

#[test]
fn a_folder_without_results_is_named() {
    let empty = out_dir("report-empty");
    std::fs::create_dir_all(&empty).unwrap();
    let res = run(&[
        "report",
        empty.to_str().unwrap(),
        "--out",
        out_dir("report-x").to_str().unwrap(),
    ]);
    assert_eq!(res.status.code(), Some(2));
    assert!(text(&res).1.contains("summary.csv"), "{:?}", text(&res));
}

#[test]
fn the_experiment_log_gets_one_entry_per_folder_once() {
    let f = fixtures();
    let a = f.join("envload-run");
    let b = f.join("reference/hf-spaces/2026-10-01");
    let log = out_dir("report-log").with_extension("md");
    let _ = std::fs::remove_file(&log);
    for _ in 0..2 {
        let res = run(&[
            "report",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--out",
            out_dir("report-log-out").to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
        ]);
        assert!(res.status.success(), "{:?}", text(&res));
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        text.matches("## Run: ").count(),
        2,
        "one entry per folder, not repeated:\n{text}"
    );
    for heading in [
        "### Configuration",
        "### Command",
        "### Results Summary",
        "### Scaling Behavior",
        "### Links",
        "### Observations",
    ] {
        assert_eq!(text.matches(heading).count(), 2, "{heading}");
    }
    assert!(
        text.contains("| local-uvicorn | done | unknown | 64 | 32 |"),
        "{text}"
    );
    assert!(
        text.contains("| hf-spaces | done | unknown | 128 | – |"),
        "{text}"
    );
    assert_eq!(
        text.matches("| local-uvicorn | done").count(),
        1,
        "the Overview row is updated, not added again"
    );
    // Observations start with what the data says: where the SLO is first
    // missed (mean p99 2.0 s ≤ 3.0 s at N=32 for HTTP; N=64 fails on
    // success) and the failures run.json counted.
    assert!(
        text.contains("- http, wait 1.0 s: SLO (success ≥ 95%, total p99 ≤ 3.0 s) first missed at N=64 (success 79.7%, p99 4.100 s); largest N within it: 32"),
        "{text}"
    );
    assert!(
        text.contains("- Failures over the run: CapacityReached ×15, ReadTimeout ×1"),
        "{text}"
    );
}
