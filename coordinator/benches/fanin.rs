//! Fan-in at scale: a real `envload coordinator` process (`--no-records`)
//! and K simulated agents speaking the real gRPC protocol — each its own
//! HTTP/2 connection: Hello, Welcome, Assignment, Ready, Start, a heartbeat
//! and a progress delta every 500 ms (the real agent's tick) carrying the
//! histograms of the sessions that ended since, then Done — hosted by a few
//! processes of this bench. Sessions are not run: each session's latencies
//! are drawn from a realistic distribution (a 1 s step plus lognormal
//! overheads) keyed by its request id, and sessions end spread over the
//! phase, so the coordinator receives what K agents would send.
//!
//! Prints one last line: `fanin: agents=K sessions=S merge_ms=…
//! attach_cpu_s=… coordinator_cpu_pct=… coordinator_peak_rss_mib=… done_to_summary_ms=…
//! exact=true|false`, where S is sessions per agent; merge_ms is the
//! coordinator's merge code (`merge_stats`) decoding and merging the K
//! agents' whole-phase statistics from their wire bytes, in this process;
//! attach_cpu_s is the coordinator's CPU from its start to the first Start
//! (K agents connecting and attaching);
//! coordinator CPU is its CPU over the phase (first Start to last Done) ÷ the
//! phase's wall; peak RSS is its whole life's (`wait4`); done_to_summary is
//! from the last agent's Done to the coordinator's line with the phase's
//! result (printed once its files are written); exact compares the
//! coordinator's merged total histogram (`histograms.jsonl`) with the sum
//! of every session's latency drawn here.
//!
//! `ENVLOAD_FANIN_AGENTS` (default 1024), `ENVLOAD_FANIN_SESSIONS` per agent
//! (64), `ENVLOAD_FANIN_SECONDS` the phase's spread (10), and
//! `ENVLOAD_FANIN_PROCS` the processes hosting the agents (4).
//!
//! The link's TLS (`envload coordinator --tls-cert/--tls-key`, agents at
//! `https://` trusting the CA) is measured in the same run: the phase once
//! over plain HTTP/2, then once over TLS, each with its `fanin:` line, then
//! `fanin_tls: attach_cpu_ratio=… cpu_ratio=… rss_ratio=… done_to_summary_ms_plain=…
//! done_to_summary_ms_tls=…` (TLS ÷ plain). `ENVLOAD_FANIN_TLS=0` runs the
//! plain phase alone, `only` the TLS one alone.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use envload_agent::convert::{latency_to_proto, merge_stats, stats_to_proto};
use envload_agent::PhaseStats;
use envload_proto::v1::{self, agent_message::Msg as Up, coordinator_message::Msg as Down};

mod common;
#[path = "../tests/support/mod.rs"]
mod support;

const ENVLOAD: &str = env!("CARGO_BIN_EXE_envload");
/// Set in the bench's own children: `URL FIRST COUNT SECONDS [CA]`.
const CHILD: &str = "ENVLOAD_FANIN_CHILD";
/// The real agent's reporting tick.
const TICK: Duration = Duration::from_millis(500);

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name} is a count")))
        .unwrap_or(default)
}

/// A session's latencies (µs): connect, reset, step, total — a 1 s step
/// plus lognormal overheads, drawn from its request id.
fn latencies(request_id: u64) -> [u64; 4] {
    let mut x = request_id
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(0xD1B5_4A32_D192_ED03);
    let mut uniform = || {
        x ^= x >> 33;
        x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        x ^= x >> 33;
        ((x >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut normal = || {
        let (u1, u2) = (uniform(), uniform());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    };
    let connect = (800.0 * (0.8 * normal()).exp()) as u64;
    let reset = (1500.0 * (0.9 * normal()).exp()) as u64;
    let step = 1_000_000 + (3000.0 * (1.0 * normal()).exp()) as u64;
    [connect, reset, step, connect + reset + step + 200]
}

/// Sessions `first..first+count`'s statistics.
fn stats_of(ids: impl Iterator<Item = u64>) -> PhaseStats {
    let mut s = PhaseStats::default();
    for r in ids {
        let [c, re, st, t] = latencies(r);
        s.sessions += 1;
        s.successful += 1;
        s.connect.record(c);
        s.reset.record(re);
        s.step.record(st);
        s.total.record(t);
    }
    s
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD) {
        return child(&spec);
    }
    let k = env_or("ENVLOAD_FANIN_AGENTS", 1024);
    let s = env_or("ENVLOAD_FANIN_SESSIONS", 64);
    let spread = env_or("ENVLOAD_FANIN_SECONDS", 10);
    let procs = env_or("ENVLOAD_FANIN_PROCS", 4).clamp(1, k);
    let tls = std::env::var("ENVLOAD_FANIN_TLS").unwrap_or_default();
    let plain = (tls != "only").then(|| phase(k, s, spread, procs, None));
    let pki = support::pki::make_pki("fanin");
    let secure = (tls != "0").then(|| phase(k, s, spread, procs, Some(&pki)));
    if let (Some(p), Some(t)) = (plain, secure) {
        println!(
            "fanin_tls: agents={k} attach_cpu_ratio={:.2} cpu_ratio={:.2} rss_ratio={:.2} done_to_summary_ms_plain={} done_to_summary_ms_tls={}",
            t.attach_cpu / p.attach_cpu.max(1e-9),
            t.cpu_pct / p.cpu_pct.max(1e-9),
            t.rss_mib / p.rss_mib.max(1e-9),
            p.done_to_summary_ms,
            t.done_to_summary_ms
        );
    }
}

/// What one phase measured of the coordinator.
struct Figures {
    /// The coordinator's CPU seconds from its start to the first Start: K
    /// agents attaching (TLS handshakes included).
    attach_cpu: f64,
    cpu_pct: f64,
    rss_mib: f64,
    done_to_summary_ms: u64,
}

/// One phase of K agents × S sessions through a fresh coordinator, over
/// TLS when `pki` is given; prints its `fanin:` line.
#[allow(clippy::zombie_processes)] // the coordinator is reaped by common::wait_rusage
fn phase(k: u64, s: u64, spread: u64, procs: u64, pki: Option<&support::pki::Pki>) -> Figures {
    let n = k * s;
    let link = if pki.is_some() { "TLS" } else { "plain" };
    let dir = std::env::temp_dir().join(format!("envload-fanin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "fan-in bench: {k} simulated agents in {procs} processes, {s} sessions each ({n} in all), ends spread over {spread} s, coordinator --no-records, {link} link"
    );

    let mut coordinator = Command::new(ENVLOAD);
    coordinator
        .args(["coordinator", "--listen", "127.0.0.1:0", "--agents"])
        .arg(k.to_string())
        .args(["--agent-wait", "600", "--heartbeat-deadline", "30"])
        .args(["-u", "http://127.0.0.1:9", "-n"])
        .arg(n.to_string())
        .args(["-w", "1.0", "--no-records", "-o"])
        .arg(&dir);
    if let Some(pki) = pki {
        coordinator
            .arg("--tls-cert")
            .arg(&pki.cert)
            .arg("--tls-key")
            .arg(&pki.key);
    }
    let mut coordinator = coordinator
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .env_remove("ENVLOAD_TOKEN")
        .spawn()
        .expect("envload coordinator starts");
    let pid = coordinator.id();
    let mut out = BufReader::new(coordinator.stdout.take().unwrap());
    let url = loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "coordinator exited");
        if let Some(rest) = line.split("listening on ").nth(1) {
            let scheme = if pki.is_some() { "https" } else { "http" };
            break format!("{scheme}://{}", rest.split(';').next().unwrap().trim());
        }
    };
    // When the coordinator says the phase's result (after its files).
    let summarized = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    {
        let summarized = summarized.clone();
        std::thread::spawn(move || {
            for l in out.lines().map_while(Result::ok) {
                if l.contains(" success (") {
                    summarized.store(unix_ms(), std::sync::atomic::Ordering::SeqCst);
                }
            }
        });
    }

    // The agents' processes; each reports `start MS`, `done MS` per agent.
    let (tx, rx) = mpsc::channel::<(String, u64)>();
    let me = std::env::current_exe().unwrap();
    let mut children = Vec::new();
    for p in 0..procs {
        let (first, count) = (p * k / procs, (p + 1) * k / procs - p * k / procs);
        let ca = pki.map(|p| p.ca.display().to_string()).unwrap_or_default();
        let mut c = Command::new(&me)
            .env(CHILD, format!("{url} {first} {count} {spread} {ca}"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("the bench's agent process starts");
        let lines = BufReader::new(c.stdout.take().unwrap());
        let tx = tx.clone();
        std::thread::spawn(move || {
            for l in lines.lines().map_while(Result::ok) {
                if let Some((what, ms)) = l.split_once(' ') {
                    let _ = tx.send((what.to_string(), ms.parse().unwrap_or(0)));
                }
            }
        });
        children.push(c);
    }
    drop(tx);
    let (mut cpu_start, mut t_start, mut last_done, mut dones) = (0.0, None, 0u64, 0);
    while dones < k {
        let (what, ms) = rx.recv().expect("the agents' processes report");
        match what.as_str() {
            "start" if t_start.is_none() => {
                cpu_start = common::cpu_of(&[pid]);
                t_start = Some(Instant::now());
            }
            "done" => {
                dones += 1;
                last_done = last_done.max(ms);
            }
            _ => {}
        }
    }
    let phase_wall = t_start.map_or(0.0, |t| t.elapsed().as_secs_f64());
    let cpu = common::cpu_of(&[pid]) - cpu_start;
    let (_, peak_kib) = common::wait_rusage(&coordinator);
    std::thread::sleep(Duration::from_millis(100)); // its last lines read
    let said = summarized.load(std::sync::atomic::Ordering::SeqCst);
    let done_to_summary = said.saturating_sub(last_done);
    for mut c in children {
        let _ = c.wait();
    }

    // Exact: the coordinator's total against every session's, drawn here.
    let text = std::fs::read_to_string(dir.join("histograms.jsonl")).unwrap();
    let row: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    use base64::Engine;
    let got = envload_proto::histogram::decode(
        &base64::engine::general_purpose::STANDARD
            .decode(row["total"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let want_stats = stats_of(0..n);
    let want = envload_proto::histogram::decode(&latency_to_proto(&want_stats.total).hdr).unwrap();
    let counts = |h: &hdrhistogram::Histogram<u64>| {
        h.iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect::<Vec<_>>()
    };
    let exact = got.len() == n && counts(&got) == counts(&want);

    // The merge: the K agents' whole-phase statistics from their bytes.
    let wire: Vec<v1::Stats> = (0..k)
        .map(|a| stats_to_proto(&stats_of(a * s..(a + 1) * s)))
        .collect();
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let mut merged = PhaseStats::default();
        for w in &wire {
            merge_stats(&mut merged, w).unwrap();
        }
        best = best.min(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(merged.sessions, n);
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "phase wall {phase_wall:.1} s; coordinator CPU over it {cpu:.2} s; merged total {} of {n} sessions",
        got.len()
    );
    println!("targets at K=1024: coordinator CPU < 100% (one core), merge < 50 ms, peak RSS < 1024 MiB, exact");
    let figures = Figures {
        attach_cpu: cpu_start,
        cpu_pct: cpu / phase_wall.max(1e-9) * 100.0,
        rss_mib: peak_kib / 1024.0,
        done_to_summary_ms: done_to_summary,
    };
    println!(
        "fanin: link={link} agents={k} sessions={s} merge_ms={best:.1} attach_cpu_s={:.2} coordinator_cpu_pct={:.1} coordinator_peak_rss_mib={:.1} done_to_summary_ms={done_to_summary} exact={exact}",
        figures.attach_cpu, figures.cpu_pct, figures.rss_mib
    );
    figures
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A process hosting agents `first..first+count` on one thread.
fn child(spec: &str) {
    let f: Vec<&str> = spec.split(' ').collect();
    let (url, first, count, spread) = (
        f[0].to_string(),
        f[1].parse::<u64>().unwrap(),
        f[2].parse::<u64>().unwrap(),
        f[3].parse::<f64>().unwrap(),
    );
    let ca = f
        .get(4)
        .filter(|c| !c.is_empty())
        .map(|c| std::fs::read(c).expect("the CA certificate"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut set = tokio::task::JoinSet::new();
        for a in first..first + count {
            let (url, ca) = (url.clone(), ca.clone());
            set.spawn(async move { agent(&url, ca.as_deref(), a, spread).await });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap();
        }
    });
}

/// A started share: when it started, its sessions' (end s, start s,
/// request id) by end, and how many were reported.
type Running = (Instant, Vec<(f64, f64, u64)>, usize);

/// One simulated agent, from Hello to Shutdown.
async fn agent(url: &str, ca: Option<&[u8]>, index: u64, spread: f64) {
    use tokio_stream::wrappers::ReceiverStream;
    let up = |m: Up| v1::AgentMessage { msg: Some(m) };
    let hello = v1::Hello {
        protocol_version: envload_proto::PROTOCOL_VERSION,
        token: String::new(),
        name: format!("sim-{index}"),
        host: format!("sim-host-{}", index % 64),
        cpus: 1,
        fd_limit: 65536,
        envload_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    // Dial and attach as the real agent does: a refused or cut attempt is
    // tried again after a pause (up to a minute).
    let deadline = Instant::now() + Duration::from_secs(60);
    let (tx, mut inbound) = loop {
        let attempt = async {
            let mut endpoint = tonic::transport::Endpoint::from_shared(url.to_string())
                .unwrap()
                .tcp_nodelay(true);
            if let Some(ca) = ca {
                endpoint = endpoint
                    .tls_config(
                        tonic::transport::ClientTlsConfig::new()
                            .ca_certificate(tonic::transport::Certificate::from_pem(ca))
                            .domain_name("localhost"),
                    )
                    .unwrap();
            }
            let channel = endpoint.connect().await.map_err(|e| e.to_string())?;
            let (tx, rx) = tokio::sync::mpsc::channel(64);
            tx.send(up(Up::Hello(hello.clone()))).await.unwrap();
            let mut client = v1::coordinator_client::CoordinatorClient::new(channel)
                .max_decoding_message_size(64 << 20);
            let inbound = client
                .attach(ReceiverStream::new(rx))
                .await
                .map_err(|e| e.to_string())?
                .into_inner();
            Ok::<_, String>((tx, inbound))
        };
        match attempt.await {
            Ok(pair) => break pair,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100 + index % 400)).await;
            }
            Err(e) => panic!("agent {index} could not attach within a minute: {e}"),
        }
    };
    let mut share: Option<(u64, u64, u64)> = None; // phase, first id, count
                                                   // After Start: when, the sessions' (end s, start s, request id) by end,
                                                   // and how many were reported.
    let mut running: Option<Running> = None;
    let mut tick = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            m = inbound.message() => match m.ok().flatten().and_then(|m| m.msg) {
                Some(Down::Assignment(a)) => {
                    share = Some((a.phase, a.first_request_id, a.count));
                    tx.send(up(Up::Ready(v1::Ready { phase: a.phase }))).await.unwrap();
                }
                Some(Down::Start(_)) => {
                    let (_, first, count) = share.expect("Start after an Assignment");
                    // Session i starts at i/count of the spread (less the
                    // last session's length) and ends its total later.
                    let span = (spread - 1.5).max(0.0);
                    let mut sessions: Vec<(f64, f64, u64)> = (0..count)
                        .map(|i| {
                            let start = i as f64 / count.max(1) as f64 * span;
                            (start + latencies(first + i)[3] as f64 / 1e6, start, first + i)
                        })
                        .collect();
                    sessions.sort_by(|a, b| a.0.total_cmp(&b.0));
                    running = Some((Instant::now(), sessions, 0));
                    println!("start {}", unix_ms());
                }
                Some(Down::Shutdown(_)) | None => return,
                _ => {}
            },
            _ = tick.tick() => {
                let _ = tx.send(up(Up::Heartbeat(v1::Heartbeat { sent_unix_ms: unix_ms() }))).await;
                let (Some((phase, _, count)), Some((t0, sessions, reported))) = (share, running.as_mut()) else {
                    continue;
                };
                let now = t0.elapsed().as_secs_f64();
                let ended = sessions.partition_point(|e| e.0 <= now);
                let started = sessions.iter().filter(|e| e.1 <= now).count() as u64;
                let delta = stats_of(sessions[*reported..ended].iter().map(|e| e.2));
                *reported = ended;
                let progress = v1::Progress {
                    phase,
                    started,
                    delta: Some(stats_to_proto(&delta)),
                    intervals: Vec::new(),
                };
                tx.send(up(Up::Progress(progress))).await.unwrap();
                if ended == sessions.len() {
                    let done = v1::PhaseDone {
                        phase,
                        wall_us: (now * 1e6) as u64,
                        pids: Vec::new(),
                        hosts: vec![format!("sim-host-{}", index % 64)],
                        unique_sessions: 0,
                        first_start_unix_us: 0,
                    };
                    // Its time is taken before it is sent: the coordinator
                    // may finish the phase before this line is printed.
                    let at = unix_ms();
                    tx.send(up(Up::Done(done))).await.unwrap();
                    println!("done {at}");
                    let _ = count;
                    running = None;
                    share = None;
                }
            }
        }
    }
}
