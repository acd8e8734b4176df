//! What a server process has served, for tests that check a load
//! generator's promises from the other end (`GET /envload/counters`):
//! connections accepted, resets and the most ever in flight at once, steps,
//! `state` requests, MCP calls and MCP sessions opened and closed, pings
//! sent and pongs received, and when WebSocket sessions opened (per 100 ms
//! from the first, for tests of arrival schedules). Per worker process.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The counters of one process.
#[derive(Debug, Default)]
pub struct Counters {
    connections: AtomicU64,
    resets: AtomicU64,
    resets_in_flight: AtomicU64,
    resets_in_flight_max: AtomicU64,
    steps: AtomicU64,
    mcp_calls: AtomicU64,
    states: AtomicU64,
    mcp_sessions_created: AtomicU64,
    mcp_sessions_closed: AtomicU64,
    pings_sent: AtomicU64,
    pongs_received: AtomicU64,
    pings_received: AtomicU64,
    sessions: AtomicU64,
    sessions_ended: AtomicU64,
    unauthorized: AtomicU64,
    opened: Mutex<Opened>,
}

/// Sessions opened per [`SLOT`] since the first one.
#[derive(Debug, Default)]
struct Opened {
    first: Option<Instant>,
    per_slot: Vec<u64>,
}

/// The width of one slot of `ws_sessions_per_100ms`.
const SLOT: Duration = Duration::from_millis(100);
/// Slots kept (an hour); sessions opened later count in the last one.
const SLOTS: usize = 36_000;

/// A reset in progress; counted out when dropped.
pub struct ResetGuard<'a>(&'a Counters);

impl Drop for ResetGuard<'_> {
    fn drop(&mut self) {
        self.0.resets_in_flight.fetch_sub(1, Relaxed);
    }
}

impl Counters {
    /// A TCP connection was accepted (HTTP requests and WebSocket sessions
    /// alike; the one asking for these counters too).
    pub fn connection(&self) {
        self.connections.fetch_add(1, Relaxed);
    }

    /// A reset starts.
    pub fn reset(&self) -> ResetGuard<'_> {
        self.resets.fetch_add(1, Relaxed);
        let now = self.resets_in_flight.fetch_add(1, Relaxed) + 1;
        self.resets_in_flight_max.fetch_max(now, Relaxed);
        ResetGuard(self)
    }

    pub fn step(&self) {
        self.steps.fetch_add(1, Relaxed);
    }

    pub fn mcp_call(&self) {
        self.mcp_calls.fetch_add(1, Relaxed);
    }

    /// A `state` request (WebSocket message or `GET /state`).
    pub fn state(&self) {
        self.states.fetch_add(1, Relaxed);
    }

    /// An MCP session opened (WebSocket `/mcp`, or HTTP's session/create).
    pub fn mcp_session_created(&self) {
        self.mcp_sessions_created.fetch_add(1, Relaxed);
    }

    /// An MCP session ended (its socket closed, or session/close).
    pub fn mcp_session_closed(&self) {
        self.mcp_sessions_closed.fetch_add(1, Relaxed);
    }

    pub fn ping(&self) {
        self.pings_sent.fetch_add(1, Relaxed);
    }

    pub fn pong(&self) {
        self.pongs_received.fetch_add(1, Relaxed);
    }

    /// A client's keepalive ping arrived (and was answered).
    pub fn ping_received(&self) {
        self.pings_received.fetch_add(1, Relaxed);
    }

    /// A WebSocket session ended; its number (1, 2, …).
    pub fn session_ended(&self) -> u64 {
        self.sessions_ended.fetch_add(1, Relaxed) + 1
    }

    /// A request refused for want of the bearer token.
    pub fn unauthorized(&self) {
        self.unauthorized.fetch_add(1, Relaxed);
    }

    /// A WebSocket session opened.
    pub fn session(&self) {
        self.sessions.fetch_add(1, Relaxed);
        let now = Instant::now();
        let mut o = self.opened.lock().unwrap_or_else(|p| p.into_inner());
        let first = *o.first.get_or_insert(now);
        let slot = ((now - first).as_nanos() / SLOT.as_nanos()).min(SLOTS as u128 - 1) as usize;
        if o.per_slot.len() <= slot {
            o.per_slot.resize(slot + 1, 0);
        }
        o.per_slot[slot] += 1;
    }

    /// All of them, as the endpoint returns them.
    pub fn snapshot(&self) -> Value {
        json!({
            "pid": std::process::id(),
            "connections": self.connections.load(Relaxed),
            "sessions": self.sessions.load(Relaxed),
            "resets": self.resets.load(Relaxed),
            "resets_in_flight_max": self.resets_in_flight_max.load(Relaxed),
            "steps": self.steps.load(Relaxed),
            "mcp_calls": self.mcp_calls.load(Relaxed),
            "states": self.states.load(Relaxed),
            "mcp_sessions_created": self.mcp_sessions_created.load(Relaxed),
            "mcp_sessions_closed": self.mcp_sessions_closed.load(Relaxed),
            "pings_sent": self.pings_sent.load(Relaxed),
            "pongs_received": self.pongs_received.load(Relaxed),
            "pings_received": self.pings_received.load(Relaxed),
            "unauthorized": self.unauthorized.load(Relaxed),
            "ws_sessions_per_100ms": self.opened.lock().unwrap_or_else(|p| p.into_inner()).per_slot.clone(),
        })
    }
}
