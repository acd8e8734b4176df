//! `/ws`: one environment session per connection. As in openenv, the upgrade
//! is accepted (101) first (`upgrade`) and the session is created before
//! any message; a refused session gets one error frame and a close with
//! code 1000.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Map, Value};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

use crate::config::ServerConfig;
use crate::env::{envelope, BenchEnv, Envelope, Observation};
use crate::mcp;
use crate::wire::{error_frame, parse_frame, ClientMsg, WireError};
use crate::ws_conn::{close, Ws};

/// Serves one `/ws` connection: its session, or the refusal at capacity.
pub(crate) async fn session(mut ws: Ws, config: &ServerConfig) {
    let slot = match config.capacity.try_acquire() {
        Ok(slot) => slot,
        Err(active) => {
            let max = config.capacity.max();
            let mut extra = Map::new();
            extra.insert("active_sessions".into(), json!(active));
            extra.insert("max_sessions".into(), json!(max));
            let msg = format!(
                "Server at capacity: {active}/{max} sessions active. Cannot accept new connections."
            );
            let _ = ws
                .send(Message::text(error_frame(
                    "CAPACITY_REACHED",
                    &msg,
                    Some(extra),
                )))
                .await;
            return close(ws).await;
        }
    };
    let server_closes = if config.factory_error {
        let frame = error_frame(
            "FACTORY_ERROR",
            "Failed to create environment: injected factory failure",
            None,
        );
        let _ = ws.send(Message::text(frame)).await;
        true
    } else {
        run_env(&mut ws, config).await
    };
    // The session ends here: its slot is free before the close handshake —
    // unless the server is told to leak the slots of clients that vanish
    // (a test hook: the stall OpenEnv fixed in its PR #1000).
    let leak_this =
        config.leak_every > 0 && config.counters.session_ended() % config.leak_every == 0;
    if (config.leak_vanished_slots && !server_closes) || leak_this {
        std::mem::forget(slot);
    } else {
        drop(slot);
    }
    if server_closes {
        close(ws).await;
    }
}

/// Serves messages until the session ends; returns whether the server must
/// now close the socket (it already closed when the client did). With a
/// ping interval, the session is pinged that often and closed (1011) when a
/// ping is still unanswered at the next one, as Python websockets does.
async fn run_env(ws: &mut Ws, config: &ServerConfig) -> bool {
    let mut env = BenchEnv::new(&config.identity);
    config.counters.session();
    let period = config.ping_interval.unwrap_or(Duration::from_secs(86_400));
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    let mut awaiting_pong = false;
    loop {
        let msg = tokio::select! {
            m = ws.next() => m,
            _ = ticker.tick(), if config.ping_interval.is_some() => {
                if awaiting_pong {
                    let frame = CloseFrame {
                        code: CloseCode::Error,
                        reason: "keepalive ping timeout".into(),
                    };
                    let _ = ws.close(Some(frame)).await;
                    return false;
                }
                config.counters.ping();
                awaiting_pong = true;
                if ws.send(Message::Ping(Bytes::from_static(b"envload"))).await.is_err() {
                    return false;
                }
                continue;
            }
        };
        let Some(msg) = msg else { return false };
        let reply = match msg {
            Ok(Message::Text(text)) => match parse_frame(&text) {
                Ok(m) => {
                    // The socket is read while the request is served (a slow
                    // step, a reset's construction), so the client's
                    // keepalive pings are answered meanwhile, as Python
                    // websockets' reader task answers them.
                    let work = handle(&mut env, m, config);
                    tokio::pin!(work);
                    let reply = loop {
                        tokio::select! {
                            biased;
                            r = &mut work => break r,
                            m = ws.next() => match m {
                                Some(Ok(Message::Ping(_))) => {
                                    config.counters.ping_received();
                                    let _ = ws.flush().await;
                                }
                                Some(Ok(Message::Pong(_))) => {
                                    config.counters.pong();
                                    awaiting_pong = false;
                                }
                                // A message sent before the reply (OpenEnv
                                // clients wait for it) or the end of the
                                // session: the client is gone for us.
                                _ => return false,
                            }
                        }
                    };
                    match reply {
                        Some(reply) => reply,
                        None => return true, // close: the server closes, 1000
                    }
                }
                Err(e) => wire_error(&e),
            },
            Ok(Message::Binary(_)) => {
                let frame = error_frame("SESSION_ERROR", "Binary frames are not supported", None);
                let _ = ws.send(Message::text(frame)).await;
                return true;
            }
            Err(_) => return false,
            Ok(Message::Pong(_)) => {
                config.counters.pong();
                awaiting_pong = false;
                continue;
            }
            Ok(Message::Ping(_)) => {
                // tungstenite queued the pong; it leaves now.
                config.counters.ping_received();
                let _ = ws.flush().await;
                continue;
            }
            // The close reply goes out on the next read, which then ends.
            Ok(_) => continue,
        };
        if ws.send(Message::text(reply)).await.is_err() {
            return false;
        }
    }
}

/// The reply to a valid message; `None` for `close`, which gets none.
async fn handle(env: &mut BenchEnv<'_>, msg: ClientMsg, config: &ServerConfig) -> Option<String> {
    let reply = match msg {
        ClientMsg::Reset { episode_id } => {
            let counted = config.counters.reset();
            tokio::time::sleep(config.reset_delay).await;
            drop(counted);
            observation(env.reset(episode_id))
        }
        ClientMsg::Step(action) => {
            config.counters.step();
            match env.step(action).await {
                Ok(obs) => observation(obs),
                Err(e) => error_frame("EXECUTION_ERROR", &e, None),
            }
        }
        ClientMsg::Mcp { data } => {
            config.counters.mcp_call();
            json!({"type": "mcp", "data": mcp::answer(&data).await}).to_string()
        }
        ClientMsg::State => {
            config.counters.state();
            json!({"type": "state", "data": env.state()}).to_string()
        }
        ClientMsg::Close => return None,
    };
    Some(reply)
}

/// `{"type":"observation","data":{…}}`, serialised straight from `obs`.
fn observation(obs: Observation<'_>) -> String {
    #[derive(serde::Serialize)]
    struct Frame<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        data: Envelope<'a>,
    }
    let frame = Frame {
        kind: "observation",
        data: envelope(obs),
    };
    serde_json::to_string(&frame).expect("observations serialise")
}

fn wire_error(e: &WireError) -> String {
    let extra = e.errors.as_ref().map(|errs| {
        let mut m = Map::new();
        m.insert("errors".into(), Value::Array(errs.clone()));
        m
    });
    error_frame(e.code, &e.message, extra)
}
