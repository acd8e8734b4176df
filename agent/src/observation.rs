//! The fields envload reads off a reset or step reply, checked: the
//! `observation` must be a JSON object, and the benchmark fields, optional
//! because real environments lack them, must have their type when present.
//! Anything else is a `MalformedResponse` naming the field, the same in
//! WebSocket and HTTP mode.

use serde_json::{Map, Value};

use crate::failure::{excerpt, ErrorType, Failure};

/// What a successful step told us about who served it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// `waited_seconds` the environment reports.
    pub waited_seconds: f64,
    /// Worker process id.
    pub pid: i64,
    /// Per-session hash.
    pub session_hash: String,
    /// `host:port` of the server.
    pub host_url: String,
}

impl Observed {
    /// Reads and checks the `observation` of a reset/step reply
    /// (`{"observation":{…},"reward":…,"done":…}`); `stage` and `from` name
    /// the request and the server in the failure.
    pub fn from_reply(reply: &Value, stage: &str, from: &str) -> Result<Self, Failure> {
        let bad = |what: String| {
            Failure::new(
                ErrorType::MalformedResponse,
                format!(
                    "reply to {stage} from {from}: {what}: {}",
                    excerpt(&reply.to_string())
                ),
            )
        };
        let Some(reply_obj) = reply.as_object() else {
            return Err(bad(format!("expected a JSON object, got {}", kind(reply))));
        };
        let obs = match reply_obj.get("observation") {
            Some(Value::Object(o)) => o,
            Some(other) => {
                return Err(bad(format!(
                    "\"observation\" must be an object, got {}",
                    kind(other)
                )))
            }
            None => return Err(bad("it has no \"observation\"".into())),
        };
        let number = |k: &str| typed(obs, k, "a number", Value::as_f64).map_err(&bad);
        let integer = |k: &str| typed(obs, k, "an integer", Value::as_i64).map_err(&bad);
        let text =
            |k: &str| typed(obs, k, "a string", |v| v.as_str().map(str::to_string)).map_err(&bad);
        integer("step_count")?;
        Ok(Observed {
            waited_seconds: number("waited_seconds")?.unwrap_or(0.0),
            pid: integer("pid")?.unwrap_or(0),
            session_hash: text("session_hash")?.unwrap_or_default(),
            host_url: text("host_url")?.unwrap_or_default(),
        })
    }
}

/// Field `key` of `obs` read with `get`: absent or null is `None`; present
/// with another type is an error naming the field and the type expected.
fn typed<T>(
    obs: &Map<String, Value>,
    key: &str,
    expected: &str,
    get: impl Fn(&Value) -> Option<T>,
) -> Result<Option<T>, String> {
    match obs.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => get(v).map(Some).ok_or_else(|| {
            format!(
                "observation field \"{key}\" must be {expected}, got {}",
                kind(v)
            )
        }),
    }
}

/// A JSON value's kind, for messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a non-integer number",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(reply: Value) -> Result<Observed, Failure> {
        Observed::from_reply(&reply, "step", "ws://h:1/ws")
    }

    #[test]
    fn benchmark_fields_are_read() {
        let o = check(json!({"observation": {"waited_seconds": 1.5, "pid": 7,
            "session_hash": "ab", "host_url": "h:1", "step_count": 1}, "done": false}))
        .unwrap();
        assert_eq!(
            (o.waited_seconds, o.pid, o.host_url.as_str()),
            (1.5, 7, "h:1")
        );
    }

    #[test]
    fn real_environments_without_benchmark_fields_pass() {
        let o = check(json!({"observation": {"echoed_message": "hi", "pid": null}})).unwrap();
        assert_eq!(o, Observed::default());
    }

    #[test]
    fn malformed_replies_name_what_is_wrong() {
        for (reply, needle) in [
            (json!({"reward": 1}), "no \"observation\""),
            (
                json!({"observation": null}),
                "\"observation\" must be an object, got null",
            ),
            (json!("just text"), "expected a JSON object, got a string"),
            (
                json!({"observation": {"pid": "12"}}),
                "\"pid\" must be an integer, got a string",
            ),
            (
                json!({"observation": {"pid": 1.5}}),
                "\"pid\" must be an integer",
            ),
            (
                json!({"observation": {"waited_seconds": "1"}}),
                "\"waited_seconds\" must be a number",
            ),
            (
                json!({"observation": {"host_url": 3}}),
                "\"host_url\" must be a string",
            ),
            (
                json!({"observation": {"step_count": []}}),
                "\"step_count\" must be an integer, got an array",
            ),
        ] {
            let f = check(reply.clone()).unwrap_err();
            assert_eq!(f.kind, ErrorType::MalformedResponse, "{reply}");
            assert!(f.message.contains(needle), "{reply}: {}", f.message);
            assert!(
                f.message.contains("reply to step from ws://h:1/ws"),
                "{}",
                f.message
            );
        }
    }
}
