//! The benchmark environment itself: a step waits `wait_seconds` and reports
//! who served it.

use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Longest step wait the server accepts, seconds (a bound on what a client
/// can make a session hold).
pub const MAX_WAIT_SECONDS: f64 = 3600.0;
/// Facts about the serving process that every observation carries.
#[derive(Debug, Clone)]
pub struct Identity {
    /// Worker process id.
    pub pid: u32,
    /// `"<hostname>:<PORT>"`.
    pub host_url: String,
}

impl Identity {
    /// This process on `host` (the machine's name, which the binary looks
    /// up) and `port`.
    pub fn current(host: &str, port: u16) -> Self {
        Identity {
            pid: std::process::id(),
            host_url: format!("{host}:{port}"),
        }
    }
}

/// One environment instance (a WebSocket session, or one HTTP request).
#[derive(Debug)]
pub struct BenchEnv {
    identity: Identity,
    session_hash: String,
    episode_id: Option<String>,
    step_count: u64,
}

impl BenchEnv {
    /// A fresh instance with its own session hash: the first 12 hex digits of
    /// the SHA-256 of a random UUID.
    pub fn new(identity: Identity) -> Self {
        let mut raw = [0u8; 16];
        rand::rng().fill_bytes(&mut raw);
        raw[6] = (raw[6] & 0x0f) | 0x40;
        raw[8] = (raw[8] & 0x3f) | 0x80;
        let uuid = format_uuid(&raw);
        let digest = Sha256::digest(uuid.as_bytes());
        let session_hash = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        BenchEnv {
            identity,
            session_hash,
            episode_id: None,
            step_count: 0,
        }
    }

    /// Starts an episode; returns the observation.
    pub fn reset(&mut self, episode_id: Option<String>) -> Value {
        self.step_count = 0;
        self.episode_id = Some(episode_id.unwrap_or_else(|| {
            let mut raw = [0u8; 16];
            rand::rng().fill_bytes(&mut raw);
            format_uuid(&raw)
        }));
        self.observation(0.0)
    }

    /// The step: waits `wait_seconds` on a timer (holding no thread) and
    /// returns the observation. A wait outside `0..=MAX_WAIT_SECONDS` is the
    /// environment raising (openenv answers 500 over HTTP, EXECUTION_ERROR
    /// over WebSocket).
    pub async fn step(&mut self, wait_seconds: f64) -> Result<Value, String> {
        if !(0.0..=MAX_WAIT_SECONDS).contains(&wait_seconds) {
            return Err(format!(
                "step failed: wait_seconds must be within 0..={MAX_WAIT_SECONDS}, got {wait_seconds}"
            ));
        }
        tokio::time::sleep(std::time::Duration::from_secs_f64(wait_seconds)).await;
        self.step_count += 1;
        Ok(self.observation(wait_seconds))
    }

    /// `{"episode_id", "step_count"}`.
    pub fn state(&self) -> Value {
        json!({"episode_id": self.episode_id, "step_count": self.step_count})
    }

    fn observation(&self, waited: f64) -> Value {
        json!({
            "waited_seconds": waited,
            "pid": self.identity.pid,
            "session_hash": self.session_hash,
            "host_url": self.identity.host_url,
            "step_count": self.step_count,
        })
    }
}

/// The `{"observation","reward","done"}` envelope of reset and step replies.
pub fn envelope(observation: Value) -> Value {
    json!({"observation": observation, "reward": null, "done": false})
}

fn format_uuid(b: &[u8; 16]) -> String {
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sessions_differ_and_count_steps() {
        let id = Identity::current("test-host", 8000);
        let mut a = BenchEnv::new(id.clone());
        let b = BenchEnv::new(id);
        assert_ne!(a.session_hash, b.session_hash);
        assert_eq!(a.session_hash.len(), 12);
        assert_eq!(a.reset(None)["step_count"], 0);
        let obs = a.step(0.25).await.unwrap();
        assert_eq!(
            (obs["step_count"].as_u64(), obs["waited_seconds"].as_f64()),
            (Some(1), Some(0.25))
        );
        assert!(obs["host_url"].as_str().unwrap().ends_with(":8000"));
        assert!(a.step(-1.0).await.unwrap_err().contains("wait_seconds"));
    }
}
