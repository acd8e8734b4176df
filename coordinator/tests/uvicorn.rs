//! envload against real Python OpenEnv servers: deploy/local/benchmark_env.py
//! under uvicorn, built on openenv-core 0.3.0 and on openenv 0.10.0 (each in
//! a venv run_uvicorn.sh creates from PyPI, kept under target/ between runs).
//! They need python3 and PyPI (both on every machine envload is built on);
//! without them they fail saying so.

use crate::support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use envload_agent::{run_share, Assignment, CloseMode, ErrorType, Mode, Target};
use envload_coordinator::Deployed;
use support::{col, csv_rows, out_dir, raw_lines, run, text};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The venv for `package`, installed on first use. Without python3 (and
/// PyPI) the test fails saying so: it never passes without having run.
pub fn venv(package: &str) -> PathBuf {
    let has_python = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        has_python,
        "needs python3 with venv and pip, and PyPI, to install {package}"
    );
    let dir = repo()
        .join("target/envload-venvs")
        .join(package.replace(['=', '.'], "-"));
    let status = Command::new(repo().join("deploy/local/run_uvicorn.sh"))
        .arg("--install-only")
        .env("OPENENV_PACKAGE", package)
        .env("VENV", &dir)
        .status()
        .expect("run_uvicorn.sh runs");
    assert!(status.success(), "installing {package} from PyPI failed");
    dir
}

/// A uvicorn started by run_uvicorn.sh the way `envload experiment` starts
/// a matrix's `command` deployment (own process group, `/health` waited
/// for, the group stopped when dropped).
pub struct Uvicorn {
    _server: Deployed,
    _log: support::OutDir,
    pub url: String,
}

impl Uvicorn {
    fn start(venv: &Path, workers: u32, max_envs: u32) -> Uvicorn {
        Uvicorn::start_app(venv, "benchmark_env:app", workers, max_envs)
    }

    /// Serves deploy/local's `app` (`module:app`).
    pub fn start_app(venv: &Path, app: &str, workers: u32, max_envs: u32) -> Uvicorn {
        let port = support::free_port();
        let env: BTreeMap<String, String> = [
            ("APP", app.to_string()),
            ("VENV", venv.display().to_string()),
            ("HOST", "127.0.0.1".into()),
            ("PORT", port.to_string()),
            ("WORKERS", workers.to_string()),
            ("MAX_CONCURRENT_ENVS", max_envs.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let script = repo().join("deploy/local/run_uvicorn.sh");
        let log = support::out_file(&format!("uvicorn-{port}"), "log");
        let mut server = Deployed::start(&format!("exec '{}'", script.display()), &env, &log)
            .unwrap_or_else(|e| panic!("{e}"));
        let url = format!("http://127.0.0.1:{port}");
        server
            .wait_ready(
                &url,
                Duration::from_secs(120),
                &log,
                &envload_coordinator::Shutdown::never(),
            )
            .unwrap_or_else(|e| panic!("uvicorn: {e}"));
        // uvicorn answers before every worker is up; give the rest a moment.
        std::thread::sleep(Duration::from_secs(2));
        Uvicorn {
            _server: server,
            _log: log,
            url,
        }
    }
}

fn run_ok(args: &[&str]) -> support::OutDir {
    let dir = out_dir(&format!("uv-{}", args.join("-").replace(['/', ':'], "_")));
    let mut all = args.to_vec();
    all.extend(["-o", dir.to_str().unwrap()]);
    let out = run(&all);
    assert!(out.status.success(), "{all:?}: {:?}", text(&out));
    dir
}

fn check_package(package: &str) {
    let venv = venv(package);
    {
        let s = Uvicorn::start(&venv, 2, 1000);
        // Which worker accepts a connection is uvicorn's (its workers share
        // one listening socket, and one may take a whole burst): up to three
        // runs for both pids to show, each with every session ok.
        let mut pids = Vec::new();
        for _ in 0..3 {
            let dir = run_ok(&[
                "run",
                "-u",
                &s.url,
                "-n",
                "64",
                "-w",
                "0.1",
                "--close",
                "server-first",
            ]);
            let rows = csv_rows(&dir);
            assert_eq!(col(&rows[0], &rows[1], "successful"), "64", "{package} ws");
            pids.push(col(&rows[0], &rows[1], "unique_pids").to_string());
            if pids.last().is_some_and(|p| p == "2") {
                break;
            }
        }
        assert_eq!(
            pids.last().map(String::as_str),
            Some("2"),
            "{package}: one pid per uvicorn worker (runs saw {pids:?})"
        );
        let dir = run_ok(&["run", "-u", &s.url, "-n", "16", "-w", "0.1", "-m", "http"]);
        let rows = csv_rows(&dir);
        assert_eq!(
            col(&rows[0], &rows[1], "successful"),
            "16",
            "{package} http"
        );

        // A bad action (`inf` is not JSON) is FastAPI's 422, reported as such.
        let rt = tokio::runtime::Runtime::new().unwrap();
        let a = Assignment {
            mode: Mode::Http,
            targets: vec![Target::parse(&s.url).unwrap()],
            wait_seconds: f64::INFINITY,
            batch_size: 1,
            first_request_id: 0,
            count: 1,
            timeout: Duration::from_secs(30),
            close_timeout: envload_agent::plan::DEFAULT_CLOSE_TIMEOUT,
            max_message: envload_agent::plan::DEFAULT_MAX_MESSAGE,
            close: CloseMode::ClientFirst,
            hardware: "cpu".into(),
            tls: Default::default(),
            workload: Default::default(),
            arrival: Default::default(),
            loopback_sources: 32,
            headers: Vec::new(),
            ping_interval: std::time::Duration::ZERO,
            ping_timeout: envload_agent::plan::DEFAULT_PING_TIMEOUT,
            abort: None,
            no_pong: 0.0,
            stages: None,
            interval: envload_agent::plan::DEFAULT_INTERVAL,
        };
        let share = rt.block_on(run_share(&a));
        let f = share.records[0]
            .failure
            .clone()
            .expect("a bad action fails");
        assert_eq!(f.kind, ErrorType::HttpStatus, "{}", f.message);
        assert!(
            f.message.contains("HTTP 422") && f.message.contains("/step"),
            "{}",
            f.message
        );
    }
    {
        let s = Uvicorn::start(&venv, 1, 2);
        let dir = run_ok(&["run", "-u", &s.url, "-n", "6", "-w", "1.5"]);
        let raw = raw_lines(&dir);
        let refused: Vec<_> = raw
            .iter()
            .filter(|l| l["error_type"] == "CapacityReached")
            .collect();
        assert_eq!(
            raw.iter().filter(|l| l["success"] == true).count(),
            2,
            "{package}: MAX_CONCURRENT_ENVS=2"
        );
        assert_eq!(
            refused.len(),
            4,
            "{package}: the rest are capacity refusals, not generic errors"
        );
        assert!(refused[0]["error_message"]
            .as_str()
            .unwrap()
            .contains("CAPACITY_REACHED"));
    }
}

#[test]
fn openenv_core_0_3_0_under_uvicorn() {
    check_package("openenv-core==0.3.0");
}

#[test]
fn openenv_0_10_0_under_uvicorn() {
    check_package("openenv==0.10.0");
}

/// The shipped matrix's local-uvicorn entry as written (start script, env,
/// health wait, stop), with only its port and grid made small for a test.
#[test]
fn the_shipped_local_uvicorn_matrix_entry_runs_and_stops() {
    let venv = venv("openenv-core==0.3.0");
    let shipped = std::fs::read_to_string(repo().join("experiments/config/matrix.toml")).unwrap();
    let mut matrix: toml::Table = shipped.parse().unwrap();
    let port = support::free_port();
    let infras = matrix["infrastructure"].as_array().unwrap();
    let mut entry = infras
        .iter()
        .find(|i| i["id"].as_str() == Some("local-uvicorn"))
        .expect("the matrix has local-uvicorn")
        .as_table()
        .unwrap()
        .clone();
    entry.insert("url".into(), format!("http://127.0.0.1:{port}").into());
    let env = entry["env"].as_table_mut().unwrap();
    env.insert("PORT".into(), port.to_string().into());
    env.insert("VENV".into(), venv.display().to_string().into());
    entry.insert(
        "grid".into(),
        toml::toml! { modes = ["ws", "http"] requests = [16] waits = [0.1] }.into(),
    );
    matrix.insert(
        "infrastructure".into(),
        toml::Value::Array(vec![toml::Value::Table(entry)]),
    );
    let dir = out_dir("uvicorn-matrix");
    std::fs::create_dir_all(&dir).unwrap();
    let m = dir.join("matrix.toml");
    std::fs::write(&m, toml::to_string(&matrix).unwrap()).unwrap();
    let out = Command::new(support::envload())
        .current_dir(repo())
        .args(["experiment", "--matrix", m.to_str().unwrap()])
        .args(["--infrastructure", "local-uvicorn"])
        .args(["--results", dir.join("results").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let results = dir.join("results/local-uvicorn").join(day);
    let rows = csv_rows(&results);
    assert_eq!(rows.len(), 3, "ws and http");
    for r in &rows[1..] {
        assert_eq!(col(&rows[0], r, "successful"), "16", "{r:?}");
    }
    let rj = support::run_json(&results);
    assert_eq!(rj["cores"].as_u64(), Some(2), "the entry's cores");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "uvicorn is stopped when the experiment ends"
    );
}

/// The reference-schema fixture's local-uvicorn entry as written
/// (`./deploy/local/run_uvicorn.sh` with its `env_vars`), only its port,
/// venv, grid and folders the test's own: the results land in
/// `<base_dir>/<id>/<date>/`, and `report --matrix … --log` keeps the
/// matrix's `log_file` with its success criteria.
#[test]
fn the_reference_yaml_local_uvicorn_entry_runs_and_its_log_is_kept() {
    use crate::reference_matrix::{fixture_in, infrastructure};
    use serde_norway::Value;
    let venv = venv("openenv-core==0.3.0");
    let port = support::free_port();
    let dir = out_dir("reference-uvicorn");
    let base = dir.join("results");
    let log = dir.join("reports/EXPERIMENT_LOG.md");
    let m = fixture_in(&dir, |doc| {
        let i = infrastructure(doc, "local-uvicorn");
        i["url_template"] = Value::from(format!("http://127.0.0.1:{port}"));
        i["env_vars"]["PORT"] = Value::from(u64::from(port));
        i["env_vars"]["VENV"] = Value::from(venv.display().to_string());
        doc["variables"]["batch_sizes"] = Value::from(vec![8u64]);
        doc["variables"]["wait_seconds"] = Value::from(vec![0.1]);
        doc["output"]["base_dir"] = Value::from(base.display().to_string());
        doc["output"]["log_file"] = Value::from(log.display().to_string());
    });
    let m = m.to_str().unwrap();
    let out = Command::new(support::envload())
        .current_dir(repo())
        .args([
            "experiment",
            "--matrix",
            m,
            "--infrastructure",
            "local-uvicorn",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let results = base.join("local-uvicorn").join(&day);
    let rows = csv_rows(&results);
    let modes: Vec<&str> = rows[1..].iter().map(|r| col(&rows[0], r, "mode")).collect();
    assert_eq!(modes, ["ws", "http"], "variables.modes, in order");
    for r in &rows[1..] {
        assert_eq!(col(&rows[0], r, "successful"), "8", "{r:?}");
    }
    let rj = support::run_json(&results);
    assert_eq!(
        rj["plan"]["cooldown"].as_f64(),
        Some(0.2),
        "execution.cooldown_seconds"
    );
    assert_eq!(
        rj["plan"]["timeout"].as_f64(),
        Some(60.0),
        "execution.timeout_seconds"
    );
    assert_eq!(
        rj["server"]["workers"].as_u64(),
        Some(2),
        "env_vars.WORKERS"
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "uvicorn is stopped when the experiment ends"
    );

    let report = dir.join("report");
    let report_with_log = || {
        let (r, o) = (results.to_str().unwrap(), report.to_str().unwrap());
        let out = run(&["report", "--matrix", m, r, "--out", o, "--log"]);
        assert!(out.status.success(), "{:?}", text(&out));
    };
    report_with_log();
    let entry = std::fs::read_to_string(&log).expect("the matrix's log_file is written");
    assert!(
        entry.contains(&format!("## Run: {day}-local-uvicorn")),
        "{entry}"
    );
    assert!(
        entry.contains("p99 latency stays within 3 × (wait + 0.25 s) = 1.05s")
            || entry.contains("p99 latency within 3 × (wait + 0.25 s) = 1.05s"),
        "the log's notes use success_criteria: {entry}"
    );
    assert!(
        entry.contains("- Notes: openenv-core 0.3.0 from PyPI; measured with envload"),
        "the entry's notes: {entry}"
    );
    assert!(
        entry.contains("| Max Batch (90%+) |")
            && entry.contains("| Max Batch (p99 ≤ 3×(wait+0.25s)) |"),
        "{entry}"
    );
    let tables = std::fs::read_to_string(report.join("tables.md")).unwrap();
    assert!(
        tables.contains("success ≥ 90% and total p99 ≤ 3 × (wait + 0.25 s)"),
        "{tables}"
    );
    // Reporting the same folder again changes nothing.
    let before = std::fs::read(&log).unwrap();
    report_with_log();
    assert_eq!(std::fs::read(&log).unwrap(), before);
}
