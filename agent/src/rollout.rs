//! Rollout sessions: E episodes of (reset, then think + step K times) per
//! session, as RL trainers drive environments (`workload`). A WebSocket
//! session keeps one connection for all its episodes and reconnects only
//! after a failed one; an episode that fails is classified and counted, and
//! the session goes on with the next. An episode ends early when the
//! environment says `"done": true`.
//!
//! Timings keep the reference's meaning per session: `connect` the first
//! connection, `reset` and `step` the mean of the session's resets and
//! steps, `total` start to end (thinking included); every reset and step is
//! also kept, with its step index, in the session's [`Rollout`].

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::dial::Dial;
use crate::failure::Failure;
use crate::group::{Groups, Member};
use crate::http_conn::HttpConn;
use crate::observation::Observed;
use crate::plan::{Abort, AbortStage};
use crate::plan::{CloseMode, Limits};
use crate::record::{micros, Rollout, Timings};
use crate::target::Target;
use crate::workload::{step_frame, Dice, StepKind, Workload, STATE_FRAME};
use crate::ws::{self, Reply, Ws};

/// What every rollout session of a share shares, with what can be worked
/// out once per share already worked out: the reset message and body, the
/// benchmark step, which actions are MCP messages.
pub struct RolloutSpec {
    pub workload: Workload,
    /// The phase's `--wait` (the benchmark action's and `{wait}`'s value).
    pub wait: f64,
    bench_step: Utf8Bytes,
    bench_action: String,
    reset_message: Utf8Bytes,
    reset_body: String,
    /// Per action text: what it asks (a step, the state, an MCP call).
    kinds: Vec<StepKind>,
    /// This agent's share of `--max-resets-in-flight`.
    resets: Option<Semaphore>,
    /// The GRPO groups of this share (`--group`).
    groups: Option<Groups>,
    /// `--no-pong`: the fraction of sessions deaf while they think.
    no_pong: f64,
    /// Sessions speak `/mcp` (raw JSON-RPC, no reset, no close message).
    mcp_ws: bool,
}

impl RolloutSpec {
    /// The spec of `workload` at `wait`; `resets` is this agent's share of
    /// the reset bound, if any; `groups`, the groups its sessions form.
    pub fn new(
        workload: Workload,
        wait: f64,
        bench_step: Utf8Bytes,
        resets: Option<usize>,
        groups: Option<Groups>,
    ) -> Self {
        RolloutSpec {
            groups,
            no_pong: 0.0,
            mcp_ws: false,
            bench_step,
            bench_action: format!(r#"{{"wait_seconds":{wait}}}"#),
            reset_message: workload.reset_message(),
            reset_body: workload.reset_body(),
            kinds: workload.kinds(),
            resets: resets.map(Semaphore::new),
            workload,
            wait,
        }
    }

    /// The same spec with `fraction` of its sessions deaf while they think
    /// (`--no-pong`).
    pub fn deaf(self, fraction: f64) -> Self {
        RolloutSpec {
            no_pong: fraction,
            ..self
        }
    }

    /// The same spec for sessions of `mode` (`/mcp` sessions call tools).
    pub fn over(self, mode: crate::plan::Mode) -> Self {
        RolloutSpec {
            mcp_ws: mode == crate::plan::Mode::McpWs,
            ..self
        }
    }

    /// Session `request_id`'s place in its group, if it has one.
    pub(crate) fn member(&self, request_id: u64) -> Option<Member<'_>> {
        Some(self.groups.as_ref()?.member(request_id, &self.workload))
    }

    /// A place among the resets in flight (none to wait for without a
    /// bound).
    pub(crate) async fn reset_permit(&self) -> Option<SemaphorePermit<'_>> {
        match &self.resets {
            Some(s) => Some(
                s.acquire()
                    .await
                    .expect("the share's semaphore is never closed"),
            ),
            None => None,
        }
    }

    /// What step `s` of an episode asks.
    pub(crate) fn kind(&self, s: u32) -> StepKind {
        if self.mcp_ws {
            return StepKind::Mcp;
        }
        match self.kinds.len() {
            0 => StepKind::Step,
            n => self.kinds[s as usize % n],
        }
    }

    /// The WebSocket message of step `s` of session `request_id` (its
    /// `call`-th request), the reply it expects, and what it asks.
    fn step_message(&self, s: u32, request_id: u64, call: u64) -> (Utf8Bytes, Reply, StepKind) {
        if self.mcp_ws {
            let frame = self.mcp_call(s, request_id, call, None);
            return (frame.into(), Reply::JsonRpc, StepKind::Mcp);
        }
        match self.workload.action(self.wait, s, request_id) {
            None => (self.bench_step.clone(), Reply::Observation, StepKind::Step),
            Some(a) => {
                let kind = self.kind(s);
                // An MCP call gets "jsonrpc" and an id when it has none.
                let a = match kind {
                    StepKind::Mcp => {
                        let call = crate::jsonrpc::request(&a, call, None);
                        format!(r#"{{"type":"mcp","data":{call}}}"#)
                    }
                    _ => a,
                };
                let reply = match kind {
                    StepKind::Step => Reply::Observation,
                    StepKind::State => Reply::State,
                    StepKind::Mcp => Reply::Mcp,
                };
                (step_frame(a, kind), reply, kind)
            }
        }
    }

    /// The JSON-RPC call of step `s` of an MCP session (`jsonrpc_id` its
    /// id unless the action has one; `session` the HTTP MCP session).
    pub(crate) fn mcp_call(
        &self,
        s: u32,
        request_id: u64,
        jsonrpc_id: u64,
        session: Option<&str>,
    ) -> String {
        let action = self
            .workload
            .action(self.wait, s, request_id)
            .unwrap_or_else(|| {
                crate::workload::render(crate::jsonrpc::BENCHMARK_CALL, self.wait, s, request_id)
            });
        crate::jsonrpc::request(&action, jsonrpc_id, session)
    }

    /// The HTTP `/step` body of step `s` of session `request_id`.
    fn step_body(&self, s: u32, request_id: u64) -> String {
        let action = self.workload.action(self.wait, s, request_id);
        format!(
            r#"{{"action":{}}}"#,
            action.as_deref().unwrap_or(&self.bench_action)
        )
    }
}

/// One session's outcome.
pub type Outcome = (Timings, Result<Observed, Failure>, Rollout);

/// A rollout session as it goes: its tally, timings, draws and place in
/// its group.
pub(crate) struct Run<'a> {
    pub tally: Tally,
    pub timings: Timings,
    pub dice: Dice,
    pub member: Option<Member<'a>>,
}

impl RolloutSpec {
    /// Session `request_id`'s start.
    pub(crate) fn begin(&self, request_id: u64) -> Run<'_> {
        Run {
            tally: Tally::default(),
            timings: Timings::default(),
            dice: self.workload.dice(request_id),
            member: self.member(request_id),
        }
    }
}

impl Run<'_> {
    /// Ends episode `e`, begun at `started` (its group stops waiting for
    /// it); returns whether it failed.
    pub fn end_episode(
        &mut self,
        e: u32,
        started: Instant,
        episode: Result<Observed, Failure>,
    ) -> bool {
        if let Some(m) = self.member.as_mut() {
            m.end_episode(e);
        }
        self.tally.ended(started, episode)
    }

    /// The session's outcome.
    pub fn finish(self, t0: Instant) -> Outcome {
        self.tally.finish(t0, self.timings)
    }
}

/// A session's episodes as they end: the rollout, its first failure, and
/// what its last good episode observed.
#[derive(Default)]
pub(crate) struct Tally {
    pub r: Rollout,
    pub first_failure: Option<Failure>,
    last: Observed,
}

impl Tally {
    /// Counts an episode that began at `started`; returns whether it failed.
    pub fn ended(&mut self, started: Instant, episode: Result<Observed, Failure>) -> bool {
        match episode {
            Ok(o) => {
                self.r.episodes_ok += 1;
                self.r.episodes_us.push(micros(started.elapsed()));
                self.last = o;
                false
            }
            Err(f) => {
                self.r.episode_errors.push(f.kind);
                self.first_failure.get_or_insert(f);
                true
            }
        }
    }

    /// The session's outcome: reset and step the means of its resets and
    /// steps, a failed session keeping only its total (the reference's
    /// rule).
    pub fn finish(self, t0: Instant, mut timings: Timings) -> Outcome {
        let r = self.r;
        timings.reset_us = Rollout::mean(r.resets_us.iter().copied());
        timings.step_us = Rollout::mean(r.steps.iter().map(|s| s.us));
        let outcome = match self.first_failure {
            None => Ok(self.last),
            Some(f) => Err(f),
        };
        let timings = timings.settle(t0, outcome.is_err());
        (timings, outcome, r)
    }
}

/// A WebSocket rollout session.
pub async fn run_ws(
    dial: Dial<'_>,
    request_id: u64,
    spec: &RolloutSpec,
    limits: Limits,
    close: CloseMode,
    abort: Option<Abort>,
) -> Outcome {
    let t0 = Instant::now();
    let target = dial.target;
    let mut vanished = false;
    let deaf = spec.no_pong > 0.0
        && crate::plan::chosen(spec.no_pong, spec.workload.seed ^ 0x0D0E_AF00, request_id);
    let mut run = spec.begin(request_id);
    let mut conn: Option<Ws> = None;
    // JSON-RPC ids of `/mcp` calls: 1, 2, … over the session.
    let mut calls = 0u64;
    for e in 0..spec.workload.episodes {
        let te = Instant::now();
        let r = &mut run.tally.r;
        r.episodes += 1;
        let episode = async {
            if conn.is_none() {
                let tc = Instant::now();
                conn = Some(ws::connect(dial, request_id, limits).await?);
                if e == 0 {
                    run.timings.connect_us = micros(tc.elapsed());
                } else {
                    r.reconnects += 1;
                }
            }
            // An aborting session vanishes in its first episode.
            let abort_at = |stage| abort.filter(|a| e == 0 && a.stage == stage);
            let mut observed = if spec.mcp_ws {
                // `/mcp` has no reset: a session aborting before its first
                // call vanishes as soon as it is connected.
                if let Some(a) = abort_at(AbortStage::Reset).or(abort_at(AbortStage::Think)) {
                    vanished = true;
                    let ws = conn.take().expect("connected above");
                    return Err(ws::vanish(ws, a.stage, a.fin).await);
                }
                Observed::default()
            } else {
                let reset = spec.reset_message.clone();
                if let Some(a) = abort_at(AbortStage::Reset) {
                    vanished = true;
                    let ws = conn.take().expect("connected above");
                    return Err(ws::send_and_vanish(ws, reset, a.stage, a.fin).await);
                }
                let sock = conn.as_mut().expect("connected above");
                let permit = spec.reset_permit().await;
                let t = Instant::now();
                let reply =
                    exchange(sock, reset, "reset", target, limits, Reply::Observation, r).await?;
                drop(permit);
                // What the reset observed stands until a step observes
                // more (MCP calls observe nothing of the environment).
                let observed = Observed::from_reply(&reply, "reset", &target.ws_url)?;
                r.resets_us.push(micros(t.elapsed()));
                if let Some(a) = abort_at(AbortStage::Think) {
                    vanished = true;
                    let ws = conn.take().expect("connected above");
                    return Err(ws::vanish(ws, a.stage, a.fin).await);
                }
                observed
            };
            let sock = conn.as_mut().expect("connected above");
            for s in 0..run.dice.steps() {
                r.think_us += think_on(sock, run.dice.think(), deaf, target).await?;
                if let Some(m) = run.member.as_mut() {
                    m.arrive(e, s).await;
                }
                calls += 1;
                let (frame, expect, kind) = spec.step_message(s, request_id, calls);
                if let Some(a) = abort_at(AbortStage::Step).filter(|_| s == 0) {
                    vanished = true;
                    let ws = conn.take().expect("connected above");
                    return Err(ws::send_and_vanish(ws, frame, a.stage, a.fin).await);
                }
                let t = Instant::now();
                let reply = exchange(sock, frame, kind.stage(), target, limits, expect, r).await?;
                r.timed(kind, s, t);
                let mut ended = false;
                if kind == StepKind::Step {
                    observed = Observed::from_reply(&reply, "step", &target.ws_url)?;
                    ended = done(&reply);
                }
                if spec.workload.state_after(s) {
                    let state = Utf8Bytes::from_static(STATE_FRAME);
                    let t = Instant::now();
                    exchange(sock, state, "state", target, limits, Reply::State, r).await?;
                    r.timed(StepKind::State, s, t);
                }
                if ended {
                    break;
                }
            }
            Ok::<_, Failure>(observed)
        }
        .await;
        if run.end_episode(e, te, episode) {
            conn = None; // dropped: the next episode reconnects
        }
        if vanished {
            break;
        }
    }
    if let Some(sock) = conn.as_mut() {
        let finished = if spec.mcp_ws {
            ws::finish_with(sock, None, CloseMode::ClientFirst, limits.close, target).await
        } else {
            ws::finish(sock, close, limits.close, target).await
        };
        if let Err(f) = finished {
            run.tally.first_failure.get_or_insert(f);
        }
    }
    run.finish(t0)
}

/// Sends `frame` and waits for its reply of kind `expect`, counting the
/// bytes both ways in `r`.
async fn exchange(
    sock: &mut Ws,
    frame: Utf8Bytes,
    stage: &str,
    target: &Target,
    limits: Limits,
    expect: Reply,
    r: &mut Rollout,
) -> Result<Value, Failure> {
    r.bytes_sent += frame.len() as u64;
    ws::request_counted(
        sock,
        frame,
        stage,
        target,
        limits.request,
        expect,
        &mut r.bytes_received,
    )
    .await
}

/// Thinks `secs` without a socket to read (HTTP sessions); the µs slept.
pub(crate) async fn sleep_think(secs: f64) -> u64 {
    if secs <= 0.0 {
        return 0;
    }
    let d = Duration::from_secs_f64(secs);
    tokio::time::sleep(d).await;
    micros(d)
}

/// Thinks `secs` on an open session — reading it (pings answered), or,
/// `deaf`, not (a busy event loop: no pong sent); the µs it took.
pub(crate) async fn think_on(
    sock: &mut Ws,
    secs: f64,
    deaf: bool,
    target: &Target,
) -> Result<u64, Failure> {
    if secs <= 0.0 {
        return Ok(0);
    }
    let t = Instant::now();
    if deaf {
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    } else {
        ws::think(sock, secs, target).await?;
    }
    Ok(micros(t.elapsed()))
}

/// An HTTP rollout session: each episode one `POST /reset` and K
/// `POST /step`s (stateless in OpenEnv, see `workload`).
pub async fn run_http(
    conn: &mut HttpConn<'_>,
    request_id: u64,
    spec: &RolloutSpec,
    limits: Limits,
) -> Outcome {
    let t0 = Instant::now();
    let mut run = spec.begin(request_id);
    for e in 0..spec.workload.episodes {
        let te = Instant::now();
        let r = &mut run.tally.r;
        r.episodes += 1;
        let episode = async {
            let body = spec.reset_body.clone();
            r.bytes_sent += body.len() as u64;
            let permit = spec.reset_permit().await;
            let t = Instant::now();
            let (reply, len) =
                crate::http::post_counted(conn, "/reset", body, "reset", limits).await?;
            drop(permit);
            r.bytes_received += len;
            let mut observed = Observed::from_reply(&reply, "reset", conn.base())?;
            r.resets_us.push(micros(t.elapsed()));
            for s in 0..run.dice.steps() {
                r.think_us += sleep_think(run.dice.think()).await;
                if let Some(m) = run.member.as_mut() {
                    m.arrive(e, s).await;
                }
                let kind = spec.kind(s);
                let t = Instant::now();
                let mut ended = false;
                if kind == StepKind::State {
                    r.bytes_received += http_state(conn, limits).await?;
                } else {
                    let body = spec.step_body(s, request_id);
                    r.bytes_sent += body.len() as u64;
                    let (reply, len) =
                        crate::http::post_counted(conn, "/step", body, "step", limits).await?;
                    r.bytes_received += len;
                    observed = Observed::from_reply(&reply, "step", conn.base())?;
                    ended = done(&reply);
                }
                r.timed(kind, s, t);
                if spec.workload.state_after(s) {
                    let t = Instant::now();
                    r.bytes_received += http_state(conn, limits).await?;
                    r.timed(StepKind::State, s, t);
                }
                if ended {
                    break;
                }
            }
            Ok::<_, Failure>(observed)
        }
        .await;
        run.end_episode(e, te, episode);
    }
    run.finish(t0)
}

/// `GET /state` (of a fresh instance: HTTP is stateless in OpenEnv); the
/// reply's length.
async fn http_state(conn: &mut HttpConn<'_>, limits: Limits) -> Result<u64, Failure> {
    Ok(crate::http::get_counted(conn, "/state", "state", limits)
        .await?
        .1)
}

/// Whether a reply ends its episode (`"done": true`).
fn done(reply: &Value) -> bool {
    reply.get("done").and_then(Value::as_bool) == Some(true)
}
