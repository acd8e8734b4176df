//! The rest of the OpenEnv protocol as workload steps, against `envload
//! serve` (its counters check the traffic from the other end): `state`
//! over WebSocket and HTTP, MCP over `/mcp` (WebSocket, raw JSON-RPC) and
//! `POST /mcp` sessions (`openenv/session/create` … `close`), each timed as
//! its own stage; capacity refusals (-32000) and HTTP MCP sessions left
//! unclosed. The same against real openenv servers: `protocol_python`.

use crate::support;

use support::{
    col, counters, csv_file, error_types, last_summary, out_dir, refused, run_json, run_ok, run_to,
    Server,
};

/// How many sessions of `dir`'s first phase `--abort` made leave their HTTP
/// MCP session open (some), checked against run.json's unclosed sessions
/// and the slots the leak probe found held.
pub fn unclosed_and_leaked(dir: &std::path::Path) -> u64 {
    let aborted = error_types(dir).iter().filter(|e| *e == "Aborted").count() as u64;
    assert!(aborted > 0, "the seed aborts some");
    let phase = &run_json(dir)["phases"][0];
    assert_eq!(
        phase["unclosed_sessions"].as_u64(),
        Some(aborted),
        "{phase}"
    );
    assert_eq!(
        phase["leak_probe"]["leaked_slots"].as_u64(),
        Some(aborted),
        "{phase}"
    );
    aborted
}

fn seconds(v: &str) -> f64 {
    v.parse()
        .unwrap_or_else(|_| panic!("'{v}' is not a number"))
}

#[test]
fn state_requests_are_their_own_stage_over_websocket_and_http() {
    let s = Server::start(&[]);
    for (mode, tag) in [("ws", "proto-state-ws"), ("http", "proto-state-http")] {
        let dir = run_to(
            tag,
            &s.url,
            &[
                "-m",
                mode,
                "-n",
                "4",
                "-w",
                "0.05",
                "--steps",
                "3",
                "--state-every",
                "1",
            ],
        );
        assert!(seconds(&last_summary(&dir, "state_p50")) > 0.0, "{mode}");
        assert!(
            seconds(&last_summary(&dir, "step_p50")) >= 0.05,
            "{mode}: the step is still timed"
        );
        assert_eq!(
            last_summary(&dir, "mcp_p50"),
            "",
            "{mode}: no MCP call was made"
        );
        let steps = csv_file(&dir, "steps.csv");
        for row in &steps[1..] {
            assert_eq!(col(&steps[0], row, "state_count"), "4", "{mode}: {row:?}");
        }
    }
    let c = counters(&s.url);
    assert_eq!(
        (c["states"].as_u64(), c["steps"].as_u64()),
        (Some(24), Some(24)),
        "{c}"
    );

    // From an actions file: a state request in place of every other step.
    let actions = out_dir("proto-state-actions").join("a.jsonl");
    std::fs::create_dir_all(actions.parent().unwrap()).unwrap();
    std::fs::write(
        &actions,
        "{\"wait_seconds\": {wait}}\n{\"type\": \"state\"}\n",
    )
    .unwrap();
    let dir = run_to(
        "proto-state-lines",
        &s.url,
        &[
            "-n",
            "2",
            "-w",
            "0",
            "--steps",
            "4",
            "--actions",
            actions.to_str().unwrap(),
        ],
    );
    let steps = csv_file(&dir, "steps.csv");
    let counts: Vec<(&str, &str)> = steps[1..]
        .iter()
        .map(|r| (col(&steps[0], r, "count"), col(&steps[0], r, "state_count")))
        .collect();
    assert_eq!(counts, [("2", "0"), ("0", "2"), ("2", "0"), ("0", "2")]);
    let c = counters(&s.url);
    assert_eq!(
        (c["states"].as_u64(), c["steps"].as_u64()),
        (Some(28), Some(28)),
        "{c}"
    );
}

#[test]
fn mcp_sessions_over_websocket_and_http_call_tools_and_close() {
    let s = Server::start(&[]);
    for (mode, tag) in [("mcp-ws", "proto-mcp-ws"), ("mcp-http", "proto-mcp-http")] {
        let dir = run_to(
            tag,
            &s.url,
            &[
                "-m",
                mode,
                "-n",
                "4",
                "-w",
                "0.05",
                "--steps",
                "3",
                "--episodes",
                "2",
            ],
        );
        assert_eq!(last_summary(&dir, "mode"), mode);
        assert_eq!(last_summary(&dir, "successful"), "4");
        assert!(
            seconds(&last_summary(&dir, "mcp_p50")) >= 0.05,
            "{mode}: the tool waits"
        );
        assert!(
            seconds(&last_summary(&dir, "connect_p50")) > 0.0,
            "{mode}: the session's opening"
        );
        assert_eq!(last_summary(&dir, "state_p50"), "");
        let steps = csv_file(&dir, "steps.csv");
        assert_eq!(steps.len(), 4, "{steps:?}");
        for row in &steps[1..] {
            assert_eq!(col(&steps[0], row, "mcp_count"), "8", "{mode}: {row:?}");
        }
        let ep = csv_file(&dir, "episodes.csv");
        assert_eq!(col(&ep[0], &ep[1], "unclosed"), "0");
        let hist = std::fs::read_to_string(dir.join("histograms.jsonl")).unwrap();
        let line: serde_json::Value = serde_json::from_str(hist.lines().next().unwrap()).unwrap();
        assert!(
            line["mcp"].is_string() && line["state"].is_null(),
            "{mode}: {line}"
        );
    }
    let c = counters(&s.url);
    assert_eq!(c["mcp_calls"].as_u64(), Some(48), "{c}");
    assert_eq!(
        (
            c["mcp_sessions_created"].as_u64(),
            c["mcp_sessions_closed"].as_u64()
        ),
        (Some(8), Some(8)),
        "{c}"
    );

    // A tools/list first, then calls: JSON-RPC requests from a file, ids
    // and (over HTTP) the session filled in.
    let actions = out_dir("proto-mcp-actions").join("a.jsonl");
    std::fs::create_dir_all(actions.parent().unwrap()).unwrap();
    std::fs::write(
        &actions,
        "{\"method\": \"tools/list\"}\n{\"method\": \"tools/call\", \"params\": {\"name\": \"wait\", \"arguments\": {\"seconds\": {wait}}}}\n",
    )
    .unwrap();
    for mode in ["mcp-ws", "mcp-http"] {
        let dir = run_to(
            &format!("proto-mcp-lines-{mode}"),
            &s.url,
            &[
                "-m",
                mode,
                "-n",
                "2",
                "-w",
                "0",
                "--steps",
                "2",
                "--actions",
                actions.to_str().unwrap(),
            ],
        );
        assert_eq!(last_summary(&dir, "successful"), "2", "{mode}");
    }
}

#[test]
fn mcp_capacity_refusals_are_capacity_reached() {
    let s = Server::start(&["--max-concurrent-envs", "3"]);
    for mode in ["mcp-ws", "mcp-http"] {
        let dir = run_to(
            &format!("proto-cap-{mode}"),
            &s.url,
            &["-m", mode, "-n", "5", "-w", "0.5", "--steps", "1"],
        );
        let errors = error_types(&dir);
        assert_eq!(errors, ["CapacityReached", "CapacityReached"], "{mode}");
        assert_eq!(last_summary(&dir, "successful"), "3", "{mode}");
    }
}

#[test]
fn http_mcp_sessions_left_unclosed_are_counted_and_keep_their_slots() {
    let s = Server::start(&["--max-concurrent-envs", "8"]);
    let json = out_dir("proto-unclosed-json").join("s.json");
    std::fs::create_dir_all(json.parent().unwrap()).unwrap();
    let dir = run_to(
        "proto-unclosed",
        &s.url,
        &[
            "-m",
            "mcp-http",
            "-n",
            "8",
            "-w",
            "0.05",
            "--abort",
            "0.25",
            "--seed",
            "3",
            "--leak-probe",
            "8",
            "--summary-json",
            json.to_str().unwrap(),
        ],
    );
    let aborted = unclosed_and_leaked(&dir);
    assert!(aborted < 8, "{aborted}");
    let sj = support::json_file(&json);
    assert_eq!(sj["phases"][0]["unclosed_sessions"].as_u64(), Some(aborted));
    let ep = csv_file(&dir, "episodes.csv");
    assert_eq!(col(&ep[0], &ep[1], "unclosed"), aborted.to_string());
    let c = counters(&s.url);
    let open =
        c["mcp_sessions_created"].as_u64().unwrap() - c["mcp_sessions_closed"].as_u64().unwrap();
    assert_eq!(open, aborted, "the server still holds them: {c}");
}

#[test]
fn protocol_steps_a_mode_cannot_send_are_refused_before_anything_runs() {
    let cases: [(&[&str], &str); 4] = [
        (&["-m", "mcp-http", "--state-every", "2"], "--state-every"),
        (
            &["-m", "mcp-ws", "--action", "{\"wait_seconds\": 1}"],
            "\"method\"",
        ),
        (
            &[
                "-m",
                "http",
                "--action",
                "{\"type\": \"mcp\", \"data\": {\"method\": \"tools/list\"}}",
            ],
            "mcp-http",
        ),
        (&["--state-every", "0"], "--state-every"),
    ];
    for (args, needle) in cases {
        let mut all = vec!["run", "-u", "http://127.0.0.1:9", "-n", "1"];
        all.extend_from_slice(args);
        let err = refused(&all);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let sc = out_dir("proto-bad-scenario").join("s.toml");
    std::fs::create_dir_all(sc.parent().unwrap()).unwrap();
    std::fs::write(&sc, "mode = \"grpc\"\n").unwrap();
    let err = refused(&[
        "run",
        "-u",
        "http://127.0.0.1:9",
        "--scenario",
        sc.to_str().unwrap(),
    ]);
    assert!(
        err.contains("mode") && err.contains("grpc") && err.contains("mcp-http"),
        "{err}"
    );
}

#[test]
fn the_report_shows_the_state_and_mcp_stages() {
    let s = Server::start(&[]);
    let dir = run_to(
        "proto-report",
        &s.url,
        &["-n", "2", "-w", "0", "--state-every", "1"],
    );
    let d = dir.to_str().unwrap();
    run_ok(&[
        "run", "-u", &s.url, "-o", d, "-m", "mcp-http", "-n", "2", "-w", "0",
    ]);
    let out = out_dir("proto-report-out");
    run_ok(&[
        "report",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let tables = std::fs::read_to_string(out.join("tables.md")).unwrap();
    assert!(
        tables.contains("| Total p99 | State p50 | MCP p50 |"),
        "{tables}"
    );
    let table3 = tables.split("## Table 3").nth(1).unwrap();
    let table3 = table3.split("## Table 4").next().unwrap();
    let line = |mode: &str| {
        table3
            .lines()
            .find(|l| l.contains(&format!("| {mode} |")))
            .unwrap_or_else(|| panic!("{tables}"))
            .to_string()
    };
    let (ws, mcp) = (line("ws"), line("mcp-http"));
    assert!(
        ws.ends_with("| – |") && !ws.contains("| – | –"),
        "state, no MCP: {ws}"
    );
    assert!(
        mcp.contains("| – |") && !mcp.ends_with("| – |"),
        "MCP, no state: {mcp}"
    );
}

#[test]
fn state_and_mcp_stages_merge_across_agents() {
    let s = Server::start(&[]);
    for (mode, extra) in [("ws", "--state-every"), ("mcp-http", "--episodes")] {
        let dir = run_to(
            &format!("proto-agents-{mode}"),
            &s.url,
            &[
                "-m", mode, "-n", "8", "-w", "0.02", "--steps", "2", extra, "1", "--agents", "2",
            ],
        );
        assert_eq!(last_summary(&dir, "successful"), "8", "{mode}");
        let count = if mode == "ws" {
            "state_count"
        } else {
            "mcp_count"
        };
        let steps = csv_file(&dir, "steps.csv");
        let counts: Vec<&str> = steps[1..]
            .iter()
            .map(|r| col(&steps[0], r, count))
            .collect();
        assert_eq!(counts, ["8", "8"], "{mode}: every agent's sessions, once");
        let agents = &run_json(&dir)["phases"][0]["agents"];
        assert_eq!(agents.as_array().map(Vec::len), Some(2), "{agents}");
    }
}
