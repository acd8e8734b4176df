//! `/schema` and `/metadata`: what the benchmark environment describes
//! itself as.

use serde_json::{json, Value};

/// `GET /schema`: JSON schemas of action, observation and state.
pub fn schema() -> Value {
    json!({
        "action": {
            "title": "BenchmarkAction",
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "wait_seconds": {"title": "Wait Seconds", "type": "number", "default": 0.0,
                                  "description": "Seconds the step waits before replying"},
                "metadata": {"title": "Metadata", "type": "object"}
            }
        },
        "observation": {
            "title": "BenchmarkObservation",
            "type": "object",
            "properties": {
                "waited_seconds": {"type": "number"},
                "pid": {"type": "integer"},
                "session_hash": {"type": "string"},
                "host_url": {"type": "string"},
                "step_count": {"type": "integer"},
                "done": {"type": "boolean", "default": false},
                "reward": {"anyOf": [{"type": "number"}, {"type": "null"}], "default": null}
            }
        },
        "state": {
            "title": "State",
            "type": "object",
            "properties": {
                "episode_id": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": null},
                "step_count": {"type": "integer", "default": 0}
            }
        }
    })
}

/// `GET /metadata`.
pub fn metadata() -> Value {
    json!({
        "name": "envload-benchenv",
        "description": "OpenEnv benchmark environment: a step waits wait_seconds and reports pid, session_hash and host_url",
        "readme_content": null,
        "version": env!("CARGO_PKG_VERSION"),
        "author": "envload",
        "documentation_url": null
    })
}
