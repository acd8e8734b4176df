//! `POST /mcp`: JSON-RPC over HTTP, as openenv serves it. Stateless by
//! default (each call its own environment); `openenv/session/create` opens
//! a session that later calls name in `params.session_id` and
//! `openenv/session/close` frees, each session holding a slot of the
//! process's limit (`mcp_sessions`).

use serde_json::{json, Value};

use crate::config::ServerConfig;
use crate::mcp;

/// JSON-RPC's invalid-params code.
const INVALID_PARAMS: i64 = -32602;

/// The JSON-RPC response to one `POST /mcp` body.
pub async fn answer(body: &[u8], config: &ServerConfig) -> Value {
    let request: Value = match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => v,
        _ => return mcp::error(Value::Null, -32700, "Parse error", None),
    };
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let session = request
        .pointer("/params/session_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    let method = request.get("method").and_then(Value::as_str).unwrap_or("");
    let unknown = |s: &str| {
        mcp::error(
            id.clone(),
            INVALID_PARAMS,
            &format!("Unknown session_id: {s}"),
            None,
        )
    };
    match method {
        "openenv/session/create" => match config.mcp_sessions.create(&config.capacity) {
            Ok(session_id) => {
                config.counters.mcp_session_created();
                json!({"jsonrpc": "2.0", "id": id, "result": {"session_id": session_id}})
            }
            Err(active) => mcp::capacity_error(id, active, config.capacity.max()),
        },
        "openenv/session/close" => match session {
            None => mcp::error(
                id,
                INVALID_PARAMS,
                "Invalid params - 'session_id' is required",
                None,
            ),
            Some(s) if config.mcp_sessions.close(&s) => {
                config.counters.mcp_session_closed();
                json!({"jsonrpc": "2.0", "id": id, "result": {"session_id": s, "closed": true}})
            }
            Some(s) => unknown(&s),
        },
        _ => match session {
            Some(s) if !config.mcp_sessions.is_open(&s) => unknown(&s),
            _ => {
                config.counters.mcp_call();
                mcp::answer(&request).await
            }
        },
    }
}
