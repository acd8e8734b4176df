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

#[test]
fn sessions_that_do_not_pong_are_dropped_by_a_server_that_pings() {
    // The server pings every 0.2 s and drops a session whose ping is still
    // unanswered at the next one (1011), as uvicorn's websockets does.
    let s = Server::start(&["--ping-interval", "0.2"]);
    let lines = |extra: &[&str], name: &str| {
        let dir = out_dir(name);
        let mut args = vec![
            "run",
            "-u",
            &s.url,
            "-n",
            "4",
            "-w",
            "0",
            "--steps",
            "2",
            "--think",
            "1",
            "--ping-interval",
            "0",
            "--seed",
            "1",
            "-o",
            dir.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        run_ok(&args);
        raw_lines(&dir)
    };
    // Sessions that read while they think answer every ping.
    assert!(lines(&[], "nopong-none")
        .iter()
        .all(|l| l["success"] == true));
    // Deaf ones (a busy event loop) are dropped mid-think.
    let before = counters(&s.url);
    for l in lines(&["--no-pong", "1"], "nopong-all") {
        assert_eq!(l["error_type"], "UnexpectedClose", "{l}");
    }
    // The server sent pings these sessions never answered.
    let after = counters(&s.url);
    let delta = |k: &str| after[k].as_u64().unwrap() - before[k].as_u64().unwrap();
    assert!(
        delta("pings_sent") >= 4 && delta("pongs_received") < delta("pings_sent"),
        "{before} -> {after}"
    );
    let some = lines(&["--no-pong", "0.5"], "nopong-half");
    let dropped = some.iter().filter(|l| l["success"] != true).count();
    assert!(
        (1..4).contains(&dropped),
        "seed 1 makes two of four deaf: {some:?}"
    );
}
