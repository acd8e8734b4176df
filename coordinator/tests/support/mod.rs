//! Helpers for integration tests: the real `envload` binary, real servers on
//! `127.0.0.1:0`, real sockets.
#![allow(dead_code)]

pub mod procs;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Path of the `envload` binary under test.
pub fn envload() -> &'static str {
    env!("CARGO_BIN_EXE_envload")
}

/// A running `envload serve`, stopped (SIGTERM) when dropped.
pub struct Server {
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The pids the listening line names.
    pub pids: Vec<u32>,
}

impl Server {
    /// Starts `envload serve --host 127.0.0.1 --port 0 <extra>` and waits for
    /// its listening line.
    pub fn start(extra: &[&str]) -> Server {
        let mut child = Command::new(envload())
            .args(["serve", "--host", "127.0.0.1", "--port", "0"])
            .args(extra)
            .env_remove("PORT")
            .env_remove("WORKERS")
            .env_remove("MAX_CONCURRENT_ENVS")
            .stdout(Stdio::piped())
            .spawn()
            .expect("envload serve starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("envload serve printed no listening line within 30 s");
        };
        let Some(url) = line
            .split_whitespace()
            .find(|w| w.starts_with("http://") || w.starts_with("https://"))
            .map(str::to_string)
        else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no URL in {line:?}");
        };
        let pids = line
            .split("pids: ")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .map(|p| {
                p.split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        Server { child, url, pids }
    }

    /// The WebSocket endpoint.
    pub fn ws_url(&self) -> String {
        format!("{}/ws", self.url.replacen("http", "ws", 1))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// Runs `envload <args>` to completion.
pub fn run(args: &[&str]) -> Output {
    Command::new(envload())
        .args(args)
        .output()
        .expect("envload runs")
}

/// A fresh empty directory for one test's results.
pub fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("envload-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// `summary.csv` as rows of fields (header first).
pub fn csv_rows(dir: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(dir.join("summary.csv")).expect("summary.csv exists");
    text.lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// `raw.jsonl` as JSON values.
pub fn raw_lines(dir: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("raw.jsonl")).expect("raw.jsonl exists");
    text.lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

/// Field `name` of a summary row.
pub fn col<'a>(header: &[String], row: &'a [String], name: &str) -> &'a str {
    let i = header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}"));
    &row[i]
}

/// stdout and stderr of an output, as text.
pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}
