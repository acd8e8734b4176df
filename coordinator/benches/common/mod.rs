//! Helpers the process-level benchmarks share: a child's rusage, and a
//! field of the last `summary.csv` row.
#![allow(dead_code)]

pub mod floor;
pub mod syscalls;

use std::process::Child;

/// CPU seconds (user + system) and peak RSS (KiB) of `child`, reaped by
/// `wait4` (std's `wait` cannot report them). Panics if it failed.
#[allow(clippy::zombie_processes)]
pub fn wait_rusage(child: &Child) -> (f64, f64) {
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid out-value; pid is our child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut ru) };
    assert_eq!(rc, child.id() as i32, "wait4 failed");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "envload failed"
    );
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(ru.ru_utime) + secs(ru.ru_stime), ru.ru_maxrss as f64)
}

/// Column `name` of the last row of `dir/summary.csv`.
pub fn summary_field(dir: &std::path::Path, name: &str) -> String {
    let text = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let row: Vec<&str> = lines.last().unwrap().split(',').collect();
    row[header.iter().position(|h| *h == name).unwrap()].to_string()
}

/// CPU seconds used so far by the given processes (utime + stime).
pub fn cpu_of(pids: &[u32]) -> f64 {
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    pids.iter()
        .map(|p| {
            let stat =
                std::fs::read_to_string(format!("/proc/{p}/stat")).expect("server worker alive");
            let after = &stat[stat.rfind(')').unwrap() + 2..];
            let f: Vec<&str> = after.split_whitespace().collect();
            (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / tick
        })
        .sum()
}

/// TCP connections this network namespace's kernel has accepted so far
/// (`PassiveOpens` of /proc/net/snmp): whoever accepted them, so a figure
/// taken around a run counts the run's connections only when nothing else
/// runs.
pub fn passive_opens() -> u64 {
    let snmp = std::fs::read_to_string("/proc/net/snmp").expect("/proc/net/snmp");
    let mut tcp = snmp.lines().filter(|l| l.starts_with("Tcp:"));
    let (names, values) = (tcp.next().unwrap(), tcp.next().unwrap());
    let i = names
        .split_whitespace()
        .position(|n| n == "PassiveOpens")
        .expect("Tcp PassiveOpens");
    values.split_whitespace().nth(i).unwrap().parse().unwrap()
}

/// Waits until the kernel's connection-tracking table (when netfilter
/// tracks connections here) has room for `n` more, at most 3 minutes:
/// closed connections stay tracked for 2 minutes (TIME_WAIT), so runs of
/// 65,536 sessions back to back fill a 262,144-entry table, and the
/// kernel then drops new connections' SYNs ("nf_conntrack: table full").
pub fn wait_for_conntrack(n: u64) {
    let read = |f: &str| -> Option<u64> {
        std::fs::read_to_string(format!("/proc/sys/net/netfilter/{f}"))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    let (Some(max), Some(_)) = (read("nf_conntrack_max"), read("nf_conntrack_count")) else {
        return;
    };
    let room = |c: u64| c + 2 * n + 1024 <= max;
    let start = std::time::Instant::now();
    let mut said = false;
    while let Some(count) = read("nf_conntrack_count").filter(|c| !room(*c)) {
        if start.elapsed() > std::time::Duration::from_secs(180) {
            println!("  (conntrack table still holds {count} of {max}: measuring anyway)");
            return;
        }
        if !said {
            println!("  (waiting for room in the conntrack table: {count} of {max} entries held)");
            said = true;
        }
        std::thread::sleep(std::time::Duration::from_secs(5));
    }
}

/// Batch sizes from `ENVLOAD_BENCH_N` (comma-separated), else `default`.
pub fn sizes(default: &str) -> Vec<u64> {
    std::env::var("ENVLOAD_BENCH_N")
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .expect("ENVLOAD_BENCH_N is a list of integers")
        })
        .collect()
}
