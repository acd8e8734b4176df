//! One session of a share, from its start to its record: the protocol's
//! session (WebSocket, HTTP, or MCP over either), a panic inside envload caught as a failure
//! that says so, and the record every session yields whatever happened.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::FutureExt;
use rustls::ClientConfig;
use tokio::sync::Semaphore;

use crate::failure::{ErrorType, Failure};
use crate::group::Groups;
use crate::http_conn::HttpConn;
use crate::plan::{Arrival, Assignment, CloseMode, Limits, Mode};
use crate::record::SessionRecord;
use crate::resolve::Resolver;
use crate::rollout::{self, RolloutSpec};
use crate::target::Target;
use crate::{http, http_wire, mcp_http, replaying, upgrade, ws};

/// What every session of a share has in common.
pub(crate) struct ShareSpec {
    pub mode: Mode,
    pub targets: Vec<Target>,
    pub wait_seconds: f64,
    pub limits: Limits,
    pub close: CloseMode,
    pub hardware: String,
    pub batch_size: u64,
    pub first_request_id: u64,
    pub count: u64,
    /// The share's one TLS configuration when a target needs it; a bad one
    /// fails every session with its reason rather than panicking.
    pub tls: Result<Option<Arc<ClientConfig>>, String>,
    /// The share's start, which `ended_after` counts from.
    pub start: Instant,
    /// The WebSocket step message, built once.
    pub step: tokio_tungstenite::tungstenite::Utf8Bytes,
    /// A rollout workload (`None`: the benchmark's one-step session).
    pub rollout: Option<RolloutSpec>,
    /// When sessions start.
    pub arrival: Arrival,
    /// This share's part of the phase's in-flight bound.
    pub in_flight: Option<Semaphore>,
    /// Sessions started so far (past their schedule and the bound).
    pub started: AtomicU64,
    /// Sessions started per interval of the time series (`interval` wide).
    pub starts: std::sync::Mutex<Vec<u64>>,
    /// The time series' interval width.
    pub interval: Duration,
    /// Source addresses for loopback targets.
    pub loopback_sources: u8,
    /// When each session starts after the share's start (empty: at once).
    pub schedule: Vec<Duration>,
    /// Sessions that vanish (`--abort`), chosen by `abort_seed`.
    pub abort: Option<crate::plan::Abort>,
    /// The workload's seed.
    pub abort_seed: u64,
    /// The user's headers, expanded from this process's environment; a
    /// variable it lacks fails every session, named.
    pub headers: Result<Vec<(String, String)>, String>,
    /// A stage plan: the share's `count` are virtual users running sessions
    /// back to back as the plan holds them (`stages`).
    pub stages: Option<crate::stages::Stages>,
}

impl ShareSpec {
    /// The common part of `a`'s sessions, starting now.
    pub fn new(a: &Assignment) -> Self {
        let tls = if a.targets.iter().any(|t| t.tls) {
            crate::tls::client_config(&a.tls)
                .map(Some)
                .map_err(|e| e.to_string())
        } else {
            Ok(None)
        };
        let step = ws::step_message(a.wait_seconds);
        // MCP sessions always run a workload: their steps are tool calls.
        let rollout = (!a.workload.is_benchmark() || a.mode.is_mcp()).then(|| {
            RolloutSpec::new(
                a.workload.clone(),
                a.wait_seconds,
                step.clone(),
                share_of(a.workload.max_resets_in_flight, a),
                Groups::new(a.workload.group, a.first_request_id, a.count),
            )
            .deaf(a.no_pong)
            .over(a.mode)
        });
        ShareSpec {
            mode: a.mode,
            targets: match a.mode {
                Mode::McpWs => a.targets.iter().map(Target::mcp_ws).collect(),
                _ => a.targets.clone(),
            },
            wait_seconds: a.wait_seconds,
            limits: a.limits(),
            close: a.close,
            hardware: a.hardware.clone(),
            batch_size: a.batch_size,
            first_request_id: a.first_request_id,
            count: a.count,
            tls,
            start: Instant::now(),
            step,
            rollout,
            arrival: a.arrival,
            in_flight: share_of(a.arrival.max_in_flight, a).map(Semaphore::new),
            started: AtomicU64::new(0),
            starts: Default::default(),
            interval: a.interval.max(Duration::from_millis(1)),
            loopback_sources: a.loopback_sources,
            headers: crate::headers::expand_all(&a.headers),
            abort: a.abort,
            abort_seed: a.workload.seed,
            stages: a.stages.clone(),
            schedule: a.arrival.schedule(
                a.first_request_id,
                a.count,
                a.batch_size,
                a.workload.group,
            ),
        }
    }

    /// A session starts now: counted, and in its interval.
    pub fn count_start(&self) {
        self.started.fetch_add(1, Ordering::Relaxed);
        let i = (self.start.elapsed().as_nanos() / self.interval.as_nanos()) as usize;
        let mut starts = self.starts.lock().unwrap_or_else(|p| p.into_inner());
        if starts.len() <= i {
            starts.resize(i + 1, 0);
        }
        starts[i] += 1;
    }

    /// Sessions started in intervals `from..to`.
    pub fn started_in(&self, from: u64, to: u64) -> u64 {
        let starts = self.starts.lock().unwrap_or_else(|p| p.into_inner());
        let (from, to) = (from as usize, (to as usize).min(starts.len()));
        starts.get(from..to).map_or(0, |s| s.iter().sum())
    }

    /// When session `i` of the share is due (`None`: at once).
    pub fn due(&self, i: u64) -> Option<Instant> {
        let offset = self.schedule.get(usize::try_from(i).ok()?)?;
        Some(self.start + *offset)
    }
}

/// This agent's part of a phase-wide bound R (`--max-resets-in-flight`,
/// `--max-in-flight`): R in proportion to its share of the phase, at least
/// one; `None` for no bound (0).
fn share_of(r: u64, a: &Assignment) -> Option<usize> {
    (r > 0).then(|| {
        let share = u128::from(r) * u128::from(a.count) / u128::from(a.batch_size.max(1));
        usize::try_from(share).unwrap_or(usize::MAX).max(1)
    })
}

/// What the sessions of one shard share: the resolved target addresses
/// and each target's request head, built once.
pub(crate) struct ShardTools {
    resolver: Resolver,
    /// Each target's WebSocket upgrade head, or HTTP header block (HTTP
    /// modes).
    heads: Vec<String>,
}

impl ShardTools {
    /// Tools for `spec`'s sessions.
    pub fn new(spec: &ShareSpec) -> Self {
        let headers = spec.headers.as_deref().unwrap_or_default();
        let http = matches!(spec.mode, Mode::Http | Mode::McpHttp);
        ShardTools {
            resolver: Resolver::new(&spec.targets),
            heads: spec
                .targets
                .iter()
                .map(|t| match http {
                    true => http_wire::header_block(t, headers),
                    false => upgrade::request_head(t, headers),
                })
                .collect(),
        }
    }
}

/// Runs the share's session number `i` (0-based within the share): at its
/// time when arrivals are scheduled, once the in-flight bound lets it.
pub(crate) async fn run(spec: &ShareSpec, tools: &ShardTools, i: u64) -> SessionRecord {
    let due = spec.due(i);
    if let Some(at) = due {
        tokio::time::sleep_until(at.into()).await;
    }
    // Closed only with the share, so acquiring cannot fail.
    let _slot = match &spec.in_flight {
        Some(s) => s.acquire().await.ok(),
        None => None,
    };
    let start_lag = due.map(|at| at.elapsed());
    spec.count_start();
    let mut record = run_id(spec, tools, spec.first_request_id + i).await;
    if let Some(lag) = start_lag {
        if spec.arrival.open {
            let lag_us = u64::try_from(lag.as_micros()).unwrap_or(u64::MAX);
            record.timings.total_us = record.timings.total_us.saturating_add(lag_us);
        }
        record.start_lag = Some(lag);
    }
    record
}

/// Runs session `request_id` now (a share's, or a virtual user's next one).
pub(crate) async fn run_id(spec: &ShareSpec, tools: &ShardTools, request_id: u64) -> SessionRecord {
    let target_index = (request_id % spec.targets.len() as u64) as usize;
    let target = &spec.targets[target_index];
    let (wait, limits) = (spec.wait_seconds, spec.limits);
    let abort = spec.abort.filter(|a| a.chosen(spec.abort_seed, request_id));
    let timestamp = Utc::now();
    let session = async {
        let cfg = match (&spec.tls, &spec.headers) {
            (Err(e), _) => {
                let f = Failure::new(ErrorType::TlsError, e.clone());
                return (Default::default(), Err(f), None);
            }
            (_, Err(why)) => {
                let f = crate::failure::unauthorized_without(why.clone());
                return (Default::default(), Err(f), None);
            }
            (Ok(cfg), Ok(_)) => cfg,
        };
        let dial = crate::dial::Dial {
            target,
            head: &tools.heads[target_index],
            resolver: &tools.resolver,
            tls: cfg.as_ref(),
            sources: spec.loopback_sources,
        };
        // Each kind of session's future is boxed on its own, so a session
        // holds the state of its kind only (and nothing while it waits for
        // its start): inline, every task carried the largest kind's, 8.6 KiB.
        let boxed = |(t, o, r)| (t, o, Some(Box::new(r)));
        match (spec.mode, &spec.rollout) {
            (Mode::Http | Mode::McpHttp, rs) => {
                let mut conn = HttpConn::new(dial, request_id);
                match (spec.mode, rs) {
                    (Mode::Http, None) => {
                        let (t, o) = Box::pin(http::run_session(&mut conn, wait, limits)).await;
                        (t, o, None)
                    }
                    (Mode::Http, Some(rs)) => match &rs.workload.replay {
                        Some(replay) => boxed(
                            Box::pin(replaying::run_http(
                                &mut conn, request_id, rs, replay, limits,
                            ))
                            .await,
                        ),
                        None => boxed(
                            Box::pin(rollout::run_http(&mut conn, request_id, rs, limits)).await,
                        ),
                    },
                    (_, Some(rs)) => boxed(
                        Box::pin(mcp_http::run(&mut conn, request_id, rs, limits, abort)).await,
                    ),
                    (_, None) => unreachable!("MCP sessions always have a workload"),
                }
            }
            (_, None) => {
                let step = spec.step.clone();
                let (t, o) = Box::pin(ws::run_session(
                    dial, request_id, step, limits, spec.close, abort,
                ))
                .await;
                (t, o, None)
            }
            (_, Some(rs)) => boxed(match &rs.workload.replay {
                Some(replay) => {
                    Box::pin(replaying::run_ws(
                        dial, request_id, rs, replay, limits, spec.close,
                    ))
                    .await
                }
                None => {
                    Box::pin(rollout::run_ws(
                        dial, request_id, rs, limits, spec.close, abort,
                    ))
                    .await
                }
            }),
        }
    };
    let (timings, outcome, rollout) = AssertUnwindSafe(session)
        .catch_unwind()
        .await
        .unwrap_or_else(|_| {
            let f = Failure::new(
                ErrorType::ConnectionError,
                "session task panicked inside envload",
            );
            (Default::default(), Err(f), None)
        });
    let (observed, failure) = match outcome {
        Ok(o) => (o, None),
        Err(f) => (Default::default(), Some(f)),
    };
    SessionRecord {
        request_id,
        mode: spec.mode,
        timestamp,
        wait_requested: wait,
        batch_size: spec.batch_size,
        hardware: spec.hardware.clone(),
        target_index,
        timings,
        observed,
        failure,
        ended_after: spec.start.elapsed(),
        rollout,
        start_lag: None,
    }
}
