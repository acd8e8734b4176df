//! MCP over the WebSocket session (`{"type":"mcp","data":<JSON-RPC>}`, as
//! openenv 0.10's servers take it): one tool, `wait`, that sleeps
//! `arguments.seconds` and says so — enough to load-test an agent that
//! calls tools instead of stepping.

use std::time::Duration;

use serde_json::{json, Value};

use crate::env::MAX_WAIT_SECONDS;

/// JSON-RPC's generic server error: what openenv answers a session it
/// cannot open (`SessionCapacityError`).
pub const SERVER_ERROR: i64 = -32000;

/// A JSON-RPC error response.
pub fn error(id: Value, code: i64, message: &str, data: Option<Value>) -> Value {
    let mut err = json!({"code": code, "message": message});
    if let Some(d) = data {
        err["data"] = d;
    }
    json!({"jsonrpc": "2.0", "id": id, "error": err})
}

/// openenv's refusal of a session at capacity: -32000 with the counts.
pub fn capacity_error(id: Value, active: usize, max: usize) -> Value {
    error(
        id,
        SERVER_ERROR,
        &format!("Server at capacity: {active}/{max} sessions active. Cannot accept new sessions."),
        Some(json!({"active_sessions": active, "max_sessions": max})),
    )
}

/// The JSON-RPC response to `request`.
pub async fn answer(request: &Value) -> Value {
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let error = |code: i64, message: String| json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}});
    let method = request.get("method").and_then(Value::as_str).unwrap_or("");
    match method {
        "tools/list" => json!({"jsonrpc": "2.0", "id": id, "result": {"tools": [{
            "name": "wait",
            "description": "Waits `seconds` and returns",
            "inputSchema": {"type": "object", "properties": {"seconds": {"type": "number"}}}
        }]}}),
        "tools/call" => {
            let params = request.get("params").unwrap_or(&Value::Null);
            let name = params.get("name").and_then(Value::as_str).unwrap_or("");
            if name != "wait" {
                return error(-32602, format!("unknown tool {name:?}"));
            }
            let seconds = params
                .pointer("/arguments/seconds")
                .and_then(Value::as_f64)
                .unwrap_or(0.0);
            if !(0.0..=MAX_WAIT_SECONDS).contains(&seconds) {
                return error(
                    -32602,
                    format!("seconds must be within 0..={MAX_WAIT_SECONDS}"),
                );
            }
            tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
            json!({"jsonrpc": "2.0", "id": id, "result": {
                "content": [{"type": "text", "text": format!("waited {seconds} s")}],
                "isError": false
            }})
        }
        other => error(-32601, format!("Method not found: {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tools_are_listed_called_and_unknown_ones_refused() {
        let list = answer(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})).await;
        assert_eq!(list["result"]["tools"][0]["name"], "wait");
        let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                          "params": {"name": "wait", "arguments": {"seconds": 0.01}}});
        let r = answer(&call).await;
        assert_eq!(
            (r["id"].as_i64(), r["result"]["isError"].as_bool()),
            (Some(2), Some(false))
        );
        let bad = answer(&json!({"jsonrpc": "2.0", "id": 3, "method": "nope"})).await;
        assert_eq!(bad["error"]["code"], -32601);
    }
}
