//! Recorded sessions to replay (`--replay trace.jsonl`, docs/TRACE.md): a
//! trace turned into what each session sends — one recorded session's
//! client messages in order, each with the gap the client waited after
//! the previous reply (`--time-scale`d) and whether a reply came. The
//! sessions that send them: `replaying`.

use crate::trace::{Dir, Trace};

/// Longest recorded gap replayed: a day, as the longest think.
const MAX_GAP: f64 = 86_400.0;

/// How a trace's sessions speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// WebSocket `/ws`.
    Ws,
    /// WebSocket `/mcp` (raw JSON-RPC).
    McpWs,
    /// HTTP requests.
    Http,
}

impl Transport {
    /// As the wire names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Ws => "ws",
            Transport::McpWs => "mcp-ws",
            Transport::Http => "http",
        }
    }

    /// From [`Transport::as_str`].
    pub fn parse(s: &str) -> Option<Transport> {
        [Transport::Ws, Transport::McpWs, Transport::Http]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// One recorded client message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Seconds the client waited after the previous reply (or the start).
    pub gap: f64,
    /// The message (WebSocket) or request body (HTTP).
    pub text: String,
    /// The WebSocket message's type (`jsonrpc` on `/mcp`); HTTP: the method.
    pub kind: String,
    /// HTTP: the path.
    pub path: String,
    /// Whether a reply came before the client's next message.
    pub reply: bool,
}

/// What every replaying session of a phase draws from.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    pub transport: Transport,
    /// The recorded sessions, each its client messages in order.
    pub sessions: Vec<Vec<Message>>,
    /// Sessions pick a recorded one at random (seeded) rather than in turn.
    pub random: bool,
}

impl Replay {
    /// The replay of `trace`, gaps multiplied by `scale`.
    pub fn from_trace(trace: &Trace, scale: f64) -> Result<Replay, String> {
        if !trace.header.bodies {
            return Err("it was recorded with --no-bodies: there are no messages to send".into());
        }
        let mut transport = None;
        let mut sessions = Vec::new();
        for id in trace.sessions() {
            let events = trace.session(id);
            let Some(first) = events.first() else {
                continue;
            };
            let t = match (first.transport.as_str(), first.path.split('?').next()) {
                ("ws", Some("/mcp")) => Transport::McpWs,
                ("ws", _) => Transport::Ws,
                _ => Transport::Http,
            };
            if transport.is_some_and(|x| x != t) {
                return Err(format!(
                    "it mixes {} and {} sessions: replay one kind at a time",
                    transport.map_or("", Transport::as_str),
                    t.as_str()
                ));
            }
            transport = Some(t);
            let mut msgs: Vec<Message> = Vec::new();
            let mut last_reply = 0.0;
            for e in events {
                match (e.dir, e.kind.as_str()) {
                    (_, "open" | "end") => {}
                    (Dir::Client, kind) => msgs.push(Message {
                        gap: ((e.t - last_reply).max(0.0) * scale).min(MAX_GAP),
                        text: match &e.body {
                            Some(serde_json::Value::String(s)) => s.clone(),
                            Some(v) => v.to_string(),
                            None => String::new(),
                        },
                        kind: e.method.clone().unwrap_or_else(|| kind.to_string()),
                        path: e.path.clone(),
                        reply: false,
                    }),
                    (Dir::Server, _) => {
                        if let Some(m) = msgs.last_mut() {
                            m.reply = true;
                        }
                        last_reply = e.t;
                    }
                }
            }
            // The goodbye is the session's own close.
            if t == Transport::Ws && msgs.last().is_some_and(|m| m.kind == "close") {
                msgs.pop();
            }
            if !msgs.is_empty() {
                sessions.push(msgs);
            }
        }
        let transport = transport.ok_or("it holds no session")?;
        if sessions.is_empty() {
            return Err("no session in it sent a message".into());
        }
        Ok(Replay {
            transport,
            sessions,
            random: false,
        })
    }

    /// The recorded session session `request_id` replays.
    pub fn pick(&self, request_id: u64, seed: u64) -> &[Message] {
        let n = self.sessions.len() as u64;
        let i = if self.random {
            use rand::{Rng, SeedableRng};
            rand::rngs::StdRng::seed_from_u64(seed ^ request_id.wrapping_mul(0x2545_F491_4F6C_DD1D))
                .random_range(0..n)
        } else {
            request_id % n
        };
        &self.sessions[i as usize]
    }
}
