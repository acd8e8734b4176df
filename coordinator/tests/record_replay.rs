//! Record and replay: a real client no one here wrote — the OpenEnv Python
//! client (openenv 0.10.0's `GenericEnvClient`) playing 3 episodes of
//! deploy/local's text game — goes through `envload record`; its trace is
//! replayed 256 sessions wide against the same server, through a second
//! recorder whose trace shows the server got the same messages in the same
//! order per session. The same trace replays against another server
//! (`envload serve`), a `/mcp` trace too, and replies that no longer
//! validate fail with the usual error types.

use std::path::Path;
use std::time::Duration;

use crate::support;
use crate::uvicorn::{venv, Uvicorn};

use support::procs::Proc;
use support::{error_types, free_port, last_summary, out_dir, refused, run_to, Server};

/// `envload record` in front of `upstream`, writing `trace`; its URL.
fn recorder(upstream: &str, trace: &Path) -> (Proc, String) {
    recorder_with(upstream, trace, &[])
}

/// [`recorder`] with more flags.
fn recorder_with(upstream: &str, trace: &Path, extra: &[&str]) -> (Proc, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let out = trace.to_str().unwrap();
    let mut args = vec![
        "record",
        "--listen",
        &listen,
        "--upstream",
        upstream,
        "-o",
        out,
    ];
    args.extend_from_slice(extra);
    let mut p = Proc::spawn(&args, &[]);
    p.wait_line("envload record: listening", Duration::from_secs(30));
    (p, format!("http://{listen}"))
}

/// The client messages' kinds of each session of `trace`, in order.
fn kinds(trace: &Path) -> Vec<Vec<String>> {
    let t = envload_agent::trace::read(trace).unwrap();
    t.sessions()
        .into_iter()
        .map(|s| {
            t.session(s)
                .into_iter()
                .filter(|e| {
                    e.dir == envload_agent::trace::Dir::Client
                        && e.kind != "open"
                        && e.kind != "end"
                })
                .map(|e| e.kind.clone())
                .collect()
        })
        .collect()
}

const CLIENT: &str = "import sys\n\
from openenv.core.generic_client import GenericEnvClient\n\
env = GenericEnvClient(base_url=sys.argv[1]).sync()\n\
with env:\n\
\x20   for ep in range(3):\n\
\x20       env.reset()\n\
\x20       for turn in range(4):\n\
\x20           env.step({'message': f'episode {ep} turn {turn}'})\n\
\x20       env.state()\n";

#[test]
fn a_real_client_recorded_then_replayed_256_wide() {
    let py = venv("openenv==0.10.0");
    let game = Uvicorn::start_app(&py, "text_game_env:app", 1, 300);
    let dir = out_dir("rr-python");
    std::fs::create_dir_all(&*dir).unwrap();
    let trace = dir.join("trace.jsonl");
    let (mut rec, url) = recorder(&game.url, &trace);
    let out = std::process::Command::new(py.join("bin/python"))
        .args(["-c", CLIENT, &url])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    rec.signal(libc::SIGTERM);
    rec.finish(Duration::from_secs(10));
    let recorded = kinds(&trace);
    let mut want: Vec<String> = Vec::new();
    for _ in 0..3 {
        want.push("reset".into());
        want.extend(std::iter::repeat_n("step".to_string(), 4));
        want.push("state".into());
    }
    want.push("close".into());
    assert_eq!(
        recorded,
        vec![want.clone()],
        "one session, as the client sent it"
    );
    let text = std::fs::read_to_string(&trace).unwrap();
    assert!(
        text.contains("\"headers\":[") && !text.contains("python-websockets/"),
        "header names only"
    );

    // 256 replays through a second recorder: the server gets the same.
    let again = dir.join("replayed.jsonl");
    let (mut rec2, url2) = recorder(&game.url, &again);
    let t = trace.to_str().unwrap();
    let res = run_to(
        "rr-replay",
        &url2,
        &["--replay", t, "-n", "256", "-t", "60"],
    );
    assert_eq!(last_summary(&res, "successful"), "256");
    rec2.signal(libc::SIGTERM);
    rec2.finish(Duration::from_secs(10));
    let replayed = kinds(&again);
    assert_eq!(replayed.len(), 256);
    assert!(
        replayed.iter().all(|k| *k == want),
        "{:?}",
        replayed.iter().find(|k| **k != want)
    );
    // Per recorded message index: 12 steps and 3 states of each session.
    let steps = support::csv_file(&res, "steps.csv");
    let count = |c: &str| -> u64 {
        steps[1..]
            .iter()
            .map(|r| support::col(&steps[0], r, c).parse::<u64>().unwrap())
            .sum()
    };
    assert_eq!((count("count"), count("state_count")), (256 * 12, 256 * 3));

    // The same trace against another server, over two agents.
    let s = Server::start(&[]);
    let res = run_to(
        "rr-other",
        &s.url,
        &["--replay", t, "-n", "16", "--agents", "2"],
    );
    assert_eq!(last_summary(&res, "successful"), "16");
    let c = support::counters(&s.url);
    assert_eq!(
        (
            c["resets"].as_u64(),
            c["steps"].as_u64(),
            c["states"].as_u64()
        ),
        (Some(48), Some(192), Some(48))
    );
}

/// A trace written by hand in the documented format.
fn trace_file(tag: &str, events: &[&str]) -> support::OutDir {
    let dir = out_dir(tag);
    std::fs::create_dir_all(&*dir).unwrap();
    let mut text = String::from(
        "{\"envload_trace\": 1, \"upstream\": \"http://x:1\", \"recorded_at\": \"x\", \"bodies\": true}\n",
    );
    for e in events {
        text.push_str(e);
        text.push('\n');
    }
    std::fs::write(dir.join("t.jsonl"), text).unwrap();
    dir
}

#[test]
fn traces_replay_against_envload_serve_and_replies_that_no_longer_validate_fail() {
    let s = Server::start(&["--max-concurrent-envs", "64"]);
    let mcp = trace_file(
        "rr-mcp",
        &[
            r#"{"session": 1, "transport": "ws", "path": "/mcp", "dir": "client", "kind": "open", "t": 0}"#,
            r#"{"session": 1, "transport": "ws", "path": "/mcp", "dir": "client", "kind": "jsonrpc", "t": 0.01, "body": {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}}"#,
            r#"{"session": 1, "transport": "ws", "path": "/mcp", "dir": "server", "kind": "jsonrpc", "t": 0.02}"#,
            r#"{"session": 1, "transport": "ws", "path": "/mcp", "dir": "client", "kind": "jsonrpc", "t": 0.12, "body": {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "wait", "arguments": {"seconds": 0.05}}}}"#,
            r#"{"session": 1, "transport": "ws", "path": "/mcp", "dir": "server", "kind": "jsonrpc", "t": 0.18}"#,
        ],
    );
    let t = mcp.join("t.jsonl");
    let res = run_to(
        "rr-mcp-run",
        &s.url,
        &["--replay", t.to_str().unwrap(), "-n", "32"],
    );
    assert_eq!(last_summary(&res, "mode"), "mcp-ws");
    assert_eq!(last_summary(&res, "successful"), "32");
    assert!(last_summary(&res, "mcp_p99").parse::<f64>().unwrap() >= 0.0);
    assert_eq!(support::counters(&s.url)["mcp_calls"].as_u64(), Some(64));

    // An action this server's environment refuses: the usual ServerError.
    let bad = trace_file(
        "rr-bad",
        &[
            r#"{"session": 1, "transport": "ws", "path": "/ws", "dir": "client", "kind": "reset", "t": 0, "body": {"type": "reset", "data": {}}}"#,
            r#"{"session": 1, "transport": "ws", "path": "/ws", "dir": "server", "kind": "observation", "t": 0.01}"#,
            r#"{"session": 1, "transport": "ws", "path": "/ws", "dir": "client", "kind": "step", "t": 0.02, "body": {"type": "step", "data": {"wait_seconds": "soon"}}}"#,
            r#"{"session": 1, "transport": "ws", "path": "/ws", "dir": "server", "kind": "observation", "t": 0.03}"#,
        ],
    );
    let t = bad.join("t.jsonl");
    let res = run_to(
        "rr-bad-run",
        &s.url,
        &["--replay", t.to_str().unwrap(), "-n", "4"],
    );
    assert_eq!(error_types(&res), vec!["ServerError"; 4]);

    // Traces that are not: refused before anything runs, file and line named.
    let broken = trace_file("rr-broken", &["{\"session\": 1}"]);
    let t = broken.join("t.jsonl");
    let err = refused(&["run", "-u", &s.url, "--replay", t.to_str().unwrap()]);
    assert!(err.contains("t.jsonl line 2"), "{err}");
    let t = mcp.join("t.jsonl");
    let err = refused(&[
        "run",
        "-u",
        &s.url,
        "--replay",
        t.to_str().unwrap(),
        "-m",
        "http",
    ]);
    assert!(
        err.contains("mcp-ws") && err.contains("drop --mode"),
        "{err}"
    );
}

#[test]
fn http_sessions_are_recorded_request_by_request_and_replay_from_a_scenario() {
    let s = Server::start(&[]);
    let dir = out_dir("rr-http");
    std::fs::create_dir_all(&*dir).unwrap();
    let trace = dir.join("trace.jsonl");
    let (mut rec, url) = recorder(&s.url, &trace);
    run_to(
        "rr-http-run",
        &url,
        &[
            "-m",
            "http",
            "-n",
            "2",
            "-w",
            "0.05",
            "--steps",
            "2",
            "--state-every",
            "1",
        ],
    );
    rec.signal(libc::SIGTERM);
    rec.finish(Duration::from_secs(10));
    let t = envload_agent::trace::read(&trace).unwrap();
    let requests: Vec<String> = t
        .events
        .iter()
        .filter(|e| e.kind == "request")
        .map(|e| format!("{} {}", e.method.as_deref().unwrap_or(""), e.path))
        .collect();
    assert_eq!(requests.len(), 2 * 5, "{requests:?}");
    for want in ["POST /reset", "POST /step", "GET /state"] {
        assert!(requests.iter().any(|r| r == want), "{want}: {requests:?}");
    }
    assert!(t
        .events
        .iter()
        .filter(|e| e.kind == "response")
        .all(|e| e.status == Some(200)));
    // From a scenario file, the trace beside it.
    let sc = dir.join("replay.toml");
    std::fs::write(&sc, "replay = \"trace.jsonl\"\nrequests = 6\n").unwrap();
    let res = run_to(
        "rr-http-replay",
        &s.url,
        &["--scenario", sc.to_str().unwrap()],
    );
    assert_eq!(
        (last_summary(&res, "mode"), last_summary(&res, "successful")),
        ("http".to_string(), "6".to_string())
    );
    // Without bodies: sizes and timings only, nothing to replay.
    let sizes = dir.join("sizes.jsonl");
    let (mut rec, url) = recorder_with(&s.url, &sizes, &["--no-bodies"]);
    run_to("rr-http-sizes", &url, &["-n", "1", "-w", "0"]);
    rec.signal(libc::SIGTERM);
    rec.finish(Duration::from_secs(10));
    let t = envload_agent::trace::read(&sizes).unwrap();
    assert!(t.events.iter().all(|e| e.body.is_none()) && t.events.iter().any(|e| e.size > 0));
    let err = refused(&["run", "-u", &s.url, "--replay", sizes.to_str().unwrap()]);
    assert!(err.contains("--no-bodies"), "{err}");
}
