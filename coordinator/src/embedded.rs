//! The embedded benchmark server: `envload run` without a URL starts
//! `envload serve` — this same binary — as a child process on a free
//! loopback port, and stops it when the run ends. In a process of its own it
//! neither shares the load generator's scheduler nor its descriptor limit
//! (the client needs one descriptor per session, not two), and its CPU can
//! be read apart from the client's.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// Session limit of the embedded server: high enough never to refuse.
pub const EMBEDDED_MAX_SESSIONS: usize = 1 << 20;
/// The embedded server's `envload` arguments.
fn args() -> [String; 9] {
    [
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--workers",
        "1",
        "--max-concurrent-envs",
        &EMBEDDED_MAX_SESSIONS.to_string(),
    ]
    .map(str::to_string)
}

/// How the embedded server is started, as run.json records it.
pub fn start_command() -> String {
    format!("envload {} (embedded)", args().join(" "))
}

/// How long the server may take to print its listening line.
const START_WITHIN: Duration = Duration::from_secs(30);

/// A running embedded server; stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Embedded {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    child: Child,
}

impl Embedded {
    /// Starts `envload serve` on `127.0.0.1:0` and waits for its URL.
    pub fn start() -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("cannot find the envload executable")?;
        let parent = std::process::id() as libc::pid_t;
        let mut command = Command::new(exe);
        // SAFETY: prctl and getppid are async-signal-safe. The server gets
        // SIGTERM when this process dies, even by SIGKILL, so it is never left
        // behind (the spawning thread is the main thread, which lives as long
        // as the process).
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::getppid() != parent {
                    libc::_exit(0);
                }
                Ok(())
            });
        }
        let mut child = command
            .args(args())
            .env_remove("PORT")
            .env_remove("WORKERS")
            .env_remove("MAX_CONCURRENT_ENVS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .context("cannot start envload serve")?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(START_WITHIN).unwrap_or_default();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_default()
            .to_string();
        // Owned from here, so an early return stops it too.
        let mut server = Embedded { url, child };
        if server.url.is_empty() {
            let status = server.child.try_wait().ok().flatten();
            bail!(
                "envload serve did not report its address within {} s ({}): {line:?}",
                START_WITHIN.as_secs(),
                status.map_or("still running".to_string(), |s| s.to_string())
            );
        }
        Ok(server)
    }

    /// The server's process id (its CPU is read from /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
