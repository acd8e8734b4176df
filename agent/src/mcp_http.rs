//! HTTP MCP sessions (`--mode mcp-http`), as OpenEnv's production MCP client
//! holds them: `POST /mcp` `openenv/session/create` (timed as the session's
//! connect: it is what takes the server's slot), then per episode K tool
//! calls naming the session (`params.session_id`, think time before each),
//! then `openenv/session/close`. A session created and never closed — the
//! close failed, or `--abort` made the client vanish — keeps its slot on
//! the server until an idle timeout, if the server has one: it is counted
//! as unclosed ([`Rollout::unclosed`](crate::record::Rollout)).

use std::time::Instant;

use serde_json::Value;

use crate::failure::{ErrorType, Failure};
use crate::http_conn::HttpConn;
use crate::observation::Observed;
use crate::plan::{Abort, Limits};
use crate::record::micros;
use crate::rollout::{sleep_think, Outcome, RolloutSpec};
use crate::workload::StepKind;
use crate::{http, jsonrpc};

/// The MCP endpoint's path under the target's base.
const MCP: &str = "/mcp";

/// One HTTP MCP session.
pub async fn run(
    conn: &mut HttpConn<'_>,
    request_id: u64,
    spec: &RolloutSpec,
    limits: Limits,
    abort: Option<Abort>,
) -> Outcome {
    let t0 = Instant::now();
    let mut run = spec.begin(request_id);
    let mut session: Option<String> = None;
    // JSON-RPC ids: 1, 2, … over the session.
    let mut calls = 0u64;
    for e in 0..spec.workload.episodes {
        let te = Instant::now();
        let r = &mut run.tally.r;
        r.episodes += 1;
        let episode = async {
            if session.is_none() {
                calls += 1;
                let t = Instant::now();
                let id = create(conn, calls, limits, r).await?;
                if e == 0 {
                    run.timings.connect_us = micros(t.elapsed());
                } else {
                    r.reconnects += 1;
                }
                if let Some(a) = abort {
                    r.unclosed = true;
                    return Err(Failure::new(
                        ErrorType::Aborted,
                        format!(
                            "left its HTTP MCP session open (no openenv/session/close) at {}, as --abort asked",
                            a.stage.as_str()
                        ),
                    ));
                }
                session = Some(id);
            }
            let sid = session.as_deref().expect("created above");
            for s in 0..run.dice.steps() {
                r.think_us += sleep_think(run.dice.think()).await;
                if let Some(m) = run.member.as_mut() {
                    m.arrive(e, s).await;
                }
                calls += 1;
                let body = spec.mcp_call(s, request_id, calls, Some(sid));
                let t = Instant::now();
                call(conn, body, "mcp", limits, r).await?;
                r.timed(StepKind::Mcp, s, t);
            }
            Ok::<_, Failure>(Observed::default())
        }
        .await;
        run.end_episode(e, te, episode);
        if run.tally.r.unclosed {
            return run.finish(t0);
        }
    }
    if let Some(sid) = session {
        calls += 1;
        let body = jsonrpc::request(
            r#"{"method": "openenv/session/close", "params": {}}"#,
            calls,
            Some(&sid),
        );
        if let Err(f) = call(conn, body, "session/close", limits, &mut run.tally.r).await {
            run.tally.r.unclosed = true;
            run.tally.first_failure.get_or_insert(f);
        }
    }
    run.finish(t0)
}

/// `openenv/session/create`: the new session's id (a -32000 refusal is
/// `CapacityReached`).
async fn create(
    conn: &mut HttpConn<'_>,
    id: u64,
    limits: Limits,
    r: &mut crate::record::Rollout,
) -> Result<String, Failure> {
    let body = jsonrpc::request(
        r#"{"method": "openenv/session/create", "params": {}}"#,
        id,
        None,
    );
    let result = call(conn, body, "session/create", limits, r).await?;
    match result.get("session_id").and_then(Value::as_str) {
        Some(s) if !s.is_empty() => Ok(s.to_string()),
        _ => Err(Failure::new(
            ErrorType::MalformedResponse,
            format!(
                "openenv/session/create at {} returned no session_id: {result}",
                conn.url(MCP)
            ),
        )),
    }
}

/// One JSON-RPC call: its `result`, bytes counted both ways.
async fn call(
    conn: &mut HttpConn<'_>,
    body: String,
    stage: &str,
    limits: Limits,
    r: &mut crate::record::Rollout,
) -> Result<Value, Failure> {
    r.bytes_sent += body.len() as u64;
    let (reply, len) = http::post_counted(conn, MCP, body, stage, limits).await?;
    r.bytes_received += len;
    jsonrpc::result(&reply, &format!("{stage} at {}", conn.url(MCP)))
}
