//! Distributed mode with real processes and real gRPC on loopback: a
//! coordinator, agents and a benchmark server, each its own process.

use crate::support;
use support::run_json;

use std::time::{Duration, Instant};

use support::procs::{agent, coordinator, run_distributed, Proc};
use support::{col, csv_rows, out_dir, raw_lines, Server};

const T: Duration = Duration::from_secs(60);

#[test]
fn coordinator_and_three_agents_write_one_merged_result() {
    let s = Server::start(&["--workers", "2"]);
    let dir = out_dir("dist-e2e");
    let d = dir.to_str().unwrap();
    let out = run_distributed(
        3,
        "a",
        &[
            "-u",
            &s.url,
            "--requests-grid",
            "30,90",
            "-w",
            "0.1",
            "-o",
            d,
        ],
        T,
    );
    let rows = csv_rows(&dir);
    assert_eq!(rows.len(), 3);
    assert_eq!(col(&rows[0], &rows[2], "successful"), "90");
    assert_eq!(col(&rows[0], &rows[2], "unique_pids"), "2");
    let raw = raw_lines(&dir);
    let mut ids: Vec<u64> = raw[30..]
        .iter()
        .map(|l| l["request_id"].as_u64().unwrap())
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        (0..90).collect::<Vec<_>>(),
        "globally unique, contiguous request ids"
    );
    let rj = run_json(&dir);
    let agents_info = rj["agents"].as_array().unwrap();
    assert_eq!(agents_info.len(), 3);
    assert!(
        agents_info
            .iter()
            .all(|a| a["sessions"] == 40 && a["successful"] == 40),
        "{agents_info:?}"
    );
    let per_phase = rj["phases"][1]["agents"].as_array().unwrap();
    assert_eq!(
        per_phase
            .iter()
            .map(|a| a["assigned"].as_u64().unwrap())
            .sum::<u64>(),
        90
    );
    assert!(
        out.contains("agent a1"),
        "per-agent lines on the console: {out}"
    );
}

#[test]
fn sigkill_of_an_agent_mid_phase_counts_its_sessions_as_agent_lost() {
    let s = Server::start(&[]);
    let dir = out_dir("dist-kill-agent");
    let d = dir.to_str().unwrap();
    let (mut c, url) = coordinator(
        &[
            "--agents",
            "3",
            "-u",
            &s.url,
            "--requests-grid",
            "300,60",
            "-w",
            "3",
            "-o",
            d,
        ],
        &[],
    );
    let mut a1 = agent(&url, "a1", &[], &[]);
    let mut victim = agent(&url, "victim", &[], &[]);
    let mut a3 = agent(&url, "a3", &[], &[]);
    victim.wait_line("phase 1: started", T); // its 3 s steps are under way
    victim.signal(libc::SIGKILL);
    let (status, out) = c.finish(T);
    assert!(status.success(), "{out}");
    assert!(out.contains("victim") && out.contains("lost"), "{out}");
    assert!(
        out.contains(".. phase 1 ws N=300: started 300/300"),
        "plain live progress off a terminal: {out}"
    );
    let rows = csv_rows(&dir);
    assert_eq!(rows.len(), 3, "both phases complete");
    assert_eq!(col(&rows[0], &rows[1], "successful"), "200");
    assert_eq!(col(&rows[0], &rows[1], "failed"), "100");
    let raw = raw_lines(&dir);
    let phase1 = &raw[..300];
    assert_eq!(
        phase1
            .iter()
            .filter(|l| l["error_type"] == "AgentLost")
            .count(),
        100
    );
    assert!(phase1
        .iter()
        .filter(|l| l["error_type"] == "AgentLost")
        .all(|l| l["error_message"].as_str().unwrap().contains("victim")));
    let rj = run_json(&dir);
    let later = rj["phases"][1]["agents"].as_array().unwrap();
    assert_eq!(
        later.len(),
        2,
        "the next phase is split across the agents left"
    );
    assert_eq!(col(&rows[0], &rows[2], "successful"), "60");
    assert!(rj["phases"][0]["agents"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["lost"].is_string()));
    for a in [&mut a1, &mut a3] {
        assert!(a.finish(Duration::from_secs(10)).0.success());
    }
}

/// A stage plan's users run session after session: an agent lost counts
/// `AgentLost` the sessions it had in flight, not its users. 20 users for
/// 3 s, then 2: killed at 7.5 s, the victim's one user left had one session
/// under way (progress reports are up to 500 ms old: 0 to 2 are counted),
/// where its 10 users used to be.
#[test]
fn sigkill_of_an_agent_in_a_stage_plan_counts_its_sessions_in_flight() {
    let s = Server::start(&[]);
    let dir = out_dir("dist-kill-stage-agent");
    let d = dir.to_str().unwrap();
    let plan = "1s:20,3s:20,1s:2,5s:2";
    let args = [
        "--agents", "2", "-u", &s.url, "--stages", plan, "-w", "1", "-o", d,
    ];
    let (mut c, url) = coordinator(&args, &[]);
    let mut kept = agent(&url, "kept", &[], &[]);
    let mut victim = agent(&url, "victim", &[], &[]);
    victim.wait_line("phase 1: started", T);
    std::thread::sleep(Duration::from_millis(7500));
    victim.signal(libc::SIGKILL);
    let (status, out) = c.finish(T);
    assert!(status.success(), "{out}");
    let raw = raw_lines(&dir);
    let lost: Vec<&serde_json::Value> = raw
        .iter()
        .filter(|l| l["error_type"] == "AgentLost")
        .collect();
    assert!(
        lost.len() <= 2,
        "the victim's sessions in flight, not its 10 users: {} ({out})",
        lost.len()
    );
    assert!(lost
        .iter()
        .all(|l| l["error_message"].as_str().unwrap().contains("victim")));
    let ids: std::collections::BTreeSet<u64> = raw
        .iter()
        .map(|l| l["request_id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids.len(), raw.len(), "every record its own session");
    let rows = csv_rows(&dir);
    assert_eq!(
        col(&rows[0], &rows[1], "failed"),
        lost.len().to_string(),
        "summary.csv counts what raw.jsonl holds"
    );
    assert!(kept.finish(Duration::from_secs(15)).0.success());
}

#[test]
fn sigkill_of_the_coordinator_stops_every_agent_within_the_deadline() {
    let s = Server::start(&[]);
    let dir = out_dir("dist-kill-coord");
    let d = dir.to_str().unwrap();
    let (c, url) = coordinator(
        &[
            "--agents", "2", "-u", &s.url, "-n", "200", "-w", "30", "-o", d,
        ],
        &[],
    );
    let mut agents: Vec<Proc> = ["a1", "a2"]
        .iter()
        .map(|n| agent(&url, n, &[], &[]))
        .collect();
    for a in &mut agents {
        a.wait_line("phase 1: started", T); // sessions are in their 30 s steps
    }
    c.signal(libc::SIGKILL);
    let killed = Instant::now();
    for a in &mut agents {
        let status = a
            .wait_exit(Duration::from_secs(10))
            .expect("agent exits after losing its coordinator");
        let took = killed.elapsed();
        assert!(!status.success(), "an orphaned agent exits non-zero");
        assert!(
            took <= Duration::from_secs(5),
            "agent stopped its load {took:?} after the coordinator died"
        );
        eprintln!("agent stopped {took:?} after SIGKILL of the coordinator");
    }
    let (_, out) = agents[0].finish(Duration::from_secs(1));
    assert!(out.contains("lost the coordinator"), "{out}");
}

#[test]
fn sigterm_on_the_coordinator_keeps_finished_phases_and_marks_the_partial_one() {
    let s = Server::start(&[]);
    let dir = out_dir("dist-sigterm");
    let d = dir.to_str().unwrap();
    let (mut c, url) = coordinator(
        &[
            "--agents",
            "1",
            "-u",
            &s.url,
            "--requests-grid",
            "5,50",
            "--wait-grid",
            "0.1,20",
            "-o",
            d,
        ],
        &[],
    );
    let mut a = agent(&url, "a1", &[], &[]);
    a.wait_line("phase 2: started", T); // its 20 s steps are in flight
    c.signal(libc::SIGTERM);
    let (status, out) = c.finish(Duration::from_secs(20));
    assert_eq!(status.code(), Some(130), "{out}");
    let (ast, aout) = a.finish(Duration::from_secs(10));
    assert!(ast.success(), "the agent was told to stop: {aout}");
    assert_eq!(csv_rows(&dir).len(), 2, "the finished phase is kept");
    let rj = run_json(&dir);
    assert_eq!(rj["status"], "interrupted");
    assert_eq!(rj["phases"][1]["status"], "partial");
}

#[test]
fn wrong_or_missing_token_is_unauthenticated() {
    let s = Server::start(&[]);
    let dir = out_dir("dist-token");
    let (_c, url) = coordinator(
        &[
            "--agents",
            "1",
            "-u",
            &s.url,
            "-o",
            dir.to_str().unwrap(),
            "--agent-wait",
            "30",
        ],
        &[("ENVLOAD_TOKEN", "s3cret")],
    );
    for extra in [vec!["--token", "nope"], vec![]] {
        let mut a = agent(&url, "intruder", &extra, &[]);
        let (status, out) = a.finish(Duration::from_secs(20));
        assert_eq!(status.code(), Some(1), "{out}");
        assert!(
            out.contains("refused this agent") && out.contains("token"),
            "{out}"
        );
    }
    let mut ok = agent(&url, "friend", &[], &[("ENVLOAD_TOKEN", "s3cret")]);
    assert!(ok.finish(T).0.success());
}

#[test]
fn another_protocol_version_is_a_failed_precondition_naming_both() {
    let s = Server::start(&[]);
    let dir = out_dir("dist-version");
    let (_c, url) = coordinator(
        &["--agents", "1", "-u", &s.url, "-o", dir.to_str().unwrap()],
        &[],
    );
    // An agent of the build before arrival schedules and workloads.
    let mut a = agent(&url, "old", &["--protocol-version", "1"], &[]);
    let (status, out) = a.finish(Duration::from_secs(20));
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(
        out.contains("FailedPrecondition") || out.contains("precondition"),
        "{out}"
    );
    let now = format!(
        "this coordinator speaks v{}",
        envload_proto::PROTOCOL_VERSION
    );
    assert!(out.contains("protocol v1 ") && out.contains(&now), "{out}");
}

#[test]
fn agents_may_join_late_but_too_few_is_a_clear_error() {
    let s = Server::start(&[]);
    let dir = out_dir("dist-late");
    let (mut c, url) = coordinator(
        &[
            "--agents",
            "2",
            "-u",
            &s.url,
            "-n",
            "20",
            "-w",
            "0",
            "-o",
            dir.to_str().unwrap(),
        ],
        &[],
    );
    let _a1 = agent(&url, "early-bird", &[], &[]);
    c.wait_line("agent early-bird joined", T);
    let _a2 = agent(&url, "latecomer", &[], &[]);
    assert!(c.finish(T).0.success());

    let dir = out_dir("dist-too-few");
    let (mut c, url) = coordinator(
        &[
            "--agents",
            "3",
            "--agent-wait",
            "3",
            "-u",
            &s.url,
            "-n",
            "20",
            "-w",
            "0",
            "-o",
            dir.to_str().unwrap(),
        ],
        &[],
    );
    let _b1 = agent(&url, "b1", &[], &[]);
    let _b2 = agent(&url, "b2", &[], &[]);
    let (status, out) = c.finish(T);
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(
        out.contains("only 2 of 3 agents joined")
            && out.contains("b1")
            && out.contains("b2")
            && out.contains("missing: 1"),
        "{out}"
    );
}

/// The same plan with 1 and 4 agents gives the same counts, and the merged
/// percentiles equal those of the union of all samples.
#[test]
fn merged_percentiles_equal_the_union_of_samples() {
    let s = Server::start(&["--workers", "2"]);
    let mut successes = Vec::new();
    for k in ["1", "4"] {
        let dir = out_dir(&format!("dist-exact-{k}"));
        let out = support::run(&[
            "run",
            "--agents",
            k,
            "-u",
            &s.url,
            "-n",
            "400",
            "-w",
            "0.05",
            "-o",
            dir.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{:?}", support::text(&out));
        let rows = csv_rows(&dir);
        let (h, r) = (&rows[0], &rows[1]);
        successes.push((
            col(h, r, "successful").to_string(),
            col(h, r, "failed").to_string(),
        ));
        let raw = raw_lines(&dir);
        assert_eq!(raw.len(), 400);
        // The merged histograms give the reference's percentiles of the
        // union of every agent's samples, within the histograms' precision
        // (3 significant digits).
        let union: Vec<f64> = raw
            .iter()
            .filter(|l| l["success"] == true)
            .map(|l| l["total_latency"].as_f64().unwrap())
            .collect();
        for (name, q) in [
            ("total_p50", 0.5),
            ("total_p90", 0.9),
            ("total_p95", 0.95),
            ("total_p99", 0.99),
        ] {
            let merged: f64 = col(h, r, name).parse().unwrap();
            let want = support::numpy_percentile(&union, q);
            assert!(
                (merged - want).abs() <= want * 0.001 + 2e-6,
                "{k} agents {name}: merged {merged} vs union {want}"
            );
        }
    }
    assert_eq!(
        successes[0], successes[1],
        "1 agent and 4 agents count the same"
    );
}

#[test]
fn too_few_agents_left_aborts_with_min_agents() {
    let s = Server::start(&[]);
    let dir = out_dir("dist-min-agents");
    let d = dir.to_str().unwrap();
    let (mut c, url) = coordinator(
        &[
            "--agents",
            "2",
            "--min-agents",
            "2",
            "-u",
            &s.url,
            "--requests-grid",
            "100,10",
            "-w",
            "2",
            "-o",
            d,
        ],
        &[],
    );
    let _a1 = agent(&url, "a1", &[], &[]);
    let mut victim = agent(&url, "victim", &[], &[]);
    victim.wait_line("phase 1: started", T);
    victim.signal(libc::SIGKILL);
    let (status, out) = c.finish(T);
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(out.contains("fewer than --min-agents 2"), "{out}");
    assert_eq!(
        csv_rows(&dir).len(),
        2,
        "the phase the agent was lost in is still written"
    );
    assert_eq!(run_json(&dir)["status"], "failed");
}

/// A coordinator that is alive but silent (stopped, partitioned) is noticed
/// by the heartbeat deadline, not by a closed socket.
#[test]
fn a_silent_coordinator_stops_every_agent_within_the_heartbeat_deadline() {
    let s = Server::start(&[]);
    let dir = out_dir("dist-stop-coord");
    let d = dir.to_str().unwrap();
    let (c, url) = coordinator(
        &[
            "--agents", "1", "-u", &s.url, "-n", "50", "-w", "30", "-o", d,
        ],
        &[],
    );
    let mut a = agent(&url, "a1", &[], &[]);
    a.wait_line("phase 1: started", T); // its 30 s steps are in flight
    c.signal(libc::SIGSTOP);
    let stopped = Instant::now();
    let status = a
        .wait_exit(Duration::from_secs(15))
        .expect("agent gives up on a silent coordinator");
    let took = stopped.elapsed();
    c.signal(libc::SIGCONT);
    eprintln!("agent stopped {took:?} after the coordinator went silent");
    assert!(!status.success());
    assert!(
        took <= Duration::from_millis(5500),
        "took {took:?}; the deadline is 5 s"
    );
    let (_, out) = a.finish(Duration::from_secs(1));
    assert!(out.contains("heartbeat deadline"), "{out}");
}

#[test]
fn an_agent_started_first_keeps_dialing_until_the_coordinator_is_up() {
    let s = Server::start(&[]);
    let port = support::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut a = agent(&url, "eager", &[], &[]);
    a.wait_line("not reachable yet", T); // refused, and retrying with backoff
    let dir = out_dir("dist-agent-first");
    let listen = format!("127.0.0.1:{port}");
    let mut c = Proc::spawn(
        &[
            "coordinator",
            "--listen",
            &listen,
            "--agents",
            "1",
            "-u",
            &s.url,
            "-n",
            "10",
            "-w",
            "0",
            "-o",
            dir.to_str().unwrap(),
        ],
        &[],
    );
    assert!(c.finish(T).0.success());
    assert!(a.finish(Duration::from_secs(10)).0.success());
}

/// Each agent's start skew (its sessions' start after the coordinator's
/// Start) in run.json, the phase's largest in run.json, the summary JSON
/// and on the console.
#[test]
fn each_agents_start_skew_is_recorded_and_the_phase_keeps_the_largest() {
    let s = Server::start(&[]);
    let dir = out_dir("dist-skew");
    let json = std::env::temp_dir().join(format!("envload-skew-{}.json", std::process::id()));
    let out = run_distributed(
        2,
        "skew",
        &[
            "-u",
            &s.url,
            "-n",
            "40",
            "-w",
            "0.1",
            "-o",
            dir.to_str().unwrap(),
            "--summary-json",
            json.to_str().unwrap(),
        ],
        T,
    );
    let rj = run_json(&dir);
    let phase = &rj["phases"][0];
    let skews: Vec<f64> = phase["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["start_skew_ms"].as_f64().expect("every agent's skew"))
        .collect();
    assert_eq!(skews.len(), 2);
    // One host, one clock: after the Start, and soon after on loopback.
    assert!(skews.iter().all(|s| (0.0..1000.0).contains(s)), "{skews:?}");
    let max = skews.iter().copied().fold(f64::MIN, f64::max);
    assert_eq!(phase["max_start_skew_ms"].as_f64(), Some(max));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["phases"][0]["max_start_skew_ms"].as_f64(), Some(max));
    assert!(out.contains("max start skew:"), "{out}");
    assert!(out.contains("ms after Start"), "{out}");
    let _ = std::fs::remove_file(json);
}
