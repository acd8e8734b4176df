//! envload against a hostile server: every misbehaviour ends as its own
//! failure class, on time (`-t 1`, `--close-timeout 1`) and in bounded
//! memory, whatever the server sends. Each case runs the real `envload`
//! process and checks its exit, wall time and peak RSS.

use crate::support;

use std::time::Duration;

use support::hostile::{Hostile, HostileServer};

/// Sessions per case: enough that an unbounded body would show in memory.
const N: usize = 16;
/// envload's own footprint here is ~24 MiB; 16 sessions at the 1 MiB cap
/// add at most 16 MiB more, plus buffers (42 MiB seen for endless bodies).
/// An unbounded reader took 1.1–2.9 GiB.
const PEAK_RSS_KIB: i64 = 96 * 1024;
/// `-t 1` plus start-up: a deadline that held.
const WALL: Duration = Duration::from_secs(8);

fn case(how: Hostile, mode: &str, error_type: &str, needle: &str) {
    let server = HostileServer::start(how);
    let dir = support::out_dir(&format!("hostile-{how:?}"));
    let n = N.to_string();
    let mut args = vec![
        "run",
        "--url",
        &server.url,
        "--mode",
        mode,
        "-n",
        &n,
        "-w",
        "0",
        "-t",
        "1",
        "-o",
        dir.to_str().unwrap(),
    ];
    if how == Hostile::NeverEndingClose {
        args.extend(["--close-timeout", "1"]);
    }
    let m = support::run_measured(&args, 3 * WALL);
    let what = format!(
        "{how:?} ({mode})\nstdout:\n{}\nstderr:\n{}",
        m.stdout, m.stderr
    );
    assert!(
        m.wall < WALL,
        "{how:?}: took {:?} (bound {WALL:?}; killed after {:?})",
        m.wall,
        3 * WALL
    );
    assert_eq!(m.code, Some(0), "{what}");
    assert!(
        m.peak_rss_kib < PEAK_RSS_KIB,
        "{how:?}: peak RSS {} KiB (bound {PEAK_RSS_KIB} KiB)",
        m.peak_rss_kib
    );
    let rows = support::raw_lines(&dir);
    assert_eq!(rows.len(), N, "{what}");
    for r in &rows {
        assert_eq!(r["success"], false, "{how:?}: {r}");
        assert_eq!(r["error_type"], error_type, "{how:?}: {r}");
        let msg = r["error_message"].as_str().unwrap();
        assert!(msg.contains(needle), "{how:?}: {msg:?} lacks {needle:?}");
    }
    let run = support::run_json(&dir);
    assert_eq!(run["status"], "complete", "{how:?}");
    let _ = std::fs::remove_dir_all(dir);
    eprintln!(
        "{how:?}: {error_type} in {:.2} s, peak RSS {} KiB",
        m.wall.as_secs_f64(),
        m.peak_rss_kib
    );
}

#[test]
fn silent_accept_is_a_handshake_timeout() {
    case(
        Hostile::SilentAccept,
        "ws",
        "HandshakeTimeout",
        "within 1.0s",
    );
}

#[test]
fn a_handshake_trickling_forever_is_a_handshake_timeout() {
    case(
        Hostile::SlowHandshake,
        "ws",
        "HandshakeTimeout",
        "within 1.0s",
    );
}

#[test]
fn a_wrong_accept_key_is_a_malformed_response() {
    case(Hostile::WrongAcceptKey, "ws", "MalformedResponse", "ccept");
}

#[test]
fn rst_at_each_stage_is_an_unexpected_close() {
    case(
        Hostile::RstOnAccept,
        "ws",
        "UnexpectedClose",
        "dropped the connection",
    );
    case(Hostile::RstOnReset, "ws", "UnexpectedClose", "reset");
    case(Hostile::RstOnStep, "ws", "UnexpectedClose", "step");
}

#[test]
fn pings_do_not_extend_the_step_deadline() {
    case(
        Hostile::PingFloodHungStep,
        "ws",
        "ReadTimeout",
        "no reply to step",
    );
}

#[test]
fn pongs_do_not_extend_the_step_deadline() {
    case(
        Hostile::PongFloodHungStep,
        "ws",
        "ReadTimeout",
        "no reply to step",
    );
}

#[test]
fn non_json_is_a_malformed_response() {
    case(Hostile::NonJson, "ws", "MalformedResponse", "not JSON");
}

#[test]
fn oversized_and_endless_frames_are_refused_at_the_cap() {
    case(
        Hostile::OversizedMessage,
        "ws",
        "MalformedResponse",
        "--max-message-size",
    );
    case(
        Hostile::EndlessFrame,
        "ws",
        "MalformedResponse",
        "--max-message-size",
    );
}

#[test]
fn wrong_types_are_malformed_in_both_modes() {
    case(
        Hostile::WrongTypes,
        "ws",
        "MalformedResponse",
        "\"pid\" must be an integer",
    );
    case(
        Hostile::HttpWrongTypes,
        "http",
        "MalformedResponse",
        "\"pid\" must be an integer",
    );
    case(
        Hostile::NullObservation,
        "ws",
        "MalformedResponse",
        "\"observation\" must be an object",
    );
    case(
        Hostile::HttpNoObservation,
        "http",
        "MalformedResponse",
        "no \"observation\"",
    );
}

#[test]
fn error_frames_are_server_errors() {
    case(Hostile::ErrorFrame, "ws", "ServerError", "EXECUTION_ERROR");
}

#[test]
fn a_close_never_finished_is_a_close_timeout_not_a_slow_step() {
    case(
        Hostile::NeverEndingClose,
        "ws",
        "CloseTimeout",
        "--close-timeout",
    );
}

#[test]
fn endless_and_huge_http_bodies_are_refused_at_the_cap() {
    case(
        Hostile::EndlessChunkedBody,
        "http",
        "MalformedResponse",
        "too large",
    );
    case(
        Hostile::HugeBody,
        "http",
        "MalformedResponse",
        "Content-Length 100000000",
    );
}

#[test]
fn replies_that_are_not_http_are_malformed() {
    case(Hostile::NotHttp, "http", "MalformedResponse", "valid HTTP");
    case(
        Hostile::OversizedHeaders,
        "http",
        "MalformedResponse",
        "valid HTTP",
    );
}

/// The other half of "deadlines are deadlines": pings are still answered
/// while a step is pending, so a step longer than the server's ping interval
/// succeeds (a server that gets no pong drops the client).
#[test]
fn pings_are_answered_during_a_step_longer_than_the_ping_interval() {
    let server = HostileServer::start(Hostile::PingsDuringALongStep);
    let dir = support::out_dir("hostile-long-step");
    let m = support::run_measured(
        &[
            "run",
            "--url",
            &server.url,
            "-n",
            "4",
            "-w",
            "0",
            "-t",
            "3",
            "-o",
            dir.to_str().unwrap(),
        ],
        3 * WALL,
    );
    assert_eq!(m.code, Some(0), "{}\n{}", m.stdout, m.stderr);
    for r in support::raw_lines(&dir) {
        assert_eq!(r["success"], true, "{r}");
        let step = r["step_latency"].as_f64().unwrap();
        assert!(step >= 1.4, "the step took the server's 1.5 s: {r}");
    }
    let _ = std::fs::remove_dir_all(dir);
}
