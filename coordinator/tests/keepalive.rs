//! Client keepalive pings (`--ping-interval`, `--ping-timeout`), as Python
//! websockets sends them: answered by the server while the agent thinks and
//! while a slow step runs (its counters show them), off with 0, and a
//! server that never answers one fails the session `PingTimeout` on time.

use std::time::{Duration, Instant};

use crate::support::hostile::{Hostile, HostileServer};
use crate::support::{counters, out_dir, raw_lines, run, run_ok, text, Server};

#[test]
fn pings_during_thinking_and_a_slow_step_are_answered_and_counted() {
    let s = Server::start(&[]);
    let dir = out_dir("keepalive-answered");
    // Each session: reset, then 2 × (0.6 s think + 0.6 s step); a ping every
    // 0.15 s must be answered within 0.3 s, during the step too.
    run_ok(&[
        "run",
        "-u",
        &s.url,
        "-n",
        "3",
        "-w",
        "0.6",
        "--steps",
        "2",
        "--think",
        "0.6",
        "--ping-interval",
        "0.15",
        "--ping-timeout",
        "0.3",
        "-o",
        dir.to_str().unwrap(),
    ]);
    let lines = raw_lines(&dir);
    assert!(
        lines.iter().all(|l| l["success"] == true),
        "{:?}",
        lines.iter().find(|l| l["success"] != true)
    );
    let c = counters(&s.url);
    // ~2.4 s per session at one ping per 0.15 s: well over 8 each.
    let pings = c["pings_received"].as_u64().unwrap();
    assert!(pings >= 3 * 8, "pings the server answered: {pings} ({c})");
}

#[test]
fn a_zero_interval_sends_no_ping() {
    let s = Server::start(&[]);
    let dir = out_dir("keepalive-off");
    run_ok(&[
        "run",
        "-u",
        &s.url,
        "-n",
        "2",
        "-w",
        "0.5",
        "--ping-interval",
        "0",
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(counters(&s.url)["pings_received"], 0);
}

#[test]
fn a_server_that_never_pongs_fails_the_session_with_ping_timeout() {
    let server = HostileServer::start(Hostile::NoPongHungStep);
    let dir = out_dir("keepalive-nopong");
    let t0 = Instant::now();
    let out = run(&[
        "run",
        "-u",
        &server.url,
        "-n",
        "4",
        "-w",
        "0",
        "-t",
        "10",
        "--ping-interval",
        "0.2",
        "--ping-timeout",
        "0.5",
        "-o",
        dir.to_str().unwrap(),
    ]);
    let wall = t0.elapsed();
    assert!(out.status.success(), "{:?}", text(&out));
    let lines = raw_lines(&dir);
    assert_eq!(lines.len(), 4);
    for l in &lines {
        assert_eq!(l["error_type"], "PingTimeout", "{l}");
        assert!(
            l["error_message"]
                .as_str()
                .unwrap()
                .contains("--ping-timeout"),
            "{l}"
        );
    }
    assert!(
        wall < Duration::from_secs(6),
        "failed at the ping timeout, not the 10 s request deadline: {wall:?}"
    );
}
