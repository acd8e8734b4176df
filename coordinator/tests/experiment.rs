//! `envload experiment`: one infrastructure of a matrix file run for real —
//! the embedded server, and a server the matrix's `start` command brings up
//! on a real port (and that the experiment stops) — with results where
//! `envload report` reads them; broken matrices named; every infrastructure
//! of the shipped `experiments/config/matrix.toml` planned.

use crate::support;
use support::run_json;

use std::net::TcpStream;
use std::path::{Path, PathBuf};

use support::{col, csv_rows, envload, out_dir, run, text};

/// Writes `body` as a matrix in a fresh folder; returns (matrix, results
/// root, the folder — removed when dropped).
fn matrix(name: &str, body: &str) -> (PathBuf, PathBuf, support::OutDir) {
    let dir = out_dir(name);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("matrix.toml");
    std::fs::write(&path, body).unwrap();
    let results = dir.join("results");
    (path, results, dir)
}

/// A matrix with one `deploy = "command"` infrastructure `id` on a free
/// loopback port (`$PORT` in `start`), batch sizes `requests`, and `more`
/// lines; returns (matrix, results root, port, folder guard).
fn command_matrix(
    name: &str,
    id: &str,
    start: &str,
    requests: &str,
    more: &str,
) -> (PathBuf, PathBuf, u16, support::OutDir) {
    let port = support::free_port();
    let (m, results, dir) = matrix(
        name,
        &format!(
            "[grid]\nrequests = {requests}\nwaits = [0.3]\ntimeout = 30.0\n\
             [[infrastructure]]\nid = \"{id}\"\ndeploy = \"command\"\nstart = \"{start}\"\n\
             url = \"http://127.0.0.1:{port}\"\nenv = {{ PORT = \"{port}\" }}\n{more}"
        ),
    );
    (m, results, port, dir)
}

fn experiment(m: &Path, results: &Path, id: &str) -> std::process::Output {
    run(&[
        "experiment",
        "--matrix",
        m.to_str().unwrap(),
        "--infrastructure",
        id,
        "--results",
        results.to_str().unwrap(),
    ])
}

fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

#[test]
fn an_embedded_plan_lands_where_the_report_reads_it_and_never_overwrites() {
    let (m, results, _dir) = matrix(
        "experiment-embedded",
        "[grid]\nmodes = [\"ws\", \"http\"]\nrequests = [4, 8]\nwaits = [0.05]\ntimeout = 30.0\n\
         [[infrastructure]]\nid = \"laptop\"\ndeploy = \"embedded\"\n",
    );
    let res = experiment(&m, &results, "laptop");
    assert!(res.status.success(), "{:?}", text(&res));
    let first = results.join("laptop").join(today());
    let rows = csv_rows(&first);
    assert_eq!(rows.len(), 5, "ws and http at 4 and 8");
    for row in &rows[1..] {
        assert_eq!(col(&rows[0], row, "failed"), "0", "{row:?}");
    }
    let rj = run_json(&first);
    assert_eq!(rj["infrastructure"], "laptop");
    let cores = std::thread::available_parallelism().unwrap().get() as u64;
    assert_eq!(
        rj["cores"].as_u64(),
        Some(cores),
        "the embedded server's cores"
    );
    assert_eq!(
        rj["command"][1], "run",
        "run.json holds the equivalent run command"
    );

    let before = std::fs::read(first.join("summary.csv")).unwrap();
    let res = experiment(&m, &results, "laptop");
    assert!(res.status.success(), "{:?}", text(&res));
    let second = results.join("laptop").join(format!("{}-2", today()));
    assert_eq!(csv_rows(&second).len(), 5);
    assert_eq!(std::fs::read(first.join("summary.csv")).unwrap(), before);

    let out = out_dir("experiment-embedded-report");
    let res = run(&[
        "report",
        first.to_str().unwrap(),
        second.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(res.status.success(), "{:?}", text(&res));
    let tables = std::fs::read_to_string(out.join("tables.md")).unwrap();
    assert!(
        tables.contains("| laptop | ws | 0.05 | 8 | 100.0% |"),
        "{tables}"
    );
    assert!(out.join("batch_per_core.svg").exists());
}

#[test]
fn a_command_deployment_is_started_measured_and_stopped() {
    let start = format!(
        "exec '{}' serve --host 127.0.0.1 --port $PORT --max-concurrent-envs 4",
        envload()
    );
    let (m, results, port, _dir) = command_matrix(
        "experiment-command",
        "capped",
        &start,
        "[4, 8]",
        "cores = 1\n",
    );
    let res = experiment(&m, &results, "capped");
    assert!(res.status.success(), "{:?}", text(&res));
    let dir = results.join("capped").join(today());
    let rows = csv_rows(&dir);
    assert_eq!(rows.len(), 3);
    // The server the matrix started, with its own limit, is what was measured.
    assert_eq!(col(&rows[0], &rows[1], "successful"), "4");
    assert_eq!(col(&rows[0], &rows[2], "successful"), "4");
    assert_eq!(col(&rows[0], &rows[2], "failed"), "4");
    assert_eq!(run_json(&dir)["cores"].as_u64(), Some(1));
    // What the experiment log's Configuration and Command will say.
    let server = &run_json(&dir)["server"];
    assert_eq!(server["start"], format!("PORT={port} {start}"));
    assert_eq!(server["max_concurrent_envs"], serde_json::Value::Null);
    assert!(dir.join("deploy.log").exists());
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the started server is stopped when the experiment ends"
    );
}

#[test]
fn a_start_command_that_dies_is_reported_with_its_log() {
    let (m, results, _, _dir) = command_matrix(
        "experiment-dies",
        "broken",
        "echo boom-from-start >&2; exit 3",
        "[4]",
        "",
    );
    let res = experiment(&m, &results, "broken");
    assert_eq!(res.status.code(), Some(1));
    let err = text(&res).1;
    assert!(
        err.contains("exited") && err.contains("boom-from-start"),
        "{err}"
    );
}

#[test]
fn a_broken_matrix_is_named() {
    let (m, results, _dir) = matrix(
        "experiment-bad",
        "[grid]\nrequests = [0]\n[[infrastructure]]\nid = \"zero\"\ndeploy = \"embedded\"\n",
    );
    let res = experiment(&m, &results, "nope");
    assert_eq!(res.status.code(), Some(2));
    let err = text(&res).1;
    assert!(err.contains("'nope'") && err.contains("zero"), "{err}");

    let res = experiment(&m, &results, "zero");
    assert_eq!(res.status.code(), Some(2));
    let err = text(&res).1;
    assert!(
        err.contains("'zero'") && err.contains("--requests-grid"),
        "{err}"
    );

    let missing = m.with_file_name("absent.toml");
    let res = experiment(&missing, &results, "zero");
    assert_eq!(res.status.code(), Some(2));
    assert!(text(&res).1.contains("absent.toml"), "{:?}", text(&res));

    std::fs::write(&m, "[grid\nrequests = [1]\n").unwrap();
    let res = experiment(&m, &results, "zero");
    assert_eq!(res.status.code(), Some(2));
    let err = text(&res).1;
    assert!(
        err.contains("matrix.toml") && err.contains("line 1"),
        "{err}"
    );
    assert!(!results.exists(), "nothing is written for a broken matrix");
}

#[test]
fn every_infrastructure_of_the_shipped_matrix_is_planned() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let m = repo.join("experiments/config/matrix.toml");
    let body = std::fs::read_to_string(&m).unwrap();
    let ids: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("id = \""))
        .map(|l| l.trim_end_matches('"'))
        .collect();
    assert!(ids.len() >= 5, "{ids:?}");
    for want in ["local-uvicorn", "hf-spaces", "slurm-multi"] {
        assert!(ids.contains(&want), "{want} missing from {ids:?}");
    }
    for id in ids {
        let res = run(&[
            "experiment",
            "--matrix",
            m.to_str().unwrap(),
            "--infrastructure",
            id,
            "--dry-run",
        ]);
        assert!(res.status.success(), "{id}: {:?}", text(&res));
        let out = text(&res).0;
        assert!(
            out.contains(&format!("results: experiments/results/{id}/")),
            "{id}: {out}"
        );
    }
}

#[test]
fn sigterm_while_waiting_for_readiness_stops_the_started_server_too() {
    let (m, results, _, _dir) = command_matrix(
        "experiment-sigterm",
        "slow",
        "echo $$ > started.pid; exec sleep 300",
        "[4]",
        "ready_timeout = 60.0\n",
    );
    let cwd = m.parent().unwrap();
    let mut child = std::process::Command::new(envload())
        .current_dir(cwd)
        .args(["experiment", "--matrix", m.to_str().unwrap()])
        .args([
            "--infrastructure",
            "slow",
            "--results",
            results.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid_file = cwd.join("started.pid");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !pid_file.exists()
        || std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .is_empty()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "start command never ran"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let started: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: signalling the child this test spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    // SAFETY: signal 0 only probes whether the process exists.
    while unsafe { libc::kill(started, 0) } == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the started process {started} outlived the experiment"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_matrix_entry_may_name_a_rollout_scenario() {
    let (m, results, _dir) = matrix(
        "experiment-scenario",
        "[grid]\nrequests = [4]\nwaits = [0.02]\ntimeout = 30.0\n\
         [[infrastructure]]\nid = \"pool\"\ndeploy = \"embedded\"\nscenario = \"pool.toml\"\n",
    );
    // Relative to the matrix file.
    std::fs::write(
        m.parent().unwrap().join("pool.toml"),
        "requests = 999\nepisodes = 2\nsteps = 3\n",
    )
    .unwrap();
    let res = experiment(&m, &results, "pool");
    assert!(res.status.success(), "{:?}", text(&res));
    let dir = results.join("pool").join(today());
    let rows = csv_rows(&dir);
    assert_eq!(
        col(&rows[0], &rows[1], "num_requests"),
        "4",
        "the grid wins"
    );
    let episodes = std::fs::read_to_string(dir.join("episodes.csv")).unwrap();
    let last: Vec<&str> = episodes.lines().last().unwrap().split(',').collect();
    assert_eq!((last[5], last[6]), ("8", "8"), "4 sessions x 2 episodes");
    // A scenario that does not load is named with the matrix and the entry.
    let (bad, results, _dir) = matrix(
        "experiment-scenario-bad",
        "[[infrastructure]]\nid = \"pool\"\ndeploy = \"embedded\"\nscenario = \"missing.toml\"\n",
    );
    let res = experiment(&bad, &results, "pool");
    assert_eq!(res.status.code(), Some(2));
    let (_, stderr) = text(&res);
    assert!(
        stderr.contains("'pool'") && stderr.contains("missing.toml"),
        "{stderr}"
    );
}
