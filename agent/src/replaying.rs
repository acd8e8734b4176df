//! Sessions that replay recorded ones (`replay`): each sends one recorded
//! session's client messages in order, waits for each reply as the client
//! did and the recorded gap before the next message (reading the socket
//! meanwhile, so pings are answered). Replies are validated as any
//! session's; each request is timed as its stage (reset, step, state, mcp)
//! by its index in the recorded session.

use std::sync::Arc;
use std::time::Instant;

use crate::dial::Dial;
use crate::failure::Failure;
use crate::http_conn::HttpConn;
use crate::observation::Observed;
use crate::plan::{CloseMode, Limits};
use crate::record::micros;
use crate::replay::{Replay, Transport};
use crate::rollout::{sleep_think, think_on, Outcome, RolloutSpec};
use crate::workload::StepKind;
use crate::ws::{self, Reply};

/// The stage a recorded message is timed as, and the reply it expects.
fn stage_of(kind: &str, path: &str) -> (StepKind, Reply, bool) {
    match (kind, path) {
        ("reset", _) => (StepKind::Step, Reply::Observation, true),
        ("state", _) => (StepKind::State, Reply::State, false),
        ("mcp", _) => (StepKind::Mcp, Reply::Mcp, false),
        ("jsonrpc", _) => (StepKind::Mcp, Reply::JsonRpc, false),
        (_, p) if p.starts_with("/reset") => (StepKind::Step, Reply::Observation, true),
        (_, p) if p.starts_with("/state") => (StepKind::State, Reply::State, false),
        (_, p) if p.starts_with("/mcp") => (StepKind::Mcp, Reply::JsonRpc, false),
        _ => (StepKind::Step, Reply::Observation, false),
    }
}

/// A WebSocket session replaying one recorded session.
pub async fn run_ws(
    dial: Dial<'_>,
    request_id: u64,
    spec: &RolloutSpec,
    replay: &Arc<Replay>,
    limits: Limits,
    close: CloseMode,
) -> Outcome {
    let t0 = Instant::now();
    let target = dial.target;
    let msgs = replay.pick(request_id, spec.workload.seed);
    let mut run = spec.begin(request_id);
    run.tally.r.episodes = 1;
    let mut conn = None;
    let r = &mut run.tally.r;
    let result = async {
        let tc = Instant::now();
        let sock = conn.insert(ws::connect(dial, request_id, limits).await?);
        run.timings.connect_us = micros(tc.elapsed());
        let mut observed = Observed::default();
        for (i, m) in msgs.iter().enumerate() {
            r.think_us += think_on(sock, m.gap, false, target).await?;
            let (kind, expect, is_reset) = stage_of(&m.kind, &m.path);
            let frame = m.text.clone().into();
            let t = Instant::now();
            if !m.reply {
                ws::send_only(sock, frame, target).await?;
                continue;
            }
            let reply = ws::request_counted(
                sock,
                frame,
                &m.kind,
                target,
                limits.request,
                expect,
                &mut r.bytes_received,
            )
            .await?;
            r.bytes_sent += m.text.len() as u64;
            if is_reset {
                r.resets_us.push(micros(t.elapsed()));
            } else {
                r.timed(kind, i as u32, t);
            }
            if expect == Reply::Observation {
                observed = Observed::from_reply(&reply, &m.kind, &target.ws_url)?;
            }
        }
        Ok::<_, Failure>(observed)
    }
    .await;
    let failed = run.end_episode(0, t0, result);
    if let (Some(sock), false) = (conn.as_mut(), failed) {
        let done = if replay.transport == Transport::McpWs {
            ws::finish_with(sock, None, CloseMode::ClientFirst, limits.close, target).await
        } else {
            ws::finish(sock, close, limits.close, target).await
        };
        if let Err(f) = done {
            run.tally.first_failure.get_or_insert(f);
        }
    }
    run.finish(t0)
}

/// An HTTP session replaying one recorded session's requests.
pub async fn run_http(
    conn: &mut HttpConn<'_>,
    request_id: u64,
    spec: &RolloutSpec,
    replay: &Arc<Replay>,
    limits: Limits,
) -> Outcome {
    let t0 = Instant::now();
    let msgs = replay.pick(request_id, spec.workload.seed);
    let mut run = spec.begin(request_id);
    run.tally.r.episodes = 1;
    let r = &mut run.tally.r;
    let result = async {
        let mut observed = Observed::default();
        for (i, m) in msgs.iter().enumerate() {
            r.think_us += sleep_think(m.gap).await;
            let (kind, _, is_reset) = stage_of(&m.kind, &m.path);
            let method = match m.kind.as_str() {
                k if !k.is_empty() && k.bytes().all(|b| b.is_ascii_uppercase()) => k,
                _ => "POST",
            };
            r.bytes_sent += m.text.len() as u64;
            let t = Instant::now();
            let (reply, len) =
                crate::http::send_counted(conn, method, &m.path, m.text.clone(), &m.path, limits)
                    .await?;
            r.bytes_received += len;
            if is_reset {
                r.resets_us.push(micros(t.elapsed()));
            } else {
                r.timed(kind, i as u32, t);
            }
            if m.path.starts_with("/reset") || m.path.starts_with("/step") {
                observed = Observed::from_reply(&reply, &m.path, conn.base())?;
            } else if m.path.starts_with("/mcp") {
                crate::jsonrpc::result(&reply, &conn.url(&m.path))?;
            }
        }
        Ok::<_, Failure>(observed)
    }
    .await;
    run.end_episode(0, t0, result);
    run.finish(t0)
}
