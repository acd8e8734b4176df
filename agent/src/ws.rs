//! One WebSocket session: connect `/ws`, `reset`, `step{wait_seconds}`,
//! `close`, each stage timed and every failure classified.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::time::{timeout, timeout_at};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use crate::conn::Conn;
use crate::dial::Dial;
use crate::failure::{excerpt, ErrorType, Failure};
use crate::keepalive::{self, Due, Keepalive};
use crate::observation::Observed;
use crate::plan::{Abort, AbortStage, CloseMode, Limits};
use crate::record::{micros, Timings};
use crate::target::Target;
use crate::upgrade;

/// An open session: the stream, and its keepalive.
pub(crate) struct Ws {
    stream: WebSocketStream<Conn>,
    /// Its pings and what is due.
    pub keepalive: Keepalive,
}

impl std::ops::Deref for Ws {
    type Target = WebSocketStream<Conn>;
    fn deref(&self) -> &Self::Target {
        &self.stream
    }
}

impl std::ops::DerefMut for Ws {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.stream
    }
}

/// Ends `ws` as a crashed client does: no close frame, and a RST (`fin`:
/// a plain FIN). Returns the failure that records it.
pub(crate) async fn vanish(mut ws: Ws, at: AbortStage, fin: bool) -> Failure {
    // What was sent leaves first; then the socket goes.
    let _ = ws.stream.flush().await;
    if !fin {
        let _ = socket2::SockRef::from(ws.stream.get_ref().tcp()).set_linger(Some(Duration::ZERO));
    }
    drop(ws);
    Failure::new(
        ErrorType::Aborted,
        format!(
            "vanished at {} without a close frame ({}), as --abort asked",
            at.as_str(),
            if fin { "FIN" } else { "RST" }
        ),
    )
}

/// Sends `frame` and vanishes (an abort at reset or step).
pub(crate) async fn send_and_vanish(
    mut ws: Ws,
    frame: Utf8Bytes,
    at: AbortStage,
    fin: bool,
) -> Failure {
    let _ = ws.stream.feed(Message::Text(frame)).await;
    vanish(ws, at, fin).await
}

/// What reading an open session gave.
enum Next {
    /// A frame (pongs included: the keepalive has seen them).
    Frame(Message),
    /// The stream ended (the TCP connection closed).
    Ended,
    /// The stream broke.
    Broken(tungstenite::Error),
    /// Nothing came before the deadline.
    Deadline,
}

/// The next frame, reading until `until`; keepalive pings go out (and
/// unanswered ones fail the session) meanwhile.
async fn next_frame(
    ws: &mut Ws,
    until: tokio::time::Instant,
    target: &Target,
) -> Result<Next, Failure> {
    loop {
        let wake = ws.keepalive.wake().map_or(until, |w| w.min(until));
        match timeout_at(wake, ws.stream.next()).await {
            Ok(Some(Ok(frame))) => {
                if let Message::Pong(p) = &frame {
                    ws.keepalive.pong(p);
                }
                return Ok(Next::Frame(frame));
            }
            Ok(Some(Err(e))) => return Ok(Next::Broken(e)),
            Ok(None) => return Ok(Next::Ended),
            Err(_) => {
                let now = tokio::time::Instant::now();
                if ws.keepalive.due(now, &target.ws_url)? == Due::Ping {
                    let ping = Message::Ping(tungstenite::Bytes::from_static(keepalive::PAYLOAD));
                    if let Err(e) = ws.stream.send(ping).await {
                        return Err(stream_failure(e, "keepalive", target));
                    }
                }
                if now >= until {
                    return Ok(Next::Deadline);
                }
            }
        }
    }
}

/// The reset and close messages: the same bytes for every session.
const RESET: &str = r#"{"type":"reset","data":{}}"#;
const CLOSE: &str = r#"{"type":"close"}"#;

/// The step message asking the environment to wait `wait_seconds`; built
/// once per share and shared by its sessions.
pub fn step_message(wait_seconds: f64) -> Utf8Bytes {
    format!(r#"{{"type":"step","data":{{"wait_seconds":{wait_seconds}}}}}"#).into()
}

/// Buffers sized for many idle sessions, not for throughput: tungstenite's
/// default eagerly allocates 128 KiB per connection. Writes are buffered only
/// so that the close message and close frame leave in one segment; every
/// request is flushed by `send`. Messages and frames above `max_message`
/// bytes (`--max-message-size`) are refused, so a server cannot grow a
/// session's memory without bound.
pub fn session_config(max_message: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(1024)
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message))
}

/// Runs one WebSocket session (vanishing at `abort`, if it is one that
/// aborts); returns what was timed and the outcome.
pub async fn run_session(
    dial: Dial<'_>,
    request_id: u64,
    step: Utf8Bytes,
    limits: Limits,
    close: CloseMode,
    abort: Option<Abort>,
) -> (Timings, Result<Observed, Failure>) {
    let t0 = Instant::now();
    let mut timings = Timings::default();
    let limit = limits.request;
    let target = dial.target;
    let outcome = async {
        let mut ws = connect(dial, request_id, limits).await?;
        timings.connect_us = micros(t0.elapsed());

        // Each reply is checked and dropped in its own statement: a parsed
        // reply is ~1 KiB of heap that must not live on through the step
        // and the close of every concurrent session.
        let t = Instant::now();
        let reset = Utf8Bytes::from_static(RESET);
        let abort_at = |stage| abort.filter(|a| a.stage == stage);
        if let Some(a) = abort_at(AbortStage::Reset) {
            return Err(send_and_vanish(ws, reset, a.stage, a.fin).await);
        }
        Observed::from_reply(
            &request(&mut ws, reset, "reset", target, limit).await?,
            "reset",
            &target.ws_url,
        )?;
        timings.reset_us = micros(t.elapsed());
        if let Some(a) = abort_at(AbortStage::Think) {
            return Err(vanish(ws, a.stage, a.fin).await);
        }
        if let Some(a) = abort_at(AbortStage::Step) {
            return Err(send_and_vanish(ws, step, a.stage, a.fin).await);
        }

        let t = Instant::now();
        let observed = Observed::from_reply(
            &request(&mut ws, step, "step", target, limit).await?,
            "step",
            &target.ws_url,
        )?;
        timings.step_us = micros(t.elapsed());

        finish(&mut ws, close, limits.close, target).await?;
        Ok(observed)
    }
    .await;
    (timings.settle(t0, outcome.is_err()), outcome)
}

/// Resolves, connects TCP and performs the WebSocket handshake within `limit`.
pub(crate) async fn connect(
    dial: Dial<'_>,
    request_id: u64,
    limits: Limits,
) -> Result<Ws, Failure> {
    let (target, head) = (dial.target, dial.head);
    let limit = limits.request;
    let addr = format!("{}:{}", target.host, target.port);
    let attempt = async {
        let mut tcp = dial.open(request_id, &target.ws_url).await?;
        let rest = upgrade::handshake(&mut tcp, head, target, &addr).await?;
        let config = Some(session_config(limits.max_message));
        Ok(Ws {
            stream: WebSocketStream::from_partially_read(tcp, rest, Role::Client, config).await,
            keepalive: Keepalive::new(&limits),
        })
    };
    // Boxed: the handshakes' state is large and lives only while connecting.
    match timeout(limit, Box::pin(attempt)).await {
        Ok(r) => r,
        Err(_) => Err(Failure::new(
            ErrorType::HandshakeTimeout,
            format!(
                "no WebSocket handshake with {} within {:.1}s (--timeout): server overloaded or not accepting",
                target.ws_url,
                limit.as_secs_f64()
            ),
        )),
    }
}

/// Sends one request frame and waits for its `observation` reply. The
/// deadline runs from the send: pings and pongs are answered (tungstenite
/// queues the pong and writes it on the next read) but never extend it.
pub(crate) async fn request(
    ws: &mut Ws,
    frame: Utf8Bytes,
    stage: &str,
    target: &Target,
    limit: Duration,
) -> Result<Value, Failure> {
    request_counted(ws, frame, stage, target, limit, Reply::Observation, &mut 0).await
}

/// What a request's reply must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reply {
    /// `{"type":"observation","data":…}` (reset, step).
    Observation,
    /// `{"type":"mcp","data":<JSON-RPC response>}` (an MCP call).
    Mcp,
    /// `{"type":"state","data":…}` (a state request).
    State,
    /// A raw JSON-RPC response (`/mcp`'s frames).
    JsonRpc,
}

impl Reply {
    /// The `type` such a reply has (none for raw JSON-RPC).
    fn type_name(self) -> &'static str {
        match self {
            Reply::Observation => "observation",
            Reply::Mcp => "mcp",
            Reply::State => "state",
            Reply::JsonRpc => "<none>",
        }
    }
}

/// [`request`] for a reply of kind `expect`, adding the reply's bytes to
/// `received`.
pub(crate) async fn request_counted(
    ws: &mut Ws,
    frame: Utf8Bytes,
    stage: &str,
    target: &Target,
    limit: Duration,
    expect: Reply,
    received: &mut u64,
) -> Result<Value, Failure> {
    if let Err(e) = ws.send(Message::Text(frame)).await {
        // The server may have refused the session before our first frame
        // (capacity): its error frame is then already waiting to be read.
        if let Ok(Some(Ok(Message::Text(t)))) = timeout(Duration::from_millis(200), ws.next()).await
        {
            *received += t.len() as u64;
            return reply_data(&t, stage, target, expect);
        }
        return Err(stream_failure(e, stage, target));
    }
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match next_frame(ws, deadline, target).await? {
            Next::Deadline => {
                return Err(Failure::new(
                    ErrorType::ReadTimeout,
                    format!(
                        "no reply to {stage} from {} within {:.1}s (--timeout)",
                        target.ws_url,
                        limit.as_secs_f64()
                    ),
                ))
            }
            Next::Ended => {
                return Err(Failure::new(
                    ErrorType::UnexpectedClose,
                    format!(
                        "{} ended the connection during {stage} without a close frame",
                        target.ws_url
                    ),
                ))
            }
            Next::Broken(e) => return Err(stream_failure(e, stage, target)),
            Next::Frame(Message::Text(t)) => {
                *received += t.len() as u64;
                return reply_data(&t, stage, target, expect);
            }
            Next::Frame(Message::Close(frame)) => {
                let (code, reason) = frame
                    .map(|f| (u16::from(f.code).to_string(), f.reason.to_string()))
                    .unwrap_or_else(|| ("none".into(), String::new()));
                return Err(Failure::new(
                    ErrorType::UnexpectedClose,
                    format!(
                        "{} closed the session during {stage} (close code {code}{}{reason})",
                        target.ws_url,
                        if reason.is_empty() { "" } else { ": " }
                    ),
                ));
            }
            Next::Frame(Message::Binary(_)) => {
                return Err(Failure::new(
                    ErrorType::MalformedResponse,
                    format!(
                        "{} answered {stage} with a binary frame; OpenEnv replies are JSON text",
                        target.ws_url
                    ),
                ))
            }
            Next::Frame(_) => continue, // ping, pong
        }
    }
}

/// Sends `frame` and waits for no reply (a recorded client message that
/// got none).
pub(crate) async fn send_only(
    ws: &mut Ws,
    frame: Utf8Bytes,
    target: &Target,
) -> Result<(), Failure> {
    ws.send(Message::Text(frame))
        .await
        .map_err(|e| stream_failure(e, "send", target))
}

/// Waits `secs` on an open session as a thinking agent does: the socket is
/// read meanwhile, so pings are answered (tungstenite queues the pong; the
/// flush sends it) and a server that ends the session is seen at once.
pub(crate) async fn think(ws: &mut Ws, secs: f64, target: &Target) -> Result<(), Failure> {
    let until = tokio::time::Instant::now() + Duration::from_secs_f64(secs);
    loop {
        match next_frame(ws, until, target).await? {
            Next::Deadline => return Ok(()),
            Next::Frame(Message::Text(t)) => {
                return Err(match reply_data(&t, "think", target, Reply::Observation) {
                    Err(f) => f,
                    Ok(_) => Failure::new(
                        ErrorType::MalformedResponse,
                        format!(
                            "{} sent an observation nobody asked for while the agent was thinking: {}",
                            target.ws_url,
                            excerpt(&t)
                        ),
                    ),
                })
            }
            Next::Frame(Message::Close(_)) | Next::Ended => {
                return Err(Failure::new(
                    ErrorType::UnexpectedClose,
                    format!("{} ended the session while the agent was thinking", target.ws_url),
                ))
            }
            Next::Frame(Message::Binary(_)) => {
                return Err(Failure::new(
                    ErrorType::MalformedResponse,
                    format!("{} sent a binary frame while the agent was thinking", target.ws_url),
                ))
            }
            Next::Broken(e) => return Err(stream_failure(e, "think", target)),
            Next::Frame(_) => {
                // A ping: its pong leaves now, not at the next request.
                let _ = ws.flush().await;
            }
        }
    }
}

/// Interprets a reply frame: the `data` of an observation, or the failure an
/// error frame or malformed text stands for.
fn reply_data(text: &str, stage: &str, target: &Target, expect: Reply) -> Result<Value, Failure> {
    let msg: Value = serde_json::from_str(text).map_err(|e| {
        Failure::new(
            ErrorType::MalformedResponse,
            format!(
                "reply to {stage} from {} is not JSON ({e}): {}",
                target.ws_url,
                excerpt(text)
            ),
        )
    })?;
    let what = || format!("{stage} at {}", target.ws_url);
    if expect == Reply::JsonRpc {
        return crate::jsonrpc::result(&msg, &what());
    }
    match msg.get("type").and_then(Value::as_str) {
        Some("mcp") if expect == Reply::Mcp => {
            crate::jsonrpc::result(msg.get("data").unwrap_or(&Value::Null), &what())
        }
        Some("state") if expect == Reply::State => Ok(Value::Null),
        // Moved out, not cloned: the reply's tree is built once.
        Some("observation") if expect == Reply::Observation => Ok(match msg {
            Value::Object(mut m) => m.remove("data").unwrap_or(Value::Null),
            _ => Value::Null,
        }),
        Some("error") => {
            let data = msg.get("data").cloned().unwrap_or(Value::Null);
            let code = data
                .get("code")
                .and_then(Value::as_str)
                .unwrap_or("UNKNOWN");
            let message = data.get("message").and_then(Value::as_str).unwrap_or("");
            let kind = if code == "CAPACITY_REACHED" {
                ErrorType::CapacityReached
            } else {
                ErrorType::ServerError
            };
            Err(Failure::new(
                kind,
                format!("{code} during {stage}: {}", excerpt(message)),
            ))
        }
        other => Err(Failure::new(
            ErrorType::MalformedResponse,
            format!(
                "reply to {stage} has type {:?}, expected \"{}\": {}",
                other.unwrap_or("<none>"),
                expect.type_name(),
                excerpt(text)
            ),
        )),
    }
}

fn stream_failure(e: tungstenite::Error, stage: &str, target: &Target) -> Failure {
    use tungstenite::error::ProtocolError;
    match e {
        tungstenite::Error::ConnectionClosed
        | tungstenite::Error::AlreadyClosed
        | tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            Failure::new(
                ErrorType::UnexpectedClose,
                format!("{} ended the connection during {stage}", target.ws_url),
            )
        }
        tungstenite::Error::Io(io) => Failure::from_io(&io, &target.ws_url, stage),
        tungstenite::Error::Capacity(c) => Failure::new(
            ErrorType::MalformedResponse,
            format!(
                "reply to {stage} from {} is too large ({c}); raise --max-message-size if the environment's observations are that big",
                target.ws_url
            ),
        ),
        tungstenite::Error::Utf8(_) => Failure::new(
            ErrorType::MalformedResponse,
            format!("reply to {stage} from {} is not UTF-8 text", target.ws_url),
        ),
        other => Failure::new(
            ErrorType::MalformedResponse,
            format!(
                "WebSocket protocol error during {stage} with {}: {other}",
                target.ws_url
            ),
        ),
    }
}

/// Ends the session the chosen way. The step already succeeded, so a close
/// the server cuts short (reset, drop) does not fail the session; one it
/// never finishes within `limit` (`--close-timeout`, 10 s like Python's
/// websockets) is a `CloseTimeout`, not a slow step.
pub(crate) async fn finish(
    ws: &mut Ws,
    close: CloseMode,
    limit: Duration,
    target: &Target,
) -> Result<(), Failure> {
    finish_with(ws, Some(CLOSE), close, limit, target).await
}

/// [`finish`] with `goodbye` as the session's last message (none on `/mcp`,
/// whose frames are JSON-RPC only: the close frame alone ends it).
pub(crate) async fn finish_with(
    ws: &mut Ws,
    goodbye: Option<&'static str>,
    close: CloseMode,
    limit: Duration,
    target: &Target,
) -> Result<(), Failure> {
    // Client-first: the close message and the close frame leave in one write.
    if let Some(goodbye) = goodbye {
        if ws
            .feed(Message::Text(Utf8Bytes::from_static(goodbye)))
            .await
            .is_err()
        {
            return Ok(());
        }
    }
    if close == CloseMode::ClientFirst && ws.feed(Message::Close(None)).await.is_err() {
        return Ok(());
    }
    if ws.flush().await.is_err() {
        return Ok(());
    }
    match timeout(limit, async { while let Some(Ok(_)) = ws.next().await {} }).await {
        Ok(()) => Ok(()),
        Err(_) => Err(Failure::new(
            ErrorType::CloseTimeout,
            format!(
                "reset and step succeeded, but {} did not finish the close handshake within {:.1}s (--close-timeout)",
                target.ws_url,
                limit.as_secs_f64()
            ),
        )),
    }
}
