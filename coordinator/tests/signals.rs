//! SIGINT/SIGTERM at each moment of a run: exit 130 within a couple of
//! seconds, finished phases kept, the phase in flight marked partial,
//! started children stopped, nothing left running. The signal is listened
//! to from start-up, so one that arrives between phases (where it used to be
//! lost and the run went on to exit 0) ends the run too.

use crate::support;
use support::run_json;

use std::time::{Duration, Instant};

use support::procs::Proc;

/// How long an interrupted envload may take to exit.
const EXIT_WITHIN: Duration = Duration::from_secs(3);

/// Starts `envload <args>` with a marker in its environment (inherited by
/// every child it starts) so leftovers can be found afterwards.
fn spawn(args: &[&str], mark: &str) -> Proc {
    Proc::spawn(args, &[("ENVLOAD_SIGNAL_TEST_MARK", mark)])
}

/// Sends `sig` and checks the exit: 130 within [`EXIT_WITHIN`], no process
/// carrying `mark` left.
fn interrupt(p: &mut Proc, sig: i32, mark: &str) -> String {
    let t = Instant::now();
    p.signal(sig);
    let (status, out) = p.finish(Duration::from_secs(20));
    let took = t.elapsed();
    assert_eq!(status.code(), Some(130), "{out}");
    assert!(took < EXIT_WITHIN, "exit took {took:?}:\n{out}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(leftovers(mark), Vec::<u32>::new(), "processes left running");
    eprintln!("exit 130 in {:.2} s", took.as_secs_f64());
    out
}

/// Pids whose environment holds `ENVLOAD_SIGNAL_TEST_MARK=mark`.
fn leftovers(mark: &str) -> Vec<u32> {
    let needle = format!("ENVLOAD_SIGNAL_TEST_MARK={mark}");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()))
        })
        .collect()
}

fn mark(name: &str) -> String {
    format!("{name}-{}", std::process::id())
}

#[test]
fn at_start_up_while_local_agents_start() {
    let (dir, m) = (support::out_dir("sig-startup"), mark("startup"));
    let d = dir.to_str().unwrap();
    let mut p = spawn(&["run", "--agents", "3", "-n", "3", "-w", "0", "-o", d], &m);
    p.wait_line("No --url given", Duration::from_secs(20));
    let out = interrupt(&mut p, libc::SIGINT, &m);
    assert!(out.contains("interrupted"), "{out}");
}

#[test]
fn in_a_phase_the_phase_is_marked_partial() {
    let (dir, m) = (support::out_dir("sig-phase"), mark("phase"));
    let d = dir.to_str().unwrap();
    let mut p = spawn(&["run", "-n", "8", "-w", "30", "-o", d], &m);
    p.wait_line("[WS] N=8", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(300));
    interrupt(&mut p, libc::SIGTERM, &m);
    let run = run_json(&dir);
    assert_eq!(run["status"], "interrupted");
    assert_eq!(run["phases"][0]["status"], "partial");
}

#[test]
fn in_the_pause_between_phases_the_run_stops_with_what_finished() {
    let (dir, m) = (support::out_dir("sig-pause"), mark("pause"));
    let d = dir.to_str().unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    let sj = dir.join("pipeline.json");
    let mut p = spawn(
        &[
            "run",
            "--requests-grid",
            "2,2,2,2",
            "-w",
            "0",
            "-o",
            d,
            "--summary-json",
            sj.to_str().unwrap(),
        ],
        &m,
    );
    // The result line is printed after the phase's files are written: the
    // signal lands in the 0.5 s pause that follows.
    p.wait_line("-> 2/2 success", Duration::from_secs(20));
    interrupt(&mut p, libc::SIGTERM, &m);
    let run = run_json(&dir);
    assert_eq!(run["status"], "interrupted");
    let rows = support::csv_rows(&dir).len() - 1;
    let complete = run["phases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|ph| ph["status"] == "complete")
        .count();
    assert_eq!(
        rows, complete,
        "every finished phase is kept, and only those"
    );
    assert!(rows < 4, "the run stopped: {rows} phases ran");
    let sj: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sj).unwrap()).unwrap();
    assert_eq!(sj["status"], "interrupted");
    assert_eq!(
        sj["phases"].as_array().unwrap().len(),
        rows,
        "--summary-json keeps them too"
    );
}

#[test]
fn between_ceiling_probes() {
    let (dir, m) = (support::out_dir("sig-ceiling"), mark("ceiling"));
    let d = dir.to_str().unwrap();
    let mut p = spawn(
        &["ceiling", "-n", "2", "-w", "0", "--max-n", "4096", "-o", d],
        &m,
    );
    p.wait_line("PASS", Duration::from_secs(20));
    let out = interrupt(&mut p, libc::SIGINT, &m);
    assert!(!out.contains("ceiling="), "no answer is claimed: {out}");
    assert_eq!(run_json(&dir)["status"], "interrupted");
}

#[test]
fn while_the_coordinator_waits_for_agents() {
    let m = mark("coord");
    let dir = support::out_dir("sig-coord");
    let d = dir.to_str().unwrap();
    let mut p = spawn(
        &[
            "coordinator",
            "--listen",
            "127.0.0.1:0",
            "--agents",
            "2",
            "--url",
            "http://127.0.0.1:9",
            "-o",
            d,
        ],
        &m,
    );
    p.wait_line("listening on", Duration::from_secs(20));
    let out = interrupt(&mut p, libc::SIGTERM, &m);
    assert!(
        out.contains("interrupted while waiting for agents"),
        "{out}"
    );
}

#[test]
fn while_an_agent_dials_its_coordinator() {
    let m = mark("agent");
    let mut p = spawn(
        &[
            "agent",
            "--coordinator",
            "http://127.0.0.1:9",
            "--connect-for",
            "600",
        ],
        &m,
    );
    std::thread::sleep(Duration::from_millis(500));
    interrupt(&mut p, libc::SIGINT, &m);
}

/// The embedded server is a child process: even SIGKILL of envload (no
/// handler runs) leaves no server behind.
#[test]
fn sigkill_leaves_no_embedded_server_behind() {
    let (dir, m) = (support::out_dir("sig-kill"), mark("kill"));
    let d = dir.to_str().unwrap();
    let mut p = spawn(&["run", "-n", "4", "-w", "30", "-o", d], &m);
    p.wait_line("[WS] N=4", Duration::from_secs(20));
    assert_eq!(leftovers(&m).len(), 2, "envload and its embedded server");
    p.signal(libc::SIGKILL);
    let _ = p.finish(Duration::from_secs(10));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !leftovers(&m).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        leftovers(&m),
        Vec::<u32>::new(),
        "embedded server left running"
    );
}

/// Slurm's `scancel --full` signals the step while the batch script
/// forwards the same signal: a duplicate close behind the first must not cut
/// the orderly stop short (run.json was left "running").
#[test]
fn a_duplicate_signal_does_not_cut_the_orderly_stop_short() {
    let (dir, m) = (support::out_dir("sig-dup"), mark("dup"));
    let d = dir.to_str().unwrap();
    let mut p = spawn(
        &[
            "run",
            "--agents",
            "2",
            "--requests-grid",
            "200,200",
            "-w",
            "30",
            "-o",
            d,
        ],
        &m,
    );
    p.wait_line("[WS] N=200", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(500));
    p.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(2));
    interrupt(&mut p, libc::SIGTERM, &m);
    let run = run_json(&dir);
    assert_eq!(run["status"], "interrupted");
    assert_eq!(run["phases"][0]["status"], "partial");
}
