//! Bad input exits with code 2 and a message naming the input, before any
//! load is sent.

mod support;

fn expect_usage_error(args: &[&str], needles: &[&str]) {
    let out = support::run(args);
    let (_, stderr) = support::text(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    for n in needles {
        assert!(
            stderr.contains(n),
            "{args:?}: stderr lacks {n:?}:\n{stderr}"
        );
    }
}

#[test]
fn zero_sessions() {
    expect_usage_error(&["run", "-n", "0"], &["'0'", "--requests"]);
}

#[test]
fn negative_or_nan_wait() {
    expect_usage_error(&["run", "-w", "-1"], &["'-1'", "--wait"]);
    expect_usage_error(&["run", "-w", "NaN"], &["'NaN'", "--wait"]);
    expect_usage_error(&["run", "--wait-grid", "0.1,-2"], &["'-2'", "--wait-grid"]);
}

#[test]
fn malformed_grids() {
    expect_usage_error(
        &["run", "--requests-grid", "1,,2"],
        &["'1,,2'", "empty", "--requests-grid"],
    );
    expect_usage_error(
        &["run", "--requests-grid", "a"],
        &["'a'", "--requests-grid"],
    );
    expect_usage_error(
        &["run", "--requests-grid", "-3"],
        &["'-3'", "--requests-grid"],
    );
    expect_usage_error(&["run", "--batch-size-grid", "4,0"], &["'0'"]);
}

#[test]
fn unknown_mode() {
    expect_usage_error(&["run", "--mode", "grpc"], &["'grpc'", "--mode"]);
}

#[test]
fn urls_without_or_with_unsupported_scheme() {
    expect_usage_error(
        &["run", "--url", "localhost:8000"],
        &["localhost:8000", "no scheme"],
    );
    expect_usage_error(
        &["run", "--url", "ftp://h:21"],
        &["ftp://h:21", "unsupported scheme"],
    );
    expect_usage_error(&["run", "--urls", "http://a:1,gopher://b"], &["gopher://b"]);
}

#[test]
fn unwritable_output_dir() {
    expect_usage_error(
        &["run", "-n", "1", "-w", "0", "-o", "/etc/hostname/results"],
        &["--output-dir", "/etc/hostname/results"],
    );
}

#[test]
fn require_hosts_needs_expected_hosts() {
    expect_usage_error(&["run", "--require-hosts"], &["--expected-hosts"]);
}

#[test]
fn bad_timeout() {
    expect_usage_error(&["run", "-t", "0"], &["'0'", "--timeout"]);
}
