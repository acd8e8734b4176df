//! An infrastructure `envload experiment` brings up itself: the matrix's
//! `start` command in its own process group (its output in the results
//! folder's `deploy.log`), ready once the URL's `/health` answers 200 (or,
//! for TLS URLs, once the port accepts), and the whole group stopped —
//! SIGTERM, then SIGKILL after 10 s — when the experiment is over, however
//! it ends.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use envload_agent::Target;

use crate::shutdown::Shutdown;

/// A started deployment; stopped when dropped.
pub struct Deployed {
    child: Child,
}

impl Deployed {
    /// Runs `sh -c start` with `env`, its output appended to `log`.
    pub fn start(
        start: &str,
        env: &std::collections::BTreeMap<String, String>,
        log: &Path,
    ) -> Result<Deployed, String> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| format!("cannot write {}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new("sh")
            .arg("-c")
            .arg(start)
            .envs(env)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("start '{start}': {e}"))?;
        Ok(Deployed { child })
    }

    /// The start command's pid, which is also its process group's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until `url` is ready (`true`), a signal arrives (`false`; the
    /// caller drops `self`, which stops the group), the start command dies
    /// (an error quoting the end of its log), or `timeout` passes.
    pub fn wait_ready(
        &mut self,
        url: &str,
        timeout: Duration,
        log: &Path,
        shutdown: &Shutdown,
    ) -> Result<bool, String> {
        let target = Target::parse(url).map_err(|e| e.to_string())?;
        let deadline = Instant::now() + timeout;
        loop {
            if shutdown.is_requested() {
                return Ok(false);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "the start command exited ({status}) before {url} was ready; {} ends with:\n{}",
                    log.display(),
                    tail(log)
                ));
            }
            if ready(&target) {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{url} was not ready within {} s (ready_timeout); {} ends with:\n{}",
                    timeout.as_secs_f64(),
                    log.display(),
                    tail(log)
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Deployed {
    fn drop(&mut self) {
        let pgid = self.child.id() as libc::pid_t;
        // SAFETY: signalling a process group this process created.
        unsafe { libc::kill(-pgid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) && !group_alive(pgid) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // SAFETY: as above.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

fn group_alive(pgid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks that the group has members.
    unsafe { libc::kill(-pgid, 0) == 0 }
}

/// `GET /health` answers 200 (plain HTTP), or the port accepts (TLS).
fn ready(t: &Target) -> bool {
    let Some(addr) = (t.host.as_str(), t.port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
    else {
        return false;
    };
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    if t.tls {
        return true;
    }
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!(
        "GET {}/health HTTP/1.0\r\nHost: {}\r\n\r\n",
        t.http_base
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
            .unwrap_or(""),
        t.host
    );
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

/// The last lines of a log, for an error message.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}
