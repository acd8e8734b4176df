//! Session-engine benchmark: `envload run` against `envload serve --workers 2`
//! on this machine, both sides sharing its cores, at N = 1024, 4096 and 16384
//! (wait 1 s). Prints, per N: agent CPU µs per session, server CPU µs per
//! session, agent peak RSS per concurrent session, success and total p99,
//! and TCP connections per session (the kernel's accepted connections over
//! the run ÷ N; run the bench alone). With `ENVLOAD_BENCH_MODE=http` each N
//! runs WebSocket sessions too, and the agent's CPU per HTTP session is
//! printed as a ratio to its CPU per WebSocket session.
//!
//! Every run is a separate `envload run` process, so its CPU and peak RSS
//! come from `wait4`'s rusage; the server's CPU is read from /proc for its
//! worker processes before and after. `ENVLOAD_BENCH_N=1024,4096` picks other
//! sizes, `ENVLOAD_BENCH_MODE=http` the other protocol, and
//! `ENVLOAD_BENCH_AGENTS=4` spreads the load over 4 local agent processes
//! against 4 server workers (with `ENVLOAD_BENCH_N=65536`: 65,536 sessions
//! from this one host; agent CPU is then the whole process tree's, agent
//! RSS that of its largest process).
//!
//! Then the floor at the same N, measured in this run (`common::floor`):
//! a lean loopback program's client + server CPU per raw TCP connection, per
//! minimal WebSocket session and per minimal HTTP session (reset and step
//! on one keep-alive connection), and envload's client and server CPU per
//! session as ratios to the floor of its mode — the box is shared and noisy,
//! so ratios from one run say more than absolute figures across days.
//!
//! `ENVLOAD_TEST_BIN=/path/to/envload` measures another build (client and
//! server) against this run's floor: before/after figures of a change.

use std::process::{Command, Stdio};

mod common;
#[path = "../tests/support/mod.rs"]
mod support;

struct Usage {
    cpu_s: f64,
    max_rss_kib: f64,
}

/// Runs `envload args…` and returns its rusage (CPU, peak RSS); the child
/// is reaped by `common::wait_rusage`.
#[allow(clippy::zombie_processes)]
fn run_measured(args: &[&str]) -> Usage {
    let child = Command::new(support::envload())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("envload run starts");
    let (cpu_s, max_rss_kib) = common::wait_rusage(&child);
    Usage { cpu_s, max_rss_kib }
}

/// Syscalls per session on each side at a small N (strace slows what it
/// watches, so not at the table's N), beside the floor's.
fn syscalls(url: &str, pids: &[u32], mode: &str, dir: &std::path::Path) {
    let n: u64 = std::env::var("ENVLOAD_BENCH_SYSCALLS_N")
        .ok()
        .map(|v| v.parse().expect("ENVLOAD_BENCH_SYSCALLS_N is a count"))
        .unwrap_or(1024);
    println!("\nsyscalls per session (strace -c -f, N={n}, wait 1.0 s):");
    if !common::syscalls::available() {
        println!("  skipped: strace is not installed (apt-get install strace)");
        return;
    }
    let out = dir.join("strace");
    let (n_arg, out_arg) = (n.to_string(), out.to_str().unwrap().to_string());
    let args = [
        "run", "-u", url, "-n", &n_arg, "-w", "1.0", "-t", "60", "-m", mode, "-o", &out_arg,
    ];
    let mut client = None;
    let server = common::syscalls::of_pids_during(pids, || {
        let envload = support::envload();
        client = common::syscalls::of_command(envload.as_ref(), &args, &[]);
    });
    let me = std::env::current_exe().expect("the bench's own path");
    let spec = format!("{}:{n}", floor_kind(mode));
    let floor = common::syscalls::of_command(&me, &[], &[(FLOOR_CHILD, &spec)]);
    let (Some(client), Some(server), Some(floor)) = (client, server, floor) else {
        println!("  skipped: strace could not count (ptrace not permitted?)");
        return;
    };
    let per = |c: &common::syscalls::Counts| c.total as f64 / n as f64;
    println!(
        "  envload client {:.1} ({})",
        per(&client),
        client.top(8, n)
    );
    println!(
        "  envload server {:.1} ({})",
        per(&server),
        server.top(8, n)
    );
    println!(
        "  floor, both ends {:.1} ({})",
        per(&floor),
        floor.top(8, n)
    );
    println!(
        "  envload client + server / floor: {:.2} (start-up, result files and the server's idle wake-ups included)",
        (per(&client) + per(&server)) / per(&floor)
    );
}

fn sysctl(name: &str) -> String {
    std::fs::read_to_string(format!("/proc/sys/{}", name.replace('.', "/")))
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Set in the bench's own child when it runs only the floor (under strace).
const FLOOR_CHILD: &str = "ENVLOAD_BENCH_FLOOR_CHILD";

/// The floor exchange a mode is measured against.
fn floor_kind(mode: &str) -> &'static str {
    match mode {
        "http" => "http",
        _ => "ws",
    }
}

/// One `envload run` at one N.
struct Row {
    ok_pct: f64,
    p99: String,
    agent_us: f64,
    server_us: f64,
    rss_kib_per: f64,
    rss_mib: f64,
    conns_per: f64,
}

/// Runs `n` sessions of `mode` against the server and measures them.
fn measure(
    url: &str,
    pids: &[u32],
    agents: &str,
    mode: &str,
    n: u64,
    out: &std::path::Path,
    base_rss: f64,
) -> Row {
    std::thread::sleep(std::time::Duration::from_secs(1));
    common::wait_for_conntrack(n);
    let before = common::cpu_of(pids);
    let opens = common::passive_opens();
    let u = run_measured(&[
        "run",
        "-u",
        url,
        "-n",
        &n.to_string(),
        "-w",
        "1.0",
        "-t",
        "60",
        "--agents",
        agents,
        "-m",
        mode,
        "-o",
        out.to_str().unwrap(),
    ]);
    // Let the server finish its side of the closes before reading its CPU.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let server_cpu = common::cpu_of(pids) - before;
    let conns = common::passive_opens() - opens;
    let ok: u64 = common::summary_field(out, "successful").parse().unwrap();
    Row {
        ok_pct: ok as f64 * 100.0 / n as f64,
        p99: common::summary_field(out, "total_p99"),
        agent_us: u.cpu_s * 1e6 / n as f64,
        server_us: server_cpu * 1e6 / n as f64,
        rss_kib_per: (u.max_rss_kib - base_rss).max(0.0) / n as f64,
        rss_mib: u.max_rss_kib / 1024.0,
        conns_per: conns as f64 / n as f64,
    }
}

fn main() {
    if let Ok(spec) = std::env::var(FLOOR_CHILD) {
        let (kind, n) = spec.split_once(':').expect("kind:n");
        common::floor::per_session_us(kind, n.parse().expect("n"));
        return;
    }
    let sizes = common::sizes("1024,4096,16384");
    let mode = std::env::var("ENVLOAD_BENCH_MODE").unwrap_or_else(|_| "ws".into());
    let http = mode == "http";

    let agents: u32 = std::env::var("ENVLOAD_BENCH_AGENTS")
        .ok()
        .map(|a| a.parse().expect("ENVLOAD_BENCH_AGENTS is a count"))
        .unwrap_or(0);
    let workers = agents.max(2).to_string();
    let agents = agents.to_string();
    let server = support::Server::start(&["--workers", &workers]);
    let (url, pids) = (server.url.clone(), server.pids.clone());

    let dir = std::env::temp_dir().join(format!("envload-bench-{}", std::process::id()));
    let out = |n: u64| dir.join(format!("n{n}"));
    // Baseline: the same process with a single session, for per-session RSS.
    let base = run_measured(&[
        "run",
        "-u",
        &url,
        "-n",
        "1",
        "-w",
        "0",
        "-m",
        &mode,
        "-o",
        out(1).to_str().unwrap(),
    ]);

    println!("envload session bench: mode={mode}, wait=1.0 s, --agents {agents}, server `envload serve --workers {workers}` on {url}");
    println!(
        "machine: {} cpus; net.core.somaxconn={}, net.ipv4.ip_local_port_range={}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        sysctl("net.core.somaxconn"),
        sysctl("net.ipv4.ip_local_port_range")
    );
    println!(
        "\n{:>6} {:>9} {:>12} {:>16} {:>16} {:>18} {:>14} {:>11}",
        "N",
        "success",
        "total p99 s",
        "agent CPU µs/sess",
        "server CPU µs/sess",
        "agent RSS KiB/sess",
        "agent RSS MiB",
        "conns/sess"
    );
    let print = |n: u64, r: &Row, label: &str| {
        println!(
            "{:>6} {:>8.1}% {:>12} {:>16.1} {:>16.1} {:>18.2} {:>14.1} {:>11.3}{label}",
            n, r.ok_pct, r.p99, r.agent_us, r.server_us, r.rss_kib_per, r.rss_mib, r.conns_per
        );
    };
    let mut measured = Vec::new();
    for &n in &sizes {
        let r = measure(&url, &pids, &agents, &mode, n, &out(n), base.max_rss_kib);
        print(n, &r, "");
        // HTTP sessions beside WebSocket ones at the same N, in this run.
        let ws = http.then(|| {
            let w = measure(&url, &pids, &agents, "ws", n, &out(n), base.max_rss_kib);
            print(n, &w, "  (ws, for the ratio)");
            w.agent_us
        });
        measured.push((n, r.agent_us, r.server_us, ws));
    }
    println!("\n(per-session figures divide the whole process's CPU — start-up and result writing included — by N;");
    println!(" RSS per session is (peak RSS − peak RSS of a 1-session run) / N;");
    println!(" conns/sess is the kernel's TCP PassiveOpens over the run ÷ N: run the bench alone)");
    syscalls(&url, &pids, &mode, &dir);
    drop(server);

    let kind = floor_kind(&mode);
    println!(
        "\nfloor (this run; both ends of a lean loopback program in one process, at most {} open at once):",
        common::floor::WAVE
    );
    println!(
        "{:>6} {:>13} {:>13} {:>15} {:>19} {:>20} {:>19}",
        "N",
        "TCP floor µs",
        "WS floor µs",
        "HTTP floor µs",
        format!("agent / {} floor", kind.to_uppercase()),
        format!("server / {} floor", kind.to_uppercase()),
        format!("both / {} floor", kind.to_uppercase())
    );
    for (n, agent_us, server_us, ws_agent) in measured {
        let tcp = common::floor::per_session_us("tcp", n);
        let ws = common::floor::per_session_us("ws", n);
        let hf = common::floor::per_session_us("http", n);
        let floor = if http { hf } else { ws };
        println!(
            "{:>6} {:>13.1} {:>13.1} {:>15.1} {:>19.2} {:>20.2} {:>19.2}",
            n,
            tcp,
            ws,
            hf,
            agent_us / floor,
            server_us / floor,
            (agent_us + server_us) / floor
        );
        if let Some(w) = ws_agent {
            println!(
                "{:>6} agent CPU per HTTP session / per WS session: {:.2}",
                n,
                agent_us / w
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
