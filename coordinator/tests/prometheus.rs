//! `--metrics-listen` scraped by a real Prometheus server (Debian's
//! `prometheus` package): a coordinator with two agents runs two phases,
//! one past the server's capacity; Prometheus scrapes it every second, and
//! the values queried back through Prometheus' HTTP API agree with
//! summary.csv — sessions by outcome, failures by error_type, the phase
//! percentiles, the latency histogram's count, agents connected.

use crate::support;

use std::time::{Duration, Instant};

use support::procs::{agent, coordinator, Proc};
use support::{csv_rows, free_port, http_get, out_dir, Server};

/// A Prometheus server scraping `target` every second; stopped on drop.
struct Prometheus {
    url: String,
    child: std::process::Child,
    _dir: support::OutDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    fn start(target: &str) -> Prometheus {
        let dir = out_dir("prometheus");
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: envload\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let child = std::process::Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={listen}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("prometheus runs (Debian's prometheus package; bash .ci/run installs it)");
        let p = Prometheus {
            url: format!("http://{listen}"),
            child,
            _dir: dir,
        };
        let t = Instant::now();
        while std::net::TcpStream::connect(&listen).is_err()
            || !http_get(&p.url, "/-/ready").contains("Ready")
        {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "prometheus not ready"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        // Its discovery hands the target to the scraper a few seconds after
        // start: wait for the first scrape (of nothing yet: up = 0), so the
        // run is scraped from its beginning.
        while p.value("up").is_none() {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "prometheus never scraped"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        p
    }

    /// The value of an instant query that returns one sample (None: no
    /// sample).
    fn value(&self, query: &str) -> Option<f64> {
        let enc: String = query
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let body = http_get(&self.url, &format!("/api/v1/query?query={enc}"));
        let doc: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        assert_eq!(doc["status"], "success", "{query}: {body}");
        let result = doc["data"]["result"].as_array().unwrap();
        assert!(result.len() <= 1, "{query}: {body}");
        result
            .first()
            .map(|r| r["value"][1].as_str().unwrap().parse().unwrap())
    }
}

#[test]
#[ignore = "needs Debian's prometheus (apt install prometheus); bash .ci/run installs it"]
fn prometheus_scraping_a_coordinator_agrees_with_summary_csv() {
    let s = Server::start(&["--workers", "1", "--max-concurrent-envs", "10"]);
    let metrics_port = free_port();
    let metrics = format!("127.0.0.1:{metrics_port}");
    let prom = Prometheus::start(&metrics);
    let dir = out_dir("prometheus-run");
    // Steps of 3 s: each phase has sessions in flight for over 2 s after
    // the agents' first progress report (0.5 s), so 1 s scrapes see them
    // (with 1.5 s steps one CI run in six caught none).
    let (mut c, url) = coordinator(
        &[
            "--agents",
            "2",
            "-u",
            &s.url,
            "--requests-grid",
            "8,12",
            "-w",
            "3",
            "--metrics-listen",
            &metrics,
            "--metrics-linger",
            "30",
            "-o",
            dir.to_str().unwrap(),
        ],
        &[],
    );
    let _agents: Vec<Proc> = (1..=2)
        .map(|i| agent(&url, &format!("prom{i}"), &[], &[]))
        .collect();
    c.wait_line("Results saved to", Duration::from_secs(60));
    // The run is over and the endpoint lingers: wait for a scrape of the
    // final values.
    let t = Instant::now();
    while prom.value("envload_phases_completed_total") != Some(2.0) {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "no scrape of the final values"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let rows = csv_rows(&dir);
    let col = |row: &[String], name: &str| -> f64 {
        row[rows[0].iter().position(|h| h == name).unwrap()]
            .parse()
            .unwrap()
    };
    let sum = |name: &str| rows[1..].iter().map(|r| col(r, name)).sum::<f64>();
    assert_eq!(sum("failed"), 2.0, "12 sessions against a capacity of 10");
    let v = |q: &str| prom.value(q).unwrap_or_else(|| panic!("no sample for {q}"));
    assert_eq!(v("envload_sessions_succeeded_total"), sum("successful"));
    assert_eq!(v("envload_sessions_started_total"), 20.0);
    assert_eq!(v("sum(envload_sessions_failed_total)"), sum("failed"));
    assert_eq!(
        v("envload_sessions_failed_total{error_type=\"CapacityReached\"}"),
        2.0
    );
    assert_eq!(
        v("envload_session_latency_seconds_count{stage=\"total\"}"),
        sum("successful")
    );
    assert_eq!(v("max_over_time(envload_agents_connected[5m])"), 2.0);
    assert!(
        v("max_over_time(envload_sessions_active[5m])") > 0.0,
        "scraped mid-phase"
    );
    for (i, row) in rows[1..].iter().enumerate() {
        let labels = format!("phase=\"{}\"", i + 1);
        assert_eq!(
            v(&format!(
                "envload_phase_sessions{{{labels},outcome=\"successful\"}}"
            )),
            col(row, "successful")
        );
        for (stage, q, column) in [
            ("total", "0.99", "total_p99"),
            ("total", "0.5", "total_p50"),
            ("step", "0.95", "step_p95"),
            ("connect", "0.99", "connect_p99"),
        ] {
            let got = v(&format!(
                "envload_phase_latency_seconds{{{labels},stage=\"{stage}\",quantile=\"{q}\"}}"
            ));
            assert!(
                (got - col(row, column)).abs() < 1e-5,
                "phase {}: {column} {got} vs {}",
                i + 1,
                col(row, column)
            );
        }
    }
    // The linger ends at a signal; the run's exit code stays 0.
    c.signal(libc::SIGINT);
    let status = c.wait_exit(Duration::from_secs(10)).expect("exits");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn a_single_host_run_serves_its_live_metrics_and_a_busy_address_is_bad_input() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let dir = out_dir("metrics-run");
    let mut p = Proc::spawn(
        &[
            "run",
            "-n",
            "4",
            "-w",
            "2",
            "--metrics-listen",
            &addr,
            "-o",
            dir.to_str().unwrap(),
        ],
        &[],
    );
    p.wait_line("[WS] N=4", Duration::from_secs(20));
    let url = format!("http://{addr}");
    let t = Instant::now();
    loop {
        let text = http_get(&url, "/metrics");
        if text.contains("envload_sessions_active 4\n") {
            assert!(text.contains("envload_agents_connected 1\n"), "{text}");
            assert!(
                text.contains("envload_phase_running{phase=\"1\",mode=\"ws\",batch_size=\"4\""),
                "{text}"
            );
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(3), "not live: {text}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(http_get(&url, "/nothing").contains("not found"));
    // While it listens, the same address is refused before anything runs.
    let other = support::run(&["run", "-n", "1", "--metrics-listen", &addr]);
    let (_, stderr) = support::text(&other);
    assert_eq!(other.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("--metrics-listen {addr}: cannot listen")),
        "{stderr}"
    );
    let (status, out) = p.finish(Duration::from_secs(20));
    assert!(status.success(), "{out}");
}
