//! Real `envload` processes for distributed tests: spawn, watch their
//! output, signal them, time their exit.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// A running process whose stdout and stderr lines arrive on a channel.
pub struct Proc {
    pub child: Child,
    lines: Receiver<String>,
    pub seen: Vec<String>,
}

fn pump(r: impl Read + Send + 'static, tx: mpsc::Sender<String>) {
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
}

impl Proc {
    /// Starts `envload <args>` with `env`.
    pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> Proc {
        Proc::spawn_in(None, args, env)
    }

    /// [`Proc::spawn`] inside network namespace `netns` (`ip netns exec`).
    pub fn spawn_in(netns: Option<&str>, args: &[&str], env: &[(&str, &str)]) -> Proc {
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(super::envload());
                c
            }
            None => Command::new(super::envload()),
        };
        cmd.args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env_remove("ENVLOAD_TOKEN");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("envload starts");
        let (tx, lines) = mpsc::channel();
        pump(child.stdout.take().unwrap(), tx.clone());
        pump(child.stderr.take().unwrap(), tx);
        Proc {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line containing `needle`; returns it.
    pub fn wait_line(&mut self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.contains(needle) {
                        return l;
                    }
                }
                Err(_) => panic!(
                    "no line with {needle:?} within {limit:?}; saw:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Waits for exit (bounded); returns the status and all output.
    pub fn finish(&mut self, limit: Duration) -> (ExitStatus, String) {
        let status = self.wait_exit(limit).unwrap_or_else(|| {
            let _ = self.child.kill();
            panic!(
                "process did not exit within {limit:?}; saw:\n{}",
                self.seen.join("\n")
            )
        });
        // Collect what is left of the output.
        while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(l);
        }
        (status, self.seen.join("\n"))
    }

    /// Polls for exit up to `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            while let Ok(l) = self.lines.try_recv() {
                self.seen.push(l);
            }
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `sig`.
    pub fn signal(&self, sig: i32) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a coordinator on 127.0.0.1:0 with `extra` flags; returns it and the
/// URL agents dial.
pub fn coordinator(extra: &[&str], env: &[(&str, &str)]) -> (Proc, String) {
    let mut args = vec!["coordinator", "--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let mut p = Proc::spawn(&args, env);
    let line = p.wait_line("listening on", Duration::from_secs(20));
    let addr = line
        .split("listening on ")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .trim()
        .to_string();
    (p, format!("http://{addr}"))
}

/// Starts an agent named `name` attached to `url`.
pub fn agent(url: &str, name: &str, extra: &[&str], env: &[(&str, &str)]) -> Proc {
    let base = agent_cmd(url, name);
    let mut args: Vec<&str> = base.iter().map(String::as_str).collect();
    args.extend_from_slice(extra);
    Proc::spawn(&args, env)
}

/// The arguments of an agent named `name` attached to `url`, for running
/// one elsewhere (in a container).
pub fn agent_cmd(url: &str, name: &str) -> Vec<String> {
    ["agent", "--coordinator", url, "--name", name, "--cpus", "1"]
        .map(String::from)
        .to_vec()
}

/// A whole distributed run on this host: a coordinator with `extra` flags
/// waiting for `k` agents, and `k` agents named `{prefix}1…`; the
/// coordinator must succeed within `limit` and the agents exit 0 after its
/// Shutdown. Returns the coordinator's output.
pub fn run_distributed(k: usize, prefix: &str, extra: &[&str], limit: Duration) -> String {
    let count = k.to_string();
    let mut args = vec!["--agents", count.as_str()];
    args.extend_from_slice(extra);
    let (mut c, url) = coordinator(&args, &[]);
    let mut agents: Vec<Proc> = (1..=k)
        .map(|i| agent(&url, &format!("{prefix}{i}"), &[], &[]))
        .collect();
    let (status, out) = c.finish(limit);
    assert!(status.success(), "{out}");
    for a in &mut agents {
        let (st, aout) = a.finish(Duration::from_secs(10));
        assert!(st.success(), "agents exit 0 after Shutdown: {aout}");
    }
    out
}
