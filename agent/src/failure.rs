//! Session failures are data: every one gets an `error_type` a script can
//! group by and an `error_message` a user can act on.

use std::io;

/// The class of a failed session (the `error_type` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorType {
    /// TCP connection refused: nothing listens at the target.
    ConnectionRefused,
    /// The target's host name did not resolve.
    DnsError,
    /// Connecting (TCP + WebSocket handshake) took longer than `--timeout`.
    HandshakeTimeout,
    /// TLS failed (certificate, protocol).
    TlsError,
    /// The server answered an HTTP status that is not success (includes a
    /// refused WebSocket upgrade).
    HttpStatus,
    /// The server refused the session: at `max_concurrent_envs`.
    CapacityReached,
    /// The server (or a proxy before it) wants credentials it did not get
    /// or refused them: HTTP 401 or 403 (`--header`).
    Unauthorized,
    /// The server sent an error frame (`data.code` in the message).
    ServerError,
    /// A reply that is not the JSON the protocol promises.
    MalformedResponse,
    /// The server closed the connection before the session finished.
    UnexpectedClose,
    /// No reply within `--timeout` after the request was sent.
    ReadTimeout,
    /// Any other connection-level error (reset, unreachable, …).
    ConnectionError,
    /// The agent running the session was lost before it reported.
    AgentLost,
    /// Reset and step succeeded, but the server never finished the WebSocket
    /// close handshake within `--close-timeout`.
    CloseTimeout,
    /// A keepalive ping went unanswered past `--ping-timeout`.
    PingTimeout,
    /// The session vanished on purpose (`--abort`): a client fault, not
    /// the server's.
    Aborted,
}

impl ErrorType {
    /// The name written into results.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::ConnectionRefused => "ConnectionRefused",
            ErrorType::DnsError => "DnsError",
            ErrorType::HandshakeTimeout => "HandshakeTimeout",
            ErrorType::TlsError => "TlsError",
            ErrorType::HttpStatus => "HttpStatus",
            ErrorType::CapacityReached => "CapacityReached",
            ErrorType::Unauthorized => "Unauthorized",
            ErrorType::ServerError => "ServerError",
            ErrorType::MalformedResponse => "MalformedResponse",
            ErrorType::UnexpectedClose => "UnexpectedClose",
            ErrorType::ReadTimeout => "ReadTimeout",
            ErrorType::ConnectionError => "ConnectionError",
            ErrorType::AgentLost => "AgentLost",
            ErrorType::CloseTimeout => "CloseTimeout",
            ErrorType::PingTimeout => "PingTimeout",
            ErrorType::Aborted => "Aborted",
        }
    }
}

impl std::str::FromStr for ErrorType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        const ALL: [ErrorType; 16] = [
            ErrorType::ConnectionRefused,
            ErrorType::DnsError,
            ErrorType::HandshakeTimeout,
            ErrorType::TlsError,
            ErrorType::HttpStatus,
            ErrorType::CapacityReached,
            ErrorType::Unauthorized,
            ErrorType::ServerError,
            ErrorType::MalformedResponse,
            ErrorType::UnexpectedClose,
            ErrorType::ReadTimeout,
            ErrorType::ConnectionError,
            ErrorType::AgentLost,
            ErrorType::CloseTimeout,
            ErrorType::PingTimeout,
            ErrorType::Aborted,
        ];
        ALL.into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| format!("unknown error_type '{s}'"))
    }
}

/// A classified session failure.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The class.
    pub kind: ErrorType,
    /// What happened, in words that point at the fix.
    pub message: String,
}

impl Failure {
    /// A failure of `kind` with `message`.
    pub fn new(kind: ErrorType, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
        }
    }

    /// Classifies an I/O error met while talking to `addr` during `stage`.
    pub fn from_io(err: &io::Error, addr: &str, stage: &str) -> Self {
        match err.kind() {
            io::ErrorKind::ConnectionRefused => Failure::new(
                ErrorType::ConnectionRefused,
                format!("connection refused by {addr} during {stage}: is the server running and listening there?"),
            ),
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe | io::ErrorKind::UnexpectedEof => {
                Failure::new(
                    ErrorType::UnexpectedClose,
                    format!("{addr} dropped the connection during {stage}: {err}"),
                )
            }
            io::ErrorKind::TimedOut => Failure::new(
                ErrorType::ReadTimeout,
                format!("{addr} timed out during {stage}: {err}"),
            ),
            _ => Failure::new(
                ErrorType::ConnectionError,
                format!("connection to {addr} failed during {stage}: {err}"),
            ),
        }
    }
}

/// A 401/403: `what` was refused, and what to do about it.
pub fn unauthorized(what: &str) -> Failure {
    Failure::new(
        ErrorType::Unauthorized,
        format!("{what}: the server wants credentials it did not get or refused them; send them with --header (e.g. --header 'Authorization: Bearer ${{HF_TOKEN}}')"),
    )
}

/// Every session of a share whose headers could not be made (`why`: the
/// variable missing from this process's environment).
pub fn unauthorized_without(why: String) -> Failure {
    Failure::new(
        ErrorType::Unauthorized,
        format!("{why}: no session was sent without its --header"),
    )
}

/// Cuts a server-supplied text to a length that fits a results line.
pub fn excerpt(text: &str) -> String {
    const MAX: usize = 200;
    let text = text.trim();
    if text.len() <= MAX {
        return text.to_string();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_io_is_connection_refused() {
        let e = io::Error::from(io::ErrorKind::ConnectionRefused);
        let f = Failure::from_io(&e, "127.0.0.1:9", "connect");
        assert_eq!(f.kind, ErrorType::ConnectionRefused);
        assert!(f.message.contains("127.0.0.1:9"));
    }

    #[test]
    fn excerpt_cuts_on_char_boundary() {
        let long = "é".repeat(300);
        let cut = excerpt(&long);
        assert!(cut.ends_with('…') && cut.len() < 210);
    }
}
