//! HTTP sessions as a trainer's client holds them: one keep-alive
//! connection per session for all its requests, counted from the other end
//! (`envload serve`'s accepted connections), and sessions that carry on
//! when the server closes connections — after every reply, after an idle
//! spell while the session thinks — or answers in chunks behind a
//! `100 Continue`.

use crate::support;

use support::hostile::{Hostile, HostileServer};
use support::Server;

/// Connections `server` accepted, not counting the one asking.
fn connections(server: &Server) -> u64 {
    support::counters(&server.url)["connections"]
        .as_u64()
        .expect("envload serve counts connections")
}

/// Runs `args` against `server` and returns (sessions that succeeded,
/// connections the server accepted for them).
fn sessions_and_connections(server: &Server, tag: &str, args: &[&str]) -> (u64, u64) {
    let before = connections(server);
    let dir = support::run_to(tag, &server.url, args);
    // The counters' own connection comes after: one more than the run's.
    let opened = connections(server) - before - 1;
    let ok = support::last_summary(&dir, "successful").parse().unwrap();
    (ok, opened)
}

#[test]
fn an_http_session_holds_one_connection_for_all_its_requests() {
    // A slow reset is when a shared pool opened a second connection: the
    // step went out before the reset's connection was back in the pool.
    let server = Server::start(&["--reset-seconds", "0.05"]);
    // The pool's client opened 1,118 connections for these 1,024 sessions
    // (1,323 for 1,024 rollouts of 4 steps).
    let n = 1024;
    let (ok, opened) = sessions_and_connections(
        &server,
        "http-conns",
        &["-m", "http", "-n", "1024", "-w", "0.5", "-t", "30"],
    );
    assert_eq!(
        (ok, opened),
        (n, n),
        "successful, connections for {n} sessions"
    );
    // Rollouts: 2 episodes of 3 steps with a state after each, 14
    // requests on one connection.
    let (ok, opened) = sessions_and_connections(
        &server,
        "http-conns-rollout",
        &[
            "-m",
            "http",
            "-n",
            "256",
            "-w",
            "0.05",
            "--steps",
            "3",
            "--episodes",
            "2",
            "--state-every",
            "1",
        ],
    );
    assert_eq!((ok, opened), (256, 256), "rollouts");
    let (ok, opened) = sessions_and_connections(
        &server,
        "http-conns-mcp",
        &["-m", "mcp-http", "-n", "32", "-w", "0.01", "--steps", "3"],
    );
    assert_eq!((ok, opened), (32, 32), "HTTP MCP sessions");
}

/// Every session of `run` against `how` succeeds.
fn all_succeed(how: Hostile, extra: &[&str]) {
    let server = HostileServer::start(how);
    let mut args = vec!["-m", "http", "-n", "8", "-w", "0", "-t", "5"];
    args.extend_from_slice(extra);
    let dir = support::run_to(&format!("http-quirk-{how:?}"), &server.url, &args);
    assert_eq!(
        support::last_summary(&dir, "successful"),
        "8",
        "{how:?}: {:?}",
        support::error_types(&dir)
    );
}

#[test]
fn sessions_carry_on_when_the_server_closes_their_connection() {
    all_succeed(Hostile::HttpCloseEachReply, &["--steps", "3"]);
    // Idle past the server's keep-alive while thinking: the closed
    // connection is seen and replaced before the next step.
    all_succeed(Hostile::HttpIdleClose, &["--steps", "3", "--think", "0.5"]);
}

#[test]
fn chunked_replies_behind_a_100_continue_are_read_whole() {
    all_succeed(Hostile::HttpChunkedReplies, &["--steps", "2"]);
}
