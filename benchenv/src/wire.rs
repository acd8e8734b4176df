//! Client messages of the OpenEnv session protocol and their validation,
//! with the error codes openenv answers bad input with.

use serde_json::{json, Map, Value};

/// A valid client frame on `/ws`.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMsg {
    /// `{"type":"reset","data":{…}}`; keys `reset()` does not take are dropped.
    Reset { episode_id: Option<String> },
    /// `{"type":"step","data":{"wait_seconds":…,"message":…}}`.
    Step(Action),
    /// `{"type":"mcp","data":{<JSON-RPC request>}}`.
    Mcp { data: Value },
    /// `{"type":"state"}`.
    State,
    /// `{"type":"close"}`: no reply, the server closes with 1000.
    Close,
}

/// A bad frame: the error frame to send and whether the session ends.
#[derive(Debug, Clone, PartialEq)]
pub struct WireError {
    /// `INVALID_JSON`, `UNKNOWN_TYPE`, `VALIDATION_ERROR`, …
    pub code: &'static str,
    /// Human-readable reason.
    pub message: String,
    /// Pydantic-style details (`VALIDATION_ERROR` only).
    pub errors: Option<Vec<Value>>,
}

/// Parses one text frame.
pub fn parse_frame(text: &str) -> Result<ClientMsg, WireError> {
    if let Some(msg) = canonical(text) {
        return Ok(msg);
    }
    let value: Value = serde_json::from_str(text).map_err(|e| WireError {
        code: "INVALID_JSON",
        message: format!("Invalid JSON: {e}"),
        errors: None,
    })?;
    let Some(obj) = value.as_object() else {
        return Err(validation(
            "message must be a JSON object",
            vec![error_item(
                "model_type",
                &[],
                "Input should be a valid dictionary",
                &value,
            )],
        ));
    };
    let kind = obj.get("type").and_then(Value::as_str).unwrap_or_default();
    let allowed: &[&str] = match kind {
        "reset" | "step" | "mcp" => &["type", "data"],
        "state" | "close" => &["type"],
        other => {
            return Err(WireError {
                code: "UNKNOWN_TYPE",
                message: format!("Unknown message type: {other:?}"),
                errors: None,
            })
        }
    };
    let extra = extra_keys(obj, allowed, &[]);
    if !extra.is_empty() {
        return Err(validation(&format!("Invalid {kind} message"), extra));
    }
    match kind {
        "reset" => {
            let data = obj.get("data").cloned().unwrap_or_else(|| json!({}));
            let Some(d) = data.as_object() else {
                return Err(validation(
                    "Invalid reset message",
                    vec![error_item(
                        "dict_type",
                        &["data"],
                        "Input should be a valid dictionary",
                        &data,
                    )],
                ));
            };
            let episode_id = d
                .get("episode_id")
                .and_then(Value::as_str)
                .map(str::to_string);
            Ok(ClientMsg::Reset { episode_id })
        }
        "step" => match obj.get("data") {
            None => Err(validation(
                "Invalid step message",
                vec![error_item("missing", &["data"], "Field required", &value)],
            )),
            Some(data) => parse_action(data, &["data"])
                .map(ClientMsg::Step)
                .map_err(|errors| validation("Invalid action", errors)),
        },
        "mcp" => match obj.get("data") {
            Some(data @ Value::Object(_)) => Ok(ClientMsg::Mcp { data: data.clone() }),
            other => Err(validation(
                "Invalid mcp message",
                vec![error_item(
                    "dict_type",
                    &["data"],
                    "Input should be a valid dictionary",
                    other.unwrap_or(&Value::Null),
                )],
            )),
        },
        "state" => Ok(ClientMsg::State),
        _ => Ok(ClientMsg::Close),
    }
}

/// The frames a benchmark client sends, byte for byte as envload and the
/// reference client write them, recognised without building a JSON value
/// tree; anything else (other spacing, key order, extra fields, errors)
/// takes the full parse, which gives the same answer for these.
fn canonical(text: &str) -> Option<ClientMsg> {
    const STEP: (&str, &str) = (r#"{"type":"step","data":{"wait_seconds":"#, "}}");
    match text {
        r#"{"type":"reset","data":{}}"# => Some(ClientMsg::Reset { episode_id: None }),
        r#"{"type":"close"}"# => Some(ClientMsg::Close),
        _ => {
            let number = text.strip_prefix(STEP.0)?.strip_suffix(STEP.1)?;
            // A plain non-negative JSON number only: the full parse owns
            // signs, nulls and everything out of range.
            if !number.starts_with(|c: char| c.is_ascii_digit())
                || !number
                    .bytes()
                    .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
            {
                return None;
            }
            let wait_seconds: f64 = serde_json::from_str(number).ok()?;
            wait_seconds.is_finite().then_some(ClientMsg::Step(Action {
                wait_seconds,
                message: None,
            }))
        }
    }
}

/// A benchmark action: wait, and optionally say something (a text game's
/// turn: the observation then carries every message of the episode).
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub wait_seconds: f64,
    pub message: Option<String>,
}

/// Validates a benchmark action `{"wait_seconds": float, "message": str}`
/// (both optional, wait 0.0 by default, nothing else allowed); errors are
/// pydantic-style items located under `loc`.
pub fn parse_action(action: &Value, loc: &[&str]) -> Result<Action, Vec<Value>> {
    let Some(obj) = action.as_object() else {
        return Err(vec![error_item(
            "dict_type",
            loc,
            "Input should be a valid dictionary",
            action,
        )]);
    };
    let mut errors = extra_keys(obj, &["wait_seconds", "message", "metadata"], loc);
    let message = match obj.get("message") {
        None | Some(Value::Null) => None,
        Some(Value::String(m)) => Some(m.clone()),
        Some(v) => {
            let mut at: Vec<&str> = loc.to_vec();
            at.push("message");
            errors.push(error_item(
                "string_type",
                &at,
                "Input should be a valid string",
                v,
            ));
            None
        }
    };
    let wait = match obj.get("wait_seconds") {
        None => Some(0.0),
        Some(v) => match v.as_f64() {
            Some(f) => Some(f),
            None => {
                let mut at: Vec<&str> = loc.to_vec();
                at.push("wait_seconds");
                errors.push(error_item(
                    "float_parsing",
                    &at,
                    "Input should be a valid number",
                    v,
                ));
                None
            }
        },
    };
    match wait {
        Some(wait_seconds) if errors.is_empty() => Ok(Action {
            wait_seconds,
            message,
        }),
        _ => Err(errors),
    }
}

/// The error frame for `code` (with optional extra fields merged into `data`).
pub fn error_frame(code: &str, message: &str, extra: Option<Map<String, Value>>) -> String {
    let mut data = Map::new();
    data.insert("message".into(), json!(message));
    data.insert("code".into(), json!(code));
    if let Some(extra) = extra {
        data.extend(extra);
    }
    json!({"type": "error", "data": data}).to_string()
}

/// A pydantic error item.
pub fn error_item(kind: &str, loc: &[&str], msg: &str, input: &Value) -> Value {
    json!({"type": kind, "loc": loc, "msg": msg, "input": input})
}

fn extra_keys(obj: &Map<String, Value>, allowed: &[&str], loc: &[&str]) -> Vec<Value> {
    obj.iter()
        .filter(|(k, _)| !allowed.contains(&k.as_str()))
        .map(|(k, v)| {
            let mut at: Vec<&str> = loc.to_vec();
            at.push(k);
            error_item("extra_forbidden", &at, "Extra inputs are not permitted", v)
        })
        .collect()
}

fn validation(message: &str, errors: Vec<Value>) -> WireError {
    WireError {
        code: "VALIDATION_ERROR",
        message: message.to_string(),
        errors: Some(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_message_type() {
        assert_eq!(
            parse_frame(r#"{"type":"reset"}"#),
            Ok(ClientMsg::Reset { episode_id: None })
        );
        assert_eq!(
            parse_frame(r#"{"type":"reset","data":{"seed":1,"episode_id":"e"}}"#),
            Ok(ClientMsg::Reset {
                episode_id: Some("e".into())
            })
        );
        assert_eq!(
            parse_frame(r#"{"type":"step","data":{"wait_seconds":0.5}}"#),
            Ok(ClientMsg::Step(Action {
                wait_seconds: 0.5,
                message: None
            }))
        );
        assert_eq!(parse_frame(r#"{"type":"state"}"#), Ok(ClientMsg::State));
        assert_eq!(
            parse_frame(r#"{"type":"step","data":{"message":"hi"}}"#),
            Ok(ClientMsg::Step(Action {
                wait_seconds: 0.0,
                message: Some("hi".into())
            }))
        );
        assert!(matches!(
            parse_frame(r#"{"type":"mcp","data":{"jsonrpc":"2.0","id":1,"method":"tools/list"}}"#),
            Ok(ClientMsg::Mcp { .. })
        ));
        assert_eq!(parse_frame(r#"{"type":"close"}"#), Ok(ClientMsg::Close));
    }

    #[test]
    fn canonical_frames_parse_as_the_full_parse_does() {
        for text in [
            r#"{"type":"reset","data":{}}"#,
            r#"{"type":"close"}"#,
            r#"{"type":"step","data":{"wait_seconds":1}}"#,
            r#"{"type":"step","data":{"wait_seconds":0.25}}"#,
            r#"{"type":"step","data":{"wait_seconds":1e-3}}"#,
            r#"{"type":"step","data":{"wait_seconds":2.5E+1}}"#,
        ] {
            let fast = canonical(text).unwrap_or_else(|| panic!("{text} is canonical"));
            let value: Value = serde_json::from_str(text).unwrap();
            let full = match value["type"].as_str().unwrap() {
                "step" => ClientMsg::Step(Action {
                    wait_seconds: value["data"]["wait_seconds"].as_f64().unwrap(),
                    message: None,
                }),
                "reset" => ClientMsg::Reset { episode_id: None },
                _ => ClientMsg::Close,
            };
            assert_eq!(fast, full, "{text}");
        }
        // Not canonical: the full parse decides (and rejects these).
        for text in [
            r#"{"type":"step","data":{"wait_seconds":-1}}"#,
            r#"{"type":"step","data":{"wait_seconds":1e999}}"#,
            r#"{"type":"step","data":{"wait_seconds":01}}"#,
            r#"{"type":"step","data":{"wait_seconds":1,"x":2}}"#,
            r#"{"type":"step","data":{"wait_seconds":"1"}}"#,
        ] {
            assert_eq!(canonical(text), None, "{text}");
        }
        assert_eq!(
            parse_frame(r#"{"type":"step","data":{"wait_seconds":01}}"#)
                .unwrap_err()
                .code,
            "INVALID_JSON"
        );
    }

    #[test]
    fn bad_frames_get_their_codes() {
        assert_eq!(parse_frame("nope").unwrap_err().code, "INVALID_JSON");
        assert_eq!(
            parse_frame(r#"{"type":"dance"}"#).unwrap_err().code,
            "UNKNOWN_TYPE"
        );
        let e = parse_frame(r#"{"type":"step","data":{"wait_seconds":1,"x":2}}"#).unwrap_err();
        assert_eq!(e.code, "VALIDATION_ERROR");
        assert_eq!(e.errors.unwrap()[0]["loc"], json!(["data", "x"]));
        assert_eq!(
            parse_frame(r#"{"type":"step"}"#).unwrap_err().code,
            "VALIDATION_ERROR"
        );
        assert_eq!(
            parse_frame(r#"{"type":"state","extra":1}"#)
                .unwrap_err()
                .code,
            "VALIDATION_ERROR"
        );
    }
}
