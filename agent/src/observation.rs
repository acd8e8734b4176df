//! The fields envload reads off a step observation.

use serde_json::Value;

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
    /// Reads the `observation` of a reset/step reply (`{"observation":…}`).
    pub fn from_reply(reply: &Value) -> Self {
        Self::from_observation(reply.get("observation").unwrap_or(&Value::Null))
    }

    /// Reads the benchmark fields from an observation object; missing fields
    /// stay empty like the reference client's `.get(…, default)`.
    pub fn from_observation(obs: &Value) -> Self {
        Observed {
            waited_seconds: obs
                .get("waited_seconds")
                .and_then(Value::as_f64)
                .unwrap_or(0.0),
            pid: obs.get("pid").and_then(Value::as_i64).unwrap_or(0),
            session_hash: obs
                .get("session_hash")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            host_url: obs
                .get("host_url")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        }
    }
}
