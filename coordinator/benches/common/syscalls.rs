//! Syscalls per session, counted by `strace -c -f`: of a command run under
//! it, or of running processes (a server's workers) while something else
//! runs. `None` when strace is not installed (`.ci/run` and the README's
//! set-up install it; the bench then says so rather than print zeros).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Calls counted: in all, and per syscall (most first).
pub struct Counts {
    pub total: u64,
    pub by_name: Vec<(String, u64)>,
}

impl Counts {
    /// `name×calls/n` for the `k` most frequent, per session.
    pub fn top(&self, k: usize, n: u64) -> String {
        self.by_name
            .iter()
            .take(k)
            .map(|(name, c)| format!("{name} {:.1}", *c as f64 / n as f64))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Whether strace runs here.
pub fn available() -> bool {
    Command::new("strace")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `program args…` under `strace -c -f`; its stdout is discarded.
pub fn of_command(program: &Path, args: &[&str], env: &[(&str, &str)]) -> Option<Counts> {
    let out = tempfile("cmd");
    let status = Command::new("strace")
        .args(["-c", "-f", "-o"])
        .arg(&out)
        .arg("--")
        .arg(program)
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .status()
        .ok()?;
    assert!(
        status.success(),
        "{} failed under strace",
        program.display()
    );
    read(&out)
}

/// Counts the syscalls of `pids` (and their threads) while `during` runs.
pub fn of_pids_during(pids: &[u32], during: impl FnOnce()) -> Option<Counts> {
    let out = tempfile("pids");
    let mut cmd = Command::new("strace");
    cmd.args(["-c", "-f", "-o"]).arg(&out);
    for p in pids {
        cmd.args(["-p", &p.to_string()]);
    }
    let mut strace = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    std::thread::sleep(Duration::from_millis(500)); // attached
    during();
    std::thread::sleep(Duration::from_millis(500)); // the server's last closes
                                                    // SAFETY: signalling our own child.
    unsafe { libc::kill(strace.id() as i32, libc::SIGINT) };
    let _ = strace.wait();
    read(&out)
}

fn tempfile(what: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("envload-strace-{what}-{}", std::process::id()))
}

/// Parses strace's summary table (`% time seconds usecs/call calls
/// [errors] syscall`).
fn read(path: &Path) -> Option<Counts> {
    let text = std::fs::read_to_string(path).ok()?;
    let _ = std::fs::remove_file(path);
    let mut by_name = Vec::new();
    let mut total = 0;
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() < 5 || cols[0].parse::<f64>().is_err() {
            continue;
        }
        let calls: u64 = cols[3].parse().ok()?;
        let name = cols[cols.len() - 1];
        if name == "total" {
            total = calls;
        } else {
            by_name.push((name.to_string(), calls));
        }
    }
    by_name.sort_by_key(|(_, calls)| std::cmp::Reverse(*calls));
    Some(Counts { total, by_name })
}
