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

use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::failure::Failure;
use crate::observation::Observed;
use crate::plan::{CloseMode, Limits};
use crate::record::{micros, Rollout, StepTime, Timings};
use crate::workload::{is_mcp, step_frame, Workload};
use crate::ws::{self, Dial, Reply, Ws};

/// What every rollout session of a share shares.
pub struct RolloutSpec {
    pub workload: Workload,
    /// The phase's `--wait` (the benchmark action's and `{wait}`'s value).
    pub wait: f64,
    /// The benchmark step message.
    pub bench_step: Utf8Bytes,
    /// This agent's share of `--max-resets-in-flight`.
    pub resets: Option<Arc<Semaphore>>,
}

/// One session's outcome.
pub type Outcome = (Timings, Result<Observed, Failure>, Rollout);

/// A WebSocket rollout session.
pub async fn run_ws(
    dial: Dial<'_>,
    request_id: u64,
    spec: &RolloutSpec,
    limits: Limits,
    close: CloseMode,
) -> Outcome {
    let t0 = Instant::now();
    let target = dial.target;
    let mut r = Rollout::default();
    let mut timings = Timings::default();
    let mut dice = spec.workload.dice(request_id);
    let mut first_failure: Option<Failure> = None;
    let mut last = Observed::default();
    let mut conn: Option<Ws> = None;
    for e in 0..spec.workload.episodes {
        let te = Instant::now();
        r.episodes += 1;
        let episode = async {
            if conn.is_none() {
                let tc = Instant::now();
                conn = Some(ws::connect(dial, request_id, limits).await?);
                if e == 0 {
                    timings.connect_us = micros(tc.elapsed());
                } else {
                    r.reconnects += 1;
                }
            }
            let sock = conn.as_mut().expect("connected above");
            let reset = spec.workload.reset_message();
            r.bytes_sent += reset.len() as u64;
            let permit = match &spec.resets {
                Some(s) => Some(
                    s.acquire()
                        .await
                        .expect("the share's semaphore is never closed"),
                ),
                None => None,
            };
            let t = Instant::now();
            let reply = ws::request_counted(
                sock,
                reset,
                "reset",
                target,
                limits.request,
                Reply::Observation,
                &mut r.bytes_received,
            )
            .await?;
            drop(permit);
            // What the reset observed stands until a step observes more
            // (MCP calls observe nothing of the environment).
            let mut observed = Observed::from_reply(&reply, "reset", &target.ws_url)?;
            r.resets_us.push(micros(t.elapsed()));
            for s in 0..dice.steps() {
                let think = dice.think();
                if think > 0.0 {
                    let tt = Instant::now();
                    ws::think(sock, think, target).await?;
                    r.think_us += micros(tt.elapsed());
                }
                let (frame, expect) = match spec.workload.action(spec.wait, s, request_id) {
                    None => (spec.bench_step.clone(), Reply::Observation),
                    Some(a) if is_mcp(&a) => (step_frame(&a), Reply::Mcp),
                    Some(a) => (step_frame(&a), Reply::Observation),
                };
                r.bytes_sent += frame.len() as u64;
                let t = Instant::now();
                let reply = ws::request_counted(
                    sock,
                    frame,
                    "step",
                    target,
                    limits.request,
                    expect,
                    &mut r.bytes_received,
                )
                .await?;
                let us = micros(t.elapsed());
                r.steps.push(StepTime { index: s, us });
                if expect == Reply::Observation {
                    observed = Observed::from_reply(&reply, "step", &target.ws_url)?;
                    if reply.get("done").and_then(Value::as_bool) == Some(true) {
                        break;
                    }
                }
            }
            Ok::<_, Failure>(observed)
        }
        .await;
        match episode {
            Ok(o) => {
                r.episodes_ok += 1;
                r.episodes_us.push(micros(te.elapsed()));
                last = o;
            }
            Err(f) => {
                r.episode_errors.push(f.kind);
                conn = None; // dropped: the next episode reconnects
                first_failure.get_or_insert(f);
            }
        }
    }
    if let Some(sock) = conn.as_mut() {
        if let Err(f) = ws::finish(sock, close, limits.close, target).await {
            first_failure.get_or_insert(f);
        }
    }
    settle(t0, timings, r, first_failure, last)
}

/// An HTTP rollout session: each episode one `POST /reset` and K
/// `POST /step`s (stateless in OpenEnv, see `workload`).
pub async fn run_http(
    client: &reqwest::Client,
    target: &crate::target::Target,
    request_id: u64,
    spec: &RolloutSpec,
    limits: Limits,
) -> Outcome {
    let t0 = Instant::now();
    let mut r = Rollout::default();
    let mut dice = spec.workload.dice(request_id);
    let mut first_failure: Option<Failure> = None;
    let mut last = Observed::default();
    let reset_url = format!("{}/reset", target.http_base);
    let step_url = format!("{}/step", target.http_base);
    for _ in 0..spec.workload.episodes {
        let te = Instant::now();
        r.episodes += 1;
        let episode = async {
            let body = spec.workload.reset_body();
            r.bytes_sent += body.len() as u64;
            let permit = match &spec.resets {
                Some(s) => Some(
                    s.acquire()
                        .await
                        .expect("the share's semaphore is never closed"),
                ),
                None => None,
            };
            let t = Instant::now();
            let (reply, len) =
                crate::http::post_counted(client, &reset_url, body, "reset", limits).await?;
            drop(permit);
            r.bytes_received += len;
            let mut observed = Observed::from_reply(&reply, "reset", &reset_url)?;
            r.resets_us.push(micros(t.elapsed()));
            for s in 0..dice.steps() {
                let think = dice.think();
                if think > 0.0 {
                    tokio::time::sleep(std::time::Duration::from_secs_f64(think)).await;
                    r.think_us += micros(std::time::Duration::from_secs_f64(think));
                }
                let action = spec
                    .workload
                    .action(spec.wait, s, request_id)
                    .unwrap_or_else(|| format!(r#"{{"wait_seconds":{}}}"#, spec.wait));
                let body = format!(r#"{{"action":{action}}}"#);
                r.bytes_sent += body.len() as u64;
                let t = Instant::now();
                let (reply, len) =
                    crate::http::post_counted(client, &step_url, body, "step", limits).await?;
                r.bytes_received += len;
                r.steps.push(StepTime {
                    index: s,
                    us: micros(t.elapsed()),
                });
                observed = Observed::from_reply(&reply, "step", &step_url)?;
                if reply.get("done").and_then(Value::as_bool) == Some(true) {
                    break;
                }
            }
            Ok::<_, Failure>(observed)
        }
        .await;
        match episode {
            Ok(o) => {
                r.episodes_ok += 1;
                r.episodes_us.push(micros(te.elapsed()));
                last = o;
            }
            Err(f) => {
                r.episode_errors.push(f.kind);
                first_failure.get_or_insert(f);
            }
        }
    }
    settle(t0, Timings::default(), r, first_failure, last)
}

fn settle(
    t0: Instant,
    mut timings: Timings,
    r: Rollout,
    failure: Option<Failure>,
    last: Observed,
) -> Outcome {
    timings.reset_us = Rollout::mean(r.resets_us.iter().copied());
    timings.step_us = Rollout::mean(r.steps.iter().map(|s| s.us));
    let outcome = match failure {
        None => Ok(last),
        Some(f) => Err(f),
    };
    let timings = timings.settle(t0, outcome.is_err());
    (timings, outcome, r)
}
