//! Arrival control, checked from the server's side: `--ramp-up` spreads the
//! session starts over the ramp on the server's clock (its sessions opened
//! per 100 ms), split across agents on one schedule; the open model
//! (`--rate`/`--duration`) keeps its schedule against a slowed server, and
//! its latency counts from the scheduled start, so under an in-flight bound
//! the corrected latency grows session by session while the naive one (from
//! the actual start) does not.

use crate::support;
use support::{counters, csv_rows, out_dir, raw_lines, run_json, run_ok, Server};

/// The server's sessions opened per 100 ms, from the first.
fn opened(url: &str) -> Vec<u64> {
    counters(url)["ws_sessions_per_100ms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect()
}

/// `envload run -u URL -w 0 -o DIR EXTRA…` (must succeed); its stdout.
fn load(url: &str, dir: &std::path::Path, extra: &[&str]) -> String {
    let mut args = vec!["run", "-u", url, "-w", "0", "-o", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    run_ok(&args).0
}

#[test]
fn a_ramp_spreads_the_starts_evenly_on_the_servers_clock() {
    for agents in ["0", "2"] {
        let s = Server::start(&["--workers", "1"]);
        let dir = out_dir(&format!("ramp-{agents}"));
        let stdout = load(
            &s.url,
            &dir,
            &["-n", "40", "--ramp-up", "2", "--agents", agents],
        );
        assert!(
            stdout.contains("arrivals: starts spread over 2.00 s (ramp)"),
            "{stdout}"
        );
        let slots = opened(&s.url);
        assert_eq!(slots.iter().sum::<u64>(), 40, "{slots:?}");
        // 40 starts over 2 s: one every 50 ms, the last at 1.95 s.
        assert!(
            (18..=21).contains(&slots.len()),
            "agents {agents}: span {slots:?}"
        );
        assert!(
            slots.iter().all(|&c| c <= 4),
            "agents {agents}: bunched {slots:?}"
        );
        for half in [&slots[..10], &slots[10..]] {
            let n: u64 = half.iter().sum();
            assert!((16..=24).contains(&n), "agents {agents}: uneven {slots:?}");
        }
        let lines = raw_lines(&dir);
        assert!(
            lines
                .iter()
                .all(|l| l["start_lag"].as_f64().unwrap() < 0.25),
            "timers on time"
        );
    }
    // Without a ramp they all open at once.
    let s = Server::start(&["--workers", "1"]);
    let dir = out_dir("ramp-none");
    load(&s.url, &dir, &["-n", "40"]);
    assert!(opened(&s.url).len() <= 3, "{:?}", opened(&s.url));
    assert!(raw_lines(&dir).iter().all(|l| l.get("start_lag").is_none()));
}

/// Total latency (corrected) and total minus start lag (naive) of each
/// session, in request order.
fn corrected_and_naive(dir: &std::path::Path) -> Vec<(f64, f64)> {
    let mut lines = raw_lines(dir);
    lines.sort_by_key(|l| l["request_id"].as_u64().unwrap());
    lines
        .iter()
        .map(|l| {
            assert_eq!(l["success"], true, "{l}");
            let total = l["total_latency"].as_f64().unwrap();
            (total, total - l["start_lag"].as_f64().unwrap())
        })
        .collect()
}

#[test]
fn the_open_model_counts_latency_from_the_scheduled_start() {
    // Each session holds the server 0.25 s (its reset); 20 sessions/s are
    // due. With at most 2 in flight only 8/s can run: starts fall behind.
    let s = Server::start(&["--workers", "1", "--reset-seconds", "0.25"]);
    let dir = out_dir("open-bounded");
    let stdout = load(
        &s.url,
        &dir,
        &["--rate", "20", "--duration", "2", "--max-in-flight", "2"],
    );
    assert!(
        stdout.contains("open model, at most 2 in flight"),
        "{stdout}"
    );
    assert_eq!(
        counters(&s.url)["resets_in_flight_max"],
        2,
        "the bound held"
    );
    let rows = csv_rows(&dir);
    let col = |name: &str| rows[1][rows[0].iter().position(|h| h == name).unwrap()].clone();
    assert_eq!(col("num_requests"), "40", "rate × duration sessions");
    let v = corrected_and_naive(&dir);
    let mean = |xs: &[(f64, f64)], f: fn(&(f64, f64)) -> f64| {
        xs.iter().map(f).sum::<f64>() / xs.len() as f64
    };
    let (first, last) = (&v[..5], &v[35..]);
    eprintln!(
        "corrected first/last {:.3}/{:.3} s, naive {:.3}/{:.3} s",
        mean(first, |p| p.0),
        mean(last, |p| p.0),
        mean(first, |p| p.1),
        mean(last, |p| p.1)
    );
    // 40 sessions at 8/s end near 5 s; the last was due at 1.95 s.
    assert!(mean(last, |p| p.0) > mean(first, |p| p.0) + 2.0, "{v:?}");
    assert!(
        (mean(last, |p| p.1) - mean(first, |p| p.1)).abs() < 0.2,
        "{v:?}"
    );
    assert!(
        v.iter().all(|p| p.1 < 0.6),
        "naive stays one session: {v:?}"
    );
    let total_p99: f64 = col("total_p99").parse().unwrap();
    assert!(
        total_p99 > 2.5,
        "summary.csv reports the corrected latency: {total_p99}"
    );
    let lag = &run_json(&dir)["phases"][0]["start_lag"];
    assert!(lag["max"].as_f64().unwrap() > 2.0, "{lag}");

    // Unbounded, the same rate holds its schedule: no lag, no queueing.
    let dir = out_dir("open-free");
    load(&s.url, &dir, &["--rate", "20", "--duration", "1"]);
    let v = corrected_and_naive(&dir);
    assert_eq!(v.len(), 20);
    assert!(v.iter().all(|p| p.0 - p.1 < 0.25 && p.0 < 0.6), "{v:?}");
}

#[test]
fn the_open_model_splits_across_agents_on_one_schedule() {
    let s = Server::start(&["--workers", "1"]);
    let dir = out_dir("open-agents");
    load(
        &s.url,
        &dir,
        &["--rate", "20", "--duration", "1.5", "--agents", "2"],
    );
    let slots = opened(&s.url);
    assert_eq!(slots.iter().sum::<u64>(), 30, "{slots:?}");
    assert!((14..=16).contains(&slots.len()), "{slots:?}");
    assert!(slots.iter().all(|&c| c <= 4), "{slots:?}");
    let doc = run_json(&dir);
    let agents = doc["phases"][0]["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 2);
    assert_eq!(
        agents[0]["assigned"].as_u64().unwrap() + agents[1]["assigned"].as_u64().unwrap(),
        30
    );
}
