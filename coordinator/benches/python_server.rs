//! envload against the Python OpenEnv server of BASELINE.md: the benchmark
//! app on openenv-core 0.3.0 under `uvicorn --workers 2` with
//! MAX_CONCURRENT_ENVS=10000 (deploy/local/run_uvicorn.sh, venv from PyPI),
//! WebSocket sessions (wait 1 s) in both close orders, then HTTP sessions
//! (wait 0.1 s). Prints success, wall, total p99, envload's client CPU per
//! session (the Python reference client spends 1,300–1,500 µs), the
//! server's CPU per session and TCP connections per session.
//! `ENVLOAD_BENCH_N` picks the sizes (default 512,2048,4096,8192).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use envload_coordinator::Deployed;

mod common;

const ENVLOAD: &str = env!("CARGO_BIN_EXE_envload");

/// `pid` and its children (uvicorn's supervisor and workers).
fn tree(pid: u32) -> Vec<u32> {
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    std::iter::once(pid)
        .chain(children.split_whitespace().filter_map(|p| p.parse().ok()))
        .collect()
}

#[allow(clippy::zombie_processes)] // children are reaped by common::wait_rusage
fn main() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let script = repo.join("deploy/local/run_uvicorn.sh");
    let venv = repo.join("target/envload-venvs/openenv-core--0-3-0");
    let ok = Command::new(&script)
        .arg("--install-only")
        .env("VENV", &venv)
        .status()
        .expect("run_uvicorn.sh runs");
    assert!(ok.success(), "installing openenv-core 0.3.0 failed");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let env: std::collections::BTreeMap<String, String> = [
        ("VENV", venv.display().to_string()),
        ("HOST", "127.0.0.1".into()),
        ("PORT", port.to_string()),
        ("WORKERS", "2".into()),
        ("MAX_CONCURRENT_ENVS", "10000".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    // Started and stopped as `envload experiment` does a `command` deployment.
    let log = std::env::temp_dir().join(format!("envload-pybench-{}.log", std::process::id()));
    let mut server = Deployed::start(&format!("exec '{}'", script.display()), &env, &log)
        .unwrap_or_else(|e| panic!("{e}"));
    server
        .wait_ready(
            &url,
            Duration::from_secs(120),
            &log,
            &envload_coordinator::Shutdown::never(),
        )
        .unwrap_or_else(|e| panic!("uvicorn: {e}"));
    std::thread::sleep(Duration::from_secs(3)); // every worker up
    let pids = tree(server.pid());
    let sizes = common::sizes("512,2048,4096,8192");
    let tmp = std::env::temp_dir().join(format!("envload-pybench-{}", std::process::id()));

    println!("envload vs openenv-core 0.3.0, uvicorn --workers 2 (pids {pids:?}), -t 60");
    println!(
        "{:>6} {:>18} {:>8} {:>8} {:>9} {:>18} {:>18} {:>11}",
        "N",
        "sessions",
        "success",
        "wall s",
        "p99 s",
        "client CPU µs/sess",
        "server CPU µs/sess",
        "conns/sess"
    );
    // HTTP steps run 32 at a time per worker on these servers (PROTOCOL.md),
    // so HTTP sessions wait 0.1 s: 8,192 of them take 13 s, not 128.
    let kinds: [(&str, &[&str], &str); 3] = [
        (
            "ws client-first",
            &["-m", "ws", "--close", "client-first"],
            "1.0",
        ),
        (
            "ws server-first",
            &["-m", "ws", "--close", "server-first"],
            "1.0",
        ),
        ("http, wait 0.1", &["-m", "http"], "0.1"),
    ];
    for (label, mode_args, wait) in kinds {
        for &n in &sizes {
            std::thread::sleep(Duration::from_secs(2));
            common::wait_for_conntrack(n);
            let dir = tmp.join(format!("{}-{n}", label.replace([' ', ','], "-")));
            let before = common::cpu_of(&pids);
            let opens = common::passive_opens();
            let child = Command::new(ENVLOAD)
                .args([
                    "run",
                    "-u",
                    &url,
                    "-n",
                    &n.to_string(),
                    "-w",
                    wait,
                    "-t",
                    "60",
                ])
                .args(mode_args)
                .args(["-o", dir.to_str().unwrap()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let (client_cpu, _) = common::wait_rusage(&child);
            std::thread::sleep(Duration::from_secs(1)); // the server finishes its closes
            let server_cpu = common::cpu_of(&pids) - before;
            let conns = common::passive_opens() - opens;
            let f = |name: &str| common::summary_field(&dir, name).parse::<f64>().unwrap();
            println!(
                "{n:>6} {label:>18} {:>7.1}% {:>8.2} {:>9.2} {:>18.0} {:>18.0} {:>11.3}",
                f("successful") * 100.0 / n as f64,
                f("total_wall_time"),
                f("total_p99"),
                client_cpu * 1e6 / n as f64,
                server_cpu * 1e6 / n as f64,
                conns as f64 / n as f64
            );
        }
    }
    println!("(conns/sess: the kernel's TCP PassiveOpens over the run ÷ N; run the bench alone)");
    drop(server); // stops uvicorn's whole process group
    let _ = std::fs::remove_dir_all(&tmp);
}
