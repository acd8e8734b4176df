//! Distributed-mode benchmark on this machine (everything shares its cores):
//!
//! 1. coordinator CPU per session for a 10,000-session phase run by two agent
//!    processes, with per-session records on and off (`--no-records`);
//! 2. sessions per second reached by 1, 2 and 4 local agent processes
//!    (`envload run --agents K`) at N = 8192, wait 1 s.
//!
//! `ENVLOAD_BENCH_N` overrides the 8192 of part 2.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

mod common;

const ENVLOAD: &str = env!("CARGO_BIN_EXE_envload");

fn spawn(args: &[&str]) -> Child {
    Command::new(ENVLOAD)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("envload starts")
}

/// First stdout line containing `needle`; the rest of stdout is drained.
fn line_with(child: &mut Child, needle: &str) -> String {
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let found = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?}"));
    std::thread::spawn(move || lines.for_each(drop));
    found
}

fn main() {
    let mut server = spawn(&[
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--workers",
        "2",
    ]);
    let line = line_with(&mut server, "listening on");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_string();
    let tmp = std::env::temp_dir().join(format!("envload-dbench-{}", std::process::id()));

    println!("distributed bench against `envload serve --workers 2` on {url}\n");
    println!("coordinator CPU, one 10,000-session phase (wait 1 s) run by 2 agent processes:");
    for (label, extra) in [("records on", None), ("records off", Some("--no-records"))] {
        let dir = tmp.join(label.replace(' ', "-"));
        let d = dir.to_str().unwrap().to_string();
        let mut args = vec![
            "coordinator",
            "--listen",
            "127.0.0.1:0",
            "--agents",
            "2",
            "-u",
            &url,
            "-n",
            "10000",
            "-w",
            "1",
            "-o",
            &d,
        ];
        args.extend(extra);
        let mut coord = spawn(&args);
        let l = line_with(&mut coord, "listening on");
        let addr = l
            .split("listening on ")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .trim()
            .to_string();
        let agents: Vec<Child> = (0..2)
            .map(|i| {
                Command::new(ENVLOAD)
                    .args([
                        "agent",
                        "--coordinator",
                        &format!("http://{addr}"),
                        "--name",
                        &format!("b{i}"),
                        "--cpus",
                        "1",
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let cpu = common::wait_rusage(&coord).0;
        for mut a in agents {
            let _ = a.wait();
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
        std::thread::sleep(std::time::Duration::from_secs(1));
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
    // SAFETY: signalling our own child.
    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&tmp);
}
