//! The result files' contract with users' scripts: the reference's exact
//! `summary.csv` header and `raw.jsonl` keys in order, number formats,
//! appending, failed-session rows, and re-mergeable histograms.

use crate::support;

use envload_coordinator::RAW_JSONL_KEYS as KEYS;
use envload_coordinator::SUMMARY_COLUMNS as COLUMNS;
use support::{csv_rows, out_dir, raw_lines, run, Server};

const REFERENCE_HEADER: &str = "mode,url,num_requests,batch_size,wait_seconds,repetition,timestamp,hardware,successful,failed,error_rate,total_wall_time,connect_p50,connect_p95,connect_p99,reset_p50,reset_p95,reset_p99,step_p50,step_p95,step_p99,total_min,total_max,total_avg,total_p50,total_p90,total_p95,total_p99,requests_per_second,effective_concurrency,unique_pids,unique_sessions,unique_hosts";

/// envload's own stages, after the reference's columns.
const EXTRA_COLUMNS: &str = "state_p50,state_p95,state_p99,mcp_p50,mcp_p95,mcp_p99";

const REFERENCE_KEYS: [&str; 17] = [
    "request_id",
    "mode",
    "timestamp",
    "wait_requested",
    "batch_size",
    "hardware",
    "connect_latency",
    "reset_latency",
    "step_latency",
    "total_latency",
    "waited_seconds",
    "pid",
    "session_hash",
    "host_url",
    "success",
    "error_type",
    "error_message",
];

const INT_COLUMNS: [&str; 8] = [
    "num_requests",
    "batch_size",
    "repetition",
    "successful",
    "failed",
    "unique_pids",
    "unique_sessions",
    "unique_hosts",
];
const TEXT_COLUMNS: [&str; 4] = ["mode", "url", "timestamp", "hardware"];

fn run_into(dir: &std::path::Path, url: &str, extra: &[&str]) {
    let mut args = vec!["run", "-u", url, "-o", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = run(&args);
    assert!(out.status.success(), "{:?}", support::text(&out));
}

#[test]
fn summary_header_is_the_references_and_written_once() {
    let header = format!("{REFERENCE_HEADER},{EXTRA_COLUMNS}");
    assert_eq!(COLUMNS.join(","), header);
    let s = Server::start(&[]);
    let dir = out_dir("contract-header");
    run_into(&dir, &s.url, &["-n", "3", "-w", "0"]);
    run_into(&dir, &s.url, &["-n", "4", "-w", "0", "-m", "http"]);
    let text = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    assert!(
        text.starts_with(&format!("{header}\r\n")),
        "CRLF rows like Python's csv module"
    );
    assert_eq!(
        text.matches("mode,url,").count(),
        1,
        "header written once when appending"
    );
    assert_eq!(csv_rows(&dir).len(), 3);
    assert_eq!(raw_lines(&dir).len(), 7, "raw.jsonl appended too");
}

/// A folder whose summary.csv was written with the reference's 33 columns
/// (by the reference tool, or an envload before state_*/mcp_*) keeps its
/// header: appended rows carry those 33 fields, so every row still reads.
#[test]
fn a_reference_shaped_summary_keeps_its_columns_when_appended_to() {
    let s = Server::start(&[]);
    let dir = out_dir("contract-old-header");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("summary.csv"), format!("{REFERENCE_HEADER}\r\n")).unwrap();
    run_into(&dir, &s.url, &["-n", "2", "-w", "0", "--state-every", "1"]);
    let rows = csv_rows(&dir);
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.len() == 33), "{rows:?}");
}

#[test]
fn numbers_keep_their_kind() {
    let s = Server::start(&[]);
    let dir = out_dir("contract-numbers");
    run_into(&dir, &s.url, &["-n", "5", "-w", "0"]);
    let rows = csv_rows(&dir);
    for (name, value) in rows[0].iter().zip(&rows[1]) {
        if INT_COLUMNS.contains(&name.as_str()) {
            assert!(
                value.parse::<u64>().is_ok(),
                "{name}={value} must be an integer"
            );
        } else if EXTRA_COLUMNS.split(',').any(|c| c == name) {
            assert!(
                value.is_empty(),
                "{name}={value}: no state or MCP call was sent"
            );
        } else if !TEXT_COLUMNS.contains(&name.as_str()) {
            assert!(
                value.contains('.') && !value.contains(['e', 'E']),
                "{name}={value} must be a plain float"
            );
            assert!(value.parse::<f64>().is_ok(), "{name}={value}");
        }
    }
    let ts = support::col(&rows[0], &rows[1], "timestamp");
    assert!(
        ts.ends_with('Z') && ts.len() == "2026-01-01T00:00:00.000000Z".len(),
        "{ts}"
    );
}

#[test]
fn raw_lines_have_the_reference_keys_in_order() {
    assert_eq!(KEYS, REFERENCE_KEYS);
    let s = Server::start(&[]);
    let dir = out_dir("contract-raw");
    run_into(&dir, &s.url, &["-n", "3", "-w", "0"]);
    let text = std::fs::read_to_string(dir.join("raw.jsonl")).unwrap();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v.as_object().unwrap().len(), REFERENCE_KEYS.len(), "{line}");
        let positions: Vec<usize> = REFERENCE_KEYS
            .iter()
            .map(|k| line.find(&format!("\"{k}\": ")).unwrap())
            .collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "keys out of order: {line}"
        );
        assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
        assert!(v["pid"].is_u64() && v["batch_size"].is_u64() && v["request_id"].is_u64());
        assert!(v["total_latency"].is_f64() && v["wait_requested"].is_f64());
    }
}

#[test]
fn failed_sessions_keep_total_and_zero_the_rest() {
    let port = support::free_port();
    let dir = out_dir("contract-failed");
    let url = format!("http://127.0.0.1:{port}");
    run_into(&dir, &url, &["-n", "2", "-w", "0", "-t", "2"]);
    for l in raw_lines(&dir) {
        assert_eq!(l["success"], false);
        assert_eq!(l["error_type"], "ConnectionRefused");
        assert!(l["error_message"]
            .as_str()
            .unwrap()
            .contains(&port.to_string()));
        for k in [
            "connect_latency",
            "reset_latency",
            "step_latency",
            "waited_seconds",
        ] {
            assert_eq!(l[k].as_f64(), Some(0.0), "{k}");
        }
        assert_eq!(
            (
                l["pid"].as_u64(),
                l["session_hash"].as_str(),
                l["host_url"].as_str()
            ),
            (Some(0), Some(""), Some(""))
        );
        assert!(l["total_latency"].as_f64().unwrap() > 0.0);
    }
    let rows = csv_rows(&dir);
    let h = &rows[0];
    assert_eq!(support::col(h, &rows[1], "error_rate"), "1.0");
    assert_eq!(
        support::col(h, &rows[1], "total_p99"),
        "0.0",
        "no successes → zeros"
    );
}

#[test]
fn histograms_re_merge_to_the_summary() {
    let s = Server::start(&[]);
    let dir = out_dir("contract-hist");
    run_into(&dir, &s.url, &["-n", "40", "-w", "0.05"]);
    let line: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(dir.join("histograms.jsonl"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(line["total"].as_str().unwrap())
        .unwrap();
    let h = envload_proto::histogram::decode(&bytes).unwrap();
    assert_eq!(h.len(), 40);
    let rows = csv_rows(&dir);
    let p99: f64 = support::col(&rows[0], &rows[1], "total_p99")
        .parse()
        .unwrap();
    // The summary's p99 is the reference's percentile (numpy's linear
    // interpolation) of the raw samples, within the histogram's precision;
    // the histogram written holds the same samples.
    let samples: Vec<f64> = support::raw_lines(&dir)
        .iter()
        .map(|l| l["total_latency"].as_f64().unwrap())
        .collect();
    let want = support::numpy_percentile(&samples, 0.99);
    assert!((p99 - want).abs() <= want * 0.001 + 2e-6, "{p99} vs {want}");
    let in_hist = h.value_at_quantile(0.99) as f64 / 1e6;
    assert!(
        (in_hist - samples.iter().cloned().fold(0.0, f64::max)).abs() <= in_hist * 0.001 + 2e-6
    );
}

#[test]
fn help_lists_every_reference_flag() {
    let out = run(&["run", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--url",
        "--urls",
        "--timeout",
        "--requests",
        "--batch-size",
        "--wait",
        "--mode",
        "--requests-grid",
        "--batch-size-grid",
        "--wait-grid",
        "--reps",
        "--compare",
        "--hardware",
        "--expected-hosts",
        "--require-hosts",
        "--output-dir",
        "--verbose",
        "--infrastructure",
        "-u,",
        "-t,",
        "-n,",
        "-w,",
        "-m,",
        "-o,",
        "-v,",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
}
