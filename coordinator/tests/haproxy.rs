//! Several benchmark servers behind a real HAProxy configured by `envload
//! lb-config`: `--expected-hosts 2 --require-hosts` passes while both
//! backends answer and fails, saying why, when one is down. Ignored by a plain
//! `cargo test` (it needs Debian's haproxy); `bash .ci/run` installs it and
//! runs it with `--ignored`, where a missing haproxy is a failure.

use crate::support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{col, csv_rows, out_dir, run, text, Server};

struct Haproxy(Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn require_haproxy() {
    let ok = Command::new("haproxy")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "needs haproxy (apt-get install haproxy; bash .ci/run installs it)"
    );
}

fn backend(s: &Server) -> String {
    s.url.trim_start_matches("http://").to_string()
}

#[test]
#[ignore = "needs haproxy (Debian's package); bash .ci/run installs it and runs this"]
fn every_backend_answers_through_haproxy_and_a_dead_one_fails_require_hosts() {
    require_haproxy();
    let a = Server::start(&[]);
    let b = Server::start(&[]);
    let port = support::free_port();
    let listen = format!("127.0.0.1:{port}");
    let cfg = run(&[
        "lb-config",
        "--backend",
        &backend(&a),
        "--backend",
        &backend(&b),
        "--listen",
        &listen,
        "--maxconn",
        "4096",
    ]);
    assert!(cfg.status.success(), "{:?}", text(&cfg));
    let dir = out_dir("haproxy");
    std::fs::create_dir_all(&dir).unwrap();
    let cfg_path = dir.join("haproxy.cfg");
    std::fs::write(&cfg_path, &cfg.stdout).unwrap();
    let check = Command::new("haproxy")
        .args(["-c", "-f"])
        .arg(&cfg_path)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "haproxy rejects the generated config: {:?}",
        text(&check)
    );
    let _lb = Haproxy(
        Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&cfg_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = format!("http://{listen}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(&listen).is_err() {
        assert!(Instant::now() < deadline, "haproxy never listened");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(2500)); // both backends pass their health checks

    for mode in ["ws", "http"] {
        let d = out_dir(&format!("haproxy-ok-{mode}"));
        let out = run(&[
            "run",
            "-u",
            &url,
            "-m",
            mode,
            "-n",
            "40",
            "-w",
            "0.1",
            "--expected-hosts",
            "2",
            "--require-hosts",
            "-o",
            d.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{mode} through haproxy: {:?}",
            text(&out)
        );
        let rows = csv_rows(&d);
        assert_eq!(col(&rows[0], &rows[1], "successful"), "40");
        assert_eq!(col(&rows[0], &rows[1], "unique_hosts"), "2");
    }

    drop(b); // one backend goes away; haproxy's checks take it out
    std::thread::sleep(Duration::from_millis(3500));
    let d = out_dir("haproxy-down");
    let out = run(&[
        "run",
        "-u",
        &url,
        "-n",
        "40",
        "-w",
        "0.1",
        "--expected-hosts",
        "2",
        "--require-hosts",
        "-o",
        d.to_str().unwrap(),
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("reached 1 distinct host(s), expected 2")
            && stderr.contains("--require-hosts"),
        "{stderr}"
    );
}
