//! The benchmark environment itself: a step waits `wait_seconds` and reports
//! who served it.

use rand::RngCore;
use serde::Serialize;
use serde_json::{json, Value};

use crate::wire::Action;
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
pub struct BenchEnv<'a> {
    identity: &'a Identity,
    session_hash: String,
    episode_id: Option<String>,
    step_count: u64,
    /// The episode's messages (`{"message": …}` actions), all of them in
    /// every observation: a text game's growing history.
    messages: Vec<String>,
}

impl<'a> BenchEnv<'a> {
    /// A fresh instance with its own session hash: the first 12 hex digits of
    /// the SHA-256 of a random UUID.
    pub fn new(identity: &'a Identity) -> Self {
        let mut raw = [0u8; 16];
        rand::rng().fill_bytes(&mut raw);
        raw[6] = (raw[6] & 0x0f) | 0x40;
        raw[8] = (raw[8] & 0x3f) | 0x80;
        let uuid = format_uuid(&raw);
        let digest = Sha256::digest(uuid.as_bytes());
        let mut session_hash = String::with_capacity(12);
        push_hex(&mut session_hash, &digest[..6]);
        BenchEnv {
            identity,
            session_hash,
            episode_id: None,
            step_count: 0,
            messages: Vec::new(),
        }
    }

    /// Starts an episode; returns the observation.
    pub fn reset(&mut self, episode_id: Option<String>) -> Observation<'_> {
        self.step_count = 0;
        self.messages.clear();
        self.episode_id = Some(episode_id.unwrap_or_else(random_uuid));
        self.observation(0.0)
    }

    /// The step: waits `wait_seconds` on a timer (holding no thread) and
    /// returns the observation. A wait outside `0..=MAX_WAIT_SECONDS` is the
    /// environment raising (openenv answers 500 over HTTP, EXECUTION_ERROR
    /// over WebSocket).
    pub async fn step(&mut self, action: Action) -> Result<Observation<'_>, String> {
        let wait_seconds = action.wait_seconds;
        if !(0.0..=MAX_WAIT_SECONDS).contains(&wait_seconds) {
            return Err(format!(
                "step failed: wait_seconds must be within 0..={MAX_WAIT_SECONDS}, got {wait_seconds}"
            ));
        }
        tokio::time::sleep(std::time::Duration::from_secs_f64(wait_seconds)).await;
        self.step_count += 1;
        if let Some(m) = action.message {
            self.messages.push(m);
        }
        Ok(self.observation(wait_seconds))
    }

    /// `{"episode_id", "step_count"}`.
    pub fn state(&self) -> Value {
        json!({"episode_id": self.episode_id, "step_count": self.step_count})
    }

    fn observation(&self, waited: f64) -> Observation<'_> {
        Observation {
            waited_seconds: waited,
            pid: self.identity.pid,
            session_hash: &self.session_hash,
            host_url: &self.identity.host_url,
            step_count: self.step_count,
            messages: (!self.messages.is_empty()).then_some(&self.messages[..]),
        }
    }
}

/// What reset and step observe; serialised straight into the reply (no
/// JSON value tree per message).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Observation<'a> {
    pub waited_seconds: f64,
    pub pid: u32,
    pub session_hash: &'a str,
    pub host_url: &'a str,
    pub step_count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<&'a [String]>,
}

/// The `{"observation","reward","done"}` envelope of reset and step replies.
#[derive(Debug, Serialize)]
pub struct Envelope<'a> {
    pub observation: Observation<'a>,
    pub reward: Option<f64>,
    pub done: bool,
}

/// `observation` in its envelope (no reward, not done).
pub fn envelope(observation: Observation<'_>) -> Envelope<'_> {
    Envelope {
        observation,
        reward: None,
        done: false,
    }
}

/// Lower-case hex digits of `bytes`, appended to `out`.
fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
}

/// A random id in UUID form (episode ids, MCP session ids).
pub(crate) fn random_uuid() -> String {
    let mut raw = [0u8; 16];
    rand::rng().fill_bytes(&mut raw);
    format_uuid(&raw)
}

fn format_uuid(b: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, part) in [&b[0..4], &b[4..6], &b[6..8], &b[8..10], &b[10..16]]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            s.push('-');
        }
        push_hex(&mut s, part);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sessions_differ_and_count_steps() {
        let id = Identity::current("test-host", 8000);
        let mut a = BenchEnv::new(&id);
        let b = BenchEnv::new(&id);
        assert_ne!(a.session_hash, b.session_hash);
        assert_eq!(a.session_hash.len(), 12);
        assert!(a.session_hash.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a.reset(None).step_count, 0);
        let episode = a.episode_id.clone().unwrap();
        let dashes: Vec<usize> = episode.match_indices('-').map(|(i, _)| i).collect();
        assert_eq!((episode.len(), dashes), (36, vec![8, 13, 18, 23]));
        let wait = |w: f64| Action {
            wait_seconds: w,
            message: None,
        };
        let obs = serde_json::to_value(envelope(a.step(wait(0.25)).await.unwrap())).unwrap();
        assert_eq!(
            obs,
            json!({"observation": {"waited_seconds": 0.25, "pid": std::process::id(),
                "session_hash": a.session_hash, "host_url": "test-host:8000", "step_count": 1},
                "reward": null, "done": false})
        );
        assert!(a
            .step(wait(-1.0))
            .await
            .unwrap_err()
            .contains("wait_seconds"));
        for (i, m) in ["look", "go north"].into_iter().enumerate() {
            let said = Action {
                wait_seconds: 0.0,
                message: Some(m.into()),
            };
            let obs = a.step(said).await.unwrap();
            assert_eq!(obs.messages.unwrap().len(), i + 1, "the history grows");
        }
        assert_eq!(a.reset(None).messages, None, "a reset clears it");
    }
}
