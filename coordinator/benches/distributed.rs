//! Distributed-mode benchmark on this machine (everything shares its cores):
//!
//! 1. coordinator CPU per session for a 10,000-session phase run by two agent
//!    processes, with per-session records on and off (`--no-records`);
//! 2. sessions per second reached by 1, 2 and 4 local agent processes
//!    (`envload run --agents K`) at N = 8192, wait 1 s.
//!
//! `ENVLOAD_BENCH_N` overrides the 8192 of part 2.

use std::process::{Command, Stdio};
use std::time::Duration;

mod common;
#[path = "../tests/support/mod.rs"]
mod support;

use support::procs::{agent, coordinator};

const ENVLOAD: &str = env!("CARGO_BIN_EXE_envload");

fn main() {
    let server = support::Server::start(&["--workers", "2"]);
    let url = server.url.clone();
    let tmp = std::env::temp_dir().join(format!("envload-dbench-{}", std::process::id()));

    println!("distributed bench against `envload serve --workers 2` on {url}\n");
    println!("coordinator CPU, one 10,000-session phase (wait 1 s) run by 2 agent processes:");
    for (label, extra) in [("records on", None), ("records off", Some("--no-records"))] {
        let dir = tmp.join(label.replace(' ', "-"));
        let d = dir.to_str().unwrap().to_string();
        let mut args = vec![
            "--agents", "2", "-u", &url, "-n", "10000", "-w", "1", "-o", &d,
        ];
        args.extend(extra);
        let (coord, agent_url) = coordinator(&args, &[]);
        let agents: Vec<_> = (0..2)
            .map(|i| agent(&agent_url, &format!("b{i}"), &[], &[]))
            .collect();
        let cpu = common::wait_rusage(&coord.child).0;
        // Reaped by wait4 above: Proc's Drop must not kill or wait that pid.
        std::mem::forget(coord);
        for mut a in agents {
            let _ = a.wait_exit(Duration::from_secs(60));
        }
        println!(
            "  {label:<12} {cpu:>6.3} CPU-s = {:>6.1} µs per session  (success {}/10000, total p99 {} s)",
            cpu * 1e6 / 10_000.0,
            common::summary_field(&dir, "successful"),
            common::summary_field(&dir, "total_p99")
        );
    }

    let n: u64 = std::env::var("ENVLOAD_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8192);
    println!("\nsessions per second, N = {n}, wait 1 s, `envload run --agents K`:");
    println!(
        "  {:>6} {:>9} {:>12} {:>12} {:>14}",
        "agents", "success", "wall s", "sessions/s", "total p99 s"
    );
    for k in [1u32, 2, 4] {
        std::thread::sleep(Duration::from_secs(1));
        let dir = tmp.join(format!("agents-{k}"));
        let status = Command::new(ENVLOAD)
            .args([
                "run",
                "--agents",
                &k.to_string(),
                "-u",
                &url,
                "-n",
                &n.to_string(),
                "-w",
                "1",
                "-o",
                dir.to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        let f = |name: &str| common::summary_field(&dir, name).parse::<f64>().unwrap();
        println!(
            "  {k:>6} {:>8.1}% {:>12.2} {:>12.0} {:>14.3}",
            f("successful") * 100.0 / n as f64,
            f("total_wall_time"),
            f("requests_per_second"),
            f("total_p99")
        );
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&tmp);
}
