//! `--slo` and `--summary-json`, the CI habits of k6 and Locust users: a
//! phase that misses the service level is named and the exit code is 1,
//! with every result still written; the JSON document agrees with
//! summary.csv.

use crate::support;

use support::{csv_rows, json_file, out_dir, run, run_json, text};

#[test]
fn a_run_within_its_slo_exits_0_and_the_json_agrees_with_summary_csv() {
    let dir = out_dir("slo-met");
    let json = dir.join("summary-out.json");
    std::fs::create_dir_all(&dir).unwrap();
    let res = run(&[
        "run",
        "--requests-grid",
        "3,5",
        "-w",
        "0.05",
        "--slo",
        "success>=0.95,p99<=30s,step_p50<=10",
        "--summary-json",
        json.to_str().unwrap(),
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(res.status.code(), Some(0), "{:?}", text(&res));
    let doc = json_file(&json);
    assert_eq!(doc["status"], "complete");
    assert_eq!(doc["slo"], "success>=0.95,p99<=30s,step_p50<=10");
    assert_eq!(doc["slo_passed"], true);
    let rows = csv_rows(&dir);
    let col = |row: &[String], name: &str| {
        row[rows[0].iter().position(|h| h == name).unwrap()]
            .parse::<f64>()
            .unwrap()
    };
    let phases = doc["phases"].as_array().unwrap();
    assert_eq!(phases.len(), 2);
    for (p, row) in phases.iter().zip(&rows[1..]) {
        assert_eq!(p["batch_size"].as_f64().unwrap(), col(row, "batch_size"));
        assert_eq!(p["successful"].as_f64().unwrap(), col(row, "successful"));
        assert_eq!(p["slo"]["passed"], true);
        // summary.csv rounds; the document carries the same figure unrounded.
        for (path, column) in [
            ("total/p99", "total_p99"),
            ("step/p50", "step_p50"),
            ("connect/p95", "connect_p95"),
        ] {
            let v = p.pointer(&format!("/{path}")).unwrap().as_f64().unwrap();
            assert!(
                (v - col(row, column)).abs() < 1e-5,
                "{path}: {v} vs {}",
                col(row, column)
            );
        }
    }
}

#[test]
fn a_phase_that_misses_is_named_and_the_exit_code_is_1() {
    let dir = out_dir("slo-missed");
    let res = run(&[
        "run",
        "--requests-grid",
        "2,4",
        "-w",
        "0.3",
        "--slo",
        "p99<=100ms",
        "-o",
        dir.to_str().unwrap(),
    ]);
    let (_, stderr) = text(&res);
    assert_eq!(res.status.code(), Some(1), "{stderr}");
    for n in [2, 4] {
        assert!(
            stderr.contains(&format!(
                "phase {} (ws N={n} wait=0.3s rep=1) missed --slo 'p99<=100ms': total p99 0.3",
                if n == 2 { 1 } else { 2 }
            )),
            "{stderr}"
        );
    }
    assert!(stderr.contains("2 of 2 phase(s) missed it"), "{stderr}");
    assert_eq!(csv_rows(&dir).len(), 3, "every phase's results are kept");
    let doc = run_json(&dir);
    assert_eq!(doc["status"], "complete");
    assert_eq!(doc["warnings"].as_array().unwrap().len(), 2);
}

#[test]
fn failed_sessions_miss_the_success_bound() {
    let dir = out_dir("slo-refused");
    let json = dir.with_extension("json");
    let port = support::free_port();
    let url = format!("ws://127.0.0.1:{port}");
    let res = run(&[
        "run",
        "--url",
        &url,
        "-n",
        "3",
        "-w",
        "0",
        "--slo",
        "success>=95%",
        "--summary-json",
        json.to_str().unwrap(),
        "-o",
        dir.to_str().unwrap(),
    ]);
    let (_, stderr) = text(&res);
    assert_eq!(res.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("success 0.0000 < 0.95"), "{stderr}");
    let doc = json_file(&json);
    let _ = std::fs::remove_file(&json);
    assert_eq!(doc["slo_passed"], false);
    assert_eq!(doc["phases"][0]["errors"]["ConnectionRefused"], 3);
    assert_eq!(
        doc["phases"][0]["slo"]["missed"][0],
        "success 0.0000 < 0.95"
    );
}
