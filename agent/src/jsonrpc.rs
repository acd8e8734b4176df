//! JSON-RPC 2.0 as MCP sessions speak it: the request a workload action
//! becomes, and what a response means. OpenEnv refuses an MCP session it
//! has no room for with error -32000 (`SERVER_ERROR`, carrying
//! `data.active_sessions` / `data.max_sessions`), not with a
//! `CAPACITY_REACHED` frame: that refusal is a [`ErrorType::CapacityReached`].

use serde_json::{json, Map, Value};

use crate::failure::{excerpt, ErrorType, Failure};

/// JSON-RPC's generic server error: openenv's "no session for you".
pub const SERVER_ERROR: i64 = -32000;

/// The benchmark's tool call: `wait` for `{wait}` seconds (the tool
/// `envload serve` and `deploy/local`'s MCP environment both have).
pub const BENCHMARK_CALL: &str = r#"{"jsonrpc": "2.0", "id": {step}, "method": "tools/call", "params": {"name": "wait", "arguments": {"seconds": {wait}}}}"#;

/// The JSON-RPC request in `action` (a raw request, or one wrapped as
/// `{"type":"mcp","data":…}`), with `"jsonrpc"` and an `id` (`id` when it
/// has none) and, for an HTTP MCP session, `params.session_id`.
pub fn request(action: &str, id: u64, session: Option<&str>) -> String {
    let mut v: Value = serde_json::from_str(action).unwrap_or(Value::Null);
    if v.get("type").and_then(Value::as_str) == Some("mcp") {
        v = v.get_mut("data").map(Value::take).unwrap_or(Value::Null);
    }
    let Value::Object(m) = &mut v else {
        return action.to_string();
    };
    m.insert("jsonrpc".into(), json!("2.0"));
    m.entry("id").or_insert(json!(id));
    if let Some(s) = session {
        let params = m
            .entry("params")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(p) = params {
            p.insert("session_id".into(), json!(s));
        }
    }
    v.to_string()
}

/// Checks that `action` is a JSON-RPC request once its placeholders are
/// filled in (a `method`, raw or inside `{"type":"mcp","data":…}`).
pub fn check_request(rendered: &str) -> Result<(), String> {
    let v: Value = serde_json::from_str(rendered).map_err(|e| format!("it is not JSON ({e})"))?;
    let call = if v.get("type").and_then(Value::as_str) == Some("mcp") {
        v.get("data").cloned().unwrap_or(Value::Null)
    } else {
        v
    };
    match call.get("method") {
        Some(Value::String(_)) => Ok(()),
        _ => Err(
            "an MCP session sends JSON-RPC requests: it needs a \"method\" (e.g. \"tools/call\")"
                .into(),
        ),
    }
}

/// The `result` of a JSON-RPC response, or the failure its `error` (or a
/// tool's `isError`) stands for. `what` names the call and where it went.
pub fn result(response: &Value, what: &str) -> Result<Value, Failure> {
    if let Some(err) = response.get("error").filter(|e| !e.is_null()) {
        let code = err.get("code").and_then(Value::as_i64);
        let message = err.get("message").and_then(Value::as_str).unwrap_or("");
        let kind = if code == Some(SERVER_ERROR) && is_capacity(err) {
            ErrorType::CapacityReached
        } else {
            ErrorType::ServerError
        };
        return Err(Failure::new(
            kind,
            format!(
                "JSON-RPC error {} during {what}: {}",
                code.map_or("?".into(), |c| c.to_string()),
                excerpt(message)
            ),
        ));
    }
    let Some(result) = response.get("result") else {
        return Err(Failure::new(
            ErrorType::MalformedResponse,
            format!(
                "reply to {what} is not a JSON-RPC response (no result, no error): {}",
                excerpt(&response.to_string())
            ),
        ));
    };
    if result.get("isError").and_then(Value::as_bool) == Some(true) {
        return Err(Failure::new(
            ErrorType::ServerError,
            format!(
                "the tool failed during {what}: {}",
                excerpt(&result.to_string())
            ),
        ));
    }
    Ok(result.clone())
}

/// Whether a -32000 error is a session refused for capacity: openenv puts
/// the counts in `data`; its message says "capacity" (the factory's own
/// failures are -32000 too, with `data.factory_name`).
fn is_capacity(err: &Value) -> bool {
    let data = err.get("data");
    data.and_then(|d| d.get("max_sessions")).is_some()
        || err
            .get("message")
            .and_then(Value::as_str)
            .is_some_and(|m| m.to_ascii_lowercase().contains("capacity"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_action_becomes_a_request_with_an_id_and_the_session() {
        let r: Value = serde_json::from_str(&request(
            r#"{"type":"mcp","data":{"method":"tools/list"}}"#,
            7,
            Some("s-1"),
        ))
        .unwrap();
        assert_eq!(
            r,
            json!({"jsonrpc": "2.0", "id": 7, "method": "tools/list", "params": {"session_id": "s-1"}})
        );
        let r: Value = serde_json::from_str(&request(
            r#"{"id": "x", "method": "tools/call", "params": {"name": "wait"}}"#,
            7,
            None,
        ))
        .unwrap();
        assert_eq!(
            (r["id"].as_str(), r.pointer("/params/session_id")),
            (Some("x"), None)
        );
    }

    #[test]
    fn capacity_refusals_server_errors_and_tool_errors_are_told_apart() {
        let full = json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32000,
            "message": "Server at capacity: 2/2 sessions active.", "data": {"active_sessions": 2, "max_sessions": 2}}});
        assert_eq!(
            result(&full, "create").unwrap_err().kind,
            ErrorType::CapacityReached
        );
        let factory =
            json!({"error": {"code": -32000, "message": "boom", "data": {"factory_name": "f"}}});
        assert_eq!(
            result(&factory, "create").unwrap_err().kind,
            ErrorType::ServerError
        );
        let tool = json!({"result": {"isError": true, "content": []}});
        assert_eq!(
            result(&tool, "call").unwrap_err().kind,
            ErrorType::ServerError
        );
        let junk = json!({"jsonrpc": "2.0"});
        assert_eq!(
            result(&junk, "call").unwrap_err().kind,
            ErrorType::MalformedResponse
        );
        assert_eq!(
            result(&json!({"result": {"tools": []}}), "list").unwrap(),
            json!({"tools": []})
        );
        assert!(check_request(r#"{"type":"mcp","data":{"method":"tools/list"}}"#).is_ok());
        assert!(check_request(r#"{"wait_seconds": 1}"#).is_err());
    }
}
