//! Helpers for integration tests: the real `envload` binary, real servers on
//! `127.0.0.1:0`, real sockets.
#![allow(dead_code)]

pub mod hostile;
pub mod netns;
pub mod pki;
pub mod procs;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Path of the `envload` binary under test: this build's, or
/// `ENVLOAD_TEST_BIN` (to run the suite against a release build, or to show
/// that a test fails on an older one).
pub fn envload() -> String {
    std::env::var("ENVLOAD_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_envload").into())
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

/// A port nothing listens on right now (bound to 127.0.0.1:0, then freed).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `envload <args>` to completion.
pub fn run(args: &[&str]) -> Output {
    Command::new(envload())
        .args(args)
        .output()
        .expect("envload runs")
}

/// A fresh empty directory path for one test's results, removed when the
/// test passes (kept, for a look, when it fails).
pub fn out_dir(name: &str) -> OutDir {
    let dir = std::env::temp_dir().join(format!("envload-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    OutDir(dir)
}

/// A fresh file path for one test (`envload-test-{name}-{pid}.{ext}`),
/// removed as [`out_dir`]'s folders are.
pub fn out_file(name: &str, ext: &str) -> OutDir {
    let path =
        std::env::temp_dir().join(format!("envload-test-{name}-{}.{ext}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    OutDir(path)
}

/// A test's results directory (or file): a path while the test runs, gone
/// after it unless the test panicked.
pub struct OutDir(PathBuf);

impl std::ops::Deref for OutDir {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

impl AsRef<Path> for OutDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for OutDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0).or_else(|_| std::fs::remove_file(&self.0));
        }
    }
}

/// `summary.csv` as rows of fields (header first).
pub fn csv_rows(dir: &Path) -> Vec<Vec<String>> {
    csv_file(dir, "summary.csv")
}

/// `dir/name`, a CSV file, as rows of fields (header first).
pub fn csv_file(dir: &Path, name: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    text.lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// `envload run -u URL -o <a fresh folder named tag> args…`, which must
/// succeed; the folder.
pub fn run_to(tag: &str, url: &str, args: &[&str]) -> OutDir {
    let dir = out_dir(tag);
    let mut all = vec!["run", "-u", url, "-o", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    run_ok(&all);
    dir
}

/// Column `name` of the last row of `dir/summary.csv`.
pub fn last_summary(dir: &Path, name: &str) -> String {
    let rows = csv_rows(dir);
    col(&rows[0], &rows[rows.len() - 1], name).to_string()
}

/// The `error_type` of every failed session in `dir/raw.jsonl`, in order.
pub fn error_types(dir: &Path) -> Vec<String> {
    raw_lines(dir)
        .iter()
        .filter_map(|l| l["error_type"].as_str().map(str::to_string))
        .collect()
}

/// Runs `envload args…`, which must be refused as bad input (exit 2,
/// before anything runs); its stderr.
pub fn refused(args: &[&str]) -> String {
    let out = run(args);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    err
}

/// Runs `envload args…`, which must succeed; its stdout and stderr.
pub fn run_ok(args: &[&str]) -> (String, String) {
    let out = run(args);
    let t = text(&out);
    assert!(out.status.success(), "{args:?} failed:\n{}\n{}", t.0, t.1);
    t
}

/// A JSON file, parsed.
pub fn json_file(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `dir/run.json`, parsed.
pub fn run_json(dir: &Path) -> serde_json::Value {
    json_file(&dir.join("run.json"))
}

/// `GET /envload/counters` of a one-worker `envload serve` (what the
/// server saw).
pub fn counters(url: &str) -> serde_json::Value {
    serde_json::from_str(&http_get(url, "/envload/counters")).unwrap()
}

/// The body of `GET path` from `url` (`http://HOST:PORT`), plain HTTP/1.1
/// on loopback.
pub fn http_get(url: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    reply
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default()
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

/// What one measured `envload` process did.
pub struct Measured {
    /// Exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Start to exit.
    pub wall: Duration,
    /// Peak resident memory of the process, KiB: its `VmHWM`, polled every
    /// millisecond until it exits (not `ru_maxrss`, which on Linux also
    /// counts the forking test process's memory from before `exec`). It can
    /// miss at most the last millisecond's growth.
    pub peak_rss_kib: i64,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `envload <args>` to completion and measures its wall time and peak
/// memory. A process still running after `limit` is killed (SIGKILL), so a
/// hang fails the test instead of stalling it; its `code` is then `None`.
pub fn run_measured(args: &[&str], limit: Duration) -> Measured {
    let logs = std::env::temp_dir().join(format!(
        "envload-measured-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    let (out, err) = (logs.with_extension("out"), logs.with_extension("err"));
    let t0 = std::time::Instant::now();
    let mut child = Command::new(envload())
        .args(args)
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("envload starts");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_rss_kib = 0;
    let status = loop {
        if let Some(kib) = std::fs::read_to_string(&status_file)
            .ok()
            .and_then(|s| vm_hwm_kib(&s))
        {
            peak_rss_kib = peak_rss_kib.max(kib);
        }
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            break child.wait().expect("wait");
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let wall = t0.elapsed();
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let m = Measured {
        code: status.code(),
        wall,
        peak_rss_kib,
        stdout: read(&out),
        stderr: read(&err),
    };
    let _ = std::fs::remove_file(out);
    let _ = std::fs::remove_file(err);
    m
}

/// `VmHWM` (peak resident set) of a `/proc/PID/status` text, KiB.
fn vm_hwm_kib(status: &str) -> Option<i64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// numpy.percentile's default (linear interpolation between the order
/// statistics around rank (n - 1)·q) of `samples`: the reference's
/// definition, computed from raw values.
pub fn numpy_percentile(samples: &[f64], q: f64) -> f64 {
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = (v.len() - 1) as f64 * q;
    let k = rank.floor() as usize;
    let frac = rank - k as f64;
    if k + 1 < v.len() {
        v[k] + frac * (v[k + 1] - v[k])
    } else {
        v[k]
    }
}
