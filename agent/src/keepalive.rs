//! Client keepalive pings, as Python `websockets` (and so OpenEnv's
//! `EnvClient`) sends them: a ping every `--ping-interval` from the
//! session's start, each to be answered within `--ping-timeout`, or the
//! session fails `PingTimeout`. Servers pay for these pings, and proxies
//! that drop control frames break them; a session that never pings cannot
//! show either. Pings are sent while a request waits for its reply and
//! while the agent thinks, never extend a request's deadline, and are
//! counted.

use std::time::Duration;

use tokio::time::Instant;

use crate::failure::{ErrorType, Failure};
use crate::plan::Limits;

/// The payload of envload's pings.
pub const PAYLOAD: &[u8] = b"envload-keepalive";

/// One session's keepalive state.
#[derive(Debug, Clone)]
pub struct Keepalive {
    interval: Option<Duration>,
    timeout: Duration,
    /// When the next ping is due.
    next: Instant,
    /// When the unanswered ping went out, if one is out.
    sent: Option<Instant>,
    /// Pings sent.
    pub pings: u64,
    /// Their pongs received.
    pub pongs: u64,
}

/// What the session must do now.
#[derive(Debug, PartialEq, Eq)]
pub enum Due {
    /// Nothing yet.
    Nothing,
    /// Send a ping.
    Ping,
}

impl Keepalive {
    /// Keepalive for a session opened now, under `limits`.
    pub fn new(limits: &Limits) -> Self {
        Keepalive::starting(limits, Instant::now())
    }

    /// Keepalive for a session opened at `now`.
    fn starting(limits: &Limits, now: Instant) -> Self {
        Keepalive {
            interval: limits.ping_interval,
            timeout: limits.ping_timeout,
            next: now + limits.ping_interval.unwrap_or_default(),
            sent: None,
            pings: 0,
            pongs: 0,
        }
    }

    /// When a reader must wake for the keepalive (`None`: pings are off).
    pub fn wake(&self) -> Option<Instant> {
        self.interval?;
        Some(match self.sent {
            Some(at) => (at + self.timeout).min(self.next),
            None => self.next,
        })
    }

    /// What is due at `now`; an unanswered ping past `--ping-timeout` fails
    /// the session.
    pub fn due(&mut self, now: Instant, url: &str) -> Result<Due, Failure> {
        let Some(interval) = self.interval else {
            return Ok(Due::Nothing);
        };
        if let Some(at) = self.sent {
            if now >= at + self.timeout {
                return Err(Failure::new(
                    ErrorType::PingTimeout,
                    format!(
                        "{url} answered no keepalive ping within {:.1}s (--ping-timeout): a server or proxy that drops control frames, or one too busy to read",
                        self.timeout.as_secs_f64()
                    ),
                ));
            }
        }
        if now >= self.next && self.sent.is_none() {
            self.sent = Some(now);
            self.next = now + interval;
            self.pings += 1;
            return Ok(Due::Ping);
        }
        if now >= self.next {
            // The previous ping is still out (and within its timeout): the
            // next waits for it, as websockets' keepalive does.
            self.next = now + interval;
        }
        Ok(Due::Nothing)
    }

    /// A pong arrived (one with envload's payload answers the ping out).
    pub fn pong(&mut self, payload: &[u8]) {
        if payload == PAYLOAD && self.sent.take().is_some() {
            self.pongs += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(interval: Option<f64>, timeout: f64) -> Limits {
        Limits {
            request: Duration::from_secs(1),
            close: Duration::from_secs(1),
            max_message: 1024,
            ping_interval: interval.map(Duration::from_secs_f64),
            ping_timeout: Duration::from_secs_f64(timeout),
        }
    }

    #[test]
    fn a_ping_goes_out_every_interval_and_a_late_pong_fails_the_session() {
        let t0 = Instant::now();
        let mut k = Keepalive::starting(&limits(Some(20.0), 5.0), t0);
        assert_eq!(k.wake(), Some(t0 + Duration::from_secs(20)));
        assert_eq!(
            k.due(t0 + Duration::from_secs(19), "u").unwrap(),
            Due::Nothing
        );
        assert_eq!(k.due(t0 + Duration::from_secs(20), "u").unwrap(), Due::Ping);
        assert_eq!(k.wake(), Some(t0 + Duration::from_secs(25)));
        k.pong(PAYLOAD);
        assert_eq!((k.pings, k.pongs), (1, 1));
        assert_eq!(k.due(t0 + Duration::from_secs(40), "u").unwrap(), Due::Ping);
        let e = k.due(t0 + Duration::from_secs(45), "u").unwrap_err();
        assert_eq!(e.kind, ErrorType::PingTimeout);
        assert!(e.message.contains("--ping-timeout"), "{}", e.message);
    }

    #[test]
    fn off_means_never_and_a_foreign_pong_answers_nothing() {
        let mut k = Keepalive::new(&limits(None, 5.0));
        assert_eq!(k.wake(), None);
        assert_eq!(
            k.due(Instant::now() + Duration::from_secs(3600), "u")
                .unwrap(),
            Due::Nothing
        );
        let t0 = Instant::now();
        let mut k = Keepalive::starting(&limits(Some(1.0), 5.0), t0);
        assert_eq!(k.due(t0 + Duration::from_secs(1), "u").unwrap(), Due::Ping);
        k.pong(b"unsolicited");
        assert_eq!(k.pongs, 0);
    }
}
