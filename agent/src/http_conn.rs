//! An HTTP session's own keep-alive connection: opened on the first
//! request, reused by every later one, dropped with the session (the client
//! closes first, as a trainer's does). One session, one connection: a pool
//! shared by sessions opens a second connection whenever a request goes out
//! before the previous reply's connection is back in it, which doubles the
//! server's connection load exactly when it is slow.
//!
//! A connection the server closed while the session thought (uvicorn's idle
//! keep-alive timeout is 5 s) is seen before the next request and replaced;
//! a reused connection that ends before any byte of a reply is replaced and
//! the request sent once more, as HTTP clients do for the keep-alive race.
//! Every request has one deadline over connect, send, head and body; bodies
//! are read under the `--max-message-size` cap.

use std::task::{Context, Poll};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

use crate::conn::Conn;
use crate::dial::Dial;
use crate::failure::{ErrorType, Failure};
use crate::http_wire::{self, Chunked, Framing, Head, MAX_HEAD};
use crate::plan::Limits;

/// A reply: status and body.
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The body, decoded.
    pub body: Vec<u8>,
}

/// One session's connection to its target.
pub struct HttpConn<'a> {
    dial: Dial<'a>,
    request_id: u64,
    conn: Option<Conn>,
}

/// What a request is, for its bytes and its failures.
#[derive(Clone, Copy)]
pub struct Request<'r> {
    /// `POST`, `GET`, …
    pub method: &'r str,
    /// The path after the target's base path (`/reset`).
    pub path: &'r str,
    /// The session stage it belongs to (`reset`, `step`, …).
    pub stage: &'r str,
}

/// Why an exchange on a reused connection failed before any reply byte.
enum Attempt {
    /// Done: a reply or a failure to report.
    Done(Result<Reply, Failure>),
    /// The reused connection was gone: send again on a new one.
    Stale,
}

impl<'a> HttpConn<'a> {
    /// A session's connection, not yet opened.
    pub fn new(dial: Dial<'a>, request_id: u64) -> Self {
        HttpConn {
            dial,
            request_id,
            conn: None,
        }
    }

    /// The target's HTTP base (the server, for messages about its
    /// replies, as WebSocket sessions name theirs).
    pub fn base(&self) -> &str {
        &self.dial.target.http_base
    }

    /// The URL of `path` (for messages).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.dial.target.http_base)
    }

    /// Sends `req` with `body` and reads the reply, within `--timeout`.
    pub async fn send(
        &mut self,
        req: Request<'_>,
        body: &[u8],
        limits: Limits,
    ) -> Result<Reply, Failure> {
        let bytes = http_wire::request(
            req.method,
            http_wire::base_path(self.dial.target),
            req.path,
            self.dial.head,
            body,
        );
        let mut connecting = false;
        let exchange = async {
            for _ in 0..2 {
                let reused = self.conn.as_ref().is_some_and(open);
                if !reused {
                    connecting = true;
                    // Boxed: a TLS handshake's state is large and short-lived.
                    let open = Box::pin(self.dial.open(self.request_id, self.base()));
                    self.conn = Some(open.await?);
                    connecting = false;
                }
                match self.exchange(&bytes, req, limits, reused).await {
                    Attempt::Done(r) => return r,
                    Attempt::Stale => self.conn = None,
                }
            }
            unreachable!("a fresh connection's attempt is never stale")
        };
        match timeout(limits.request, exchange).await {
            Ok(r) => r,
            Err(_) => {
                self.conn = None;
                let (kind, what) = if connecting {
                    (ErrorType::HandshakeTimeout, "connect to")
                } else {
                    (ErrorType::ReadTimeout, "reply from")
                };
                Err(Failure::new(
                    kind,
                    format!(
                        "no {what} {} {} within {:.1}s (--timeout) during {}",
                        req.method,
                        self.url(req.path),
                        limits.request.as_secs_f64(),
                        req.stage
                    ),
                ))
            }
        }
    }

    /// Writes the request and reads its reply on the open connection.
    async fn exchange(
        &mut self,
        bytes: &[u8],
        req: Request<'_>,
        limits: Limits,
        reused: bool,
    ) -> Attempt {
        let url = self.url(req.path);
        let conn = self.conn.as_mut().expect("opened by send");
        let failed = |why: Failed| why.failure(&url, req, limits.max_message);
        if let Err(e) = write(conn, bytes).await {
            return match reused {
                true => Attempt::Stale,
                false => Attempt::Done(Err(failed(Failed::Io(e)))),
            };
        }
        let reply = async {
            let (head, rest) = read_head(conn).await?;
            let (body, clean) = Box::pin(read_body(conn, &head, rest, limits.max_message)).await?;
            Ok::<_, Failed>((head, body, clean))
        }
        .await;
        match reply {
            Ok((head, body, clean)) => {
                if head.closes || !clean {
                    self.conn = None;
                }
                Attempt::Done(Ok(Reply {
                    status: head.status,
                    body,
                }))
            }
            // A kept connection that ends before any byte of a reply.
            Err(Failed::Closed) | Err(Failed::Reset(_)) if reused => Attempt::Stale,
            Err(why) => {
                self.conn = None;
                Attempt::Done(Err(failed(why)))
            }
        }
    }
}

/// Why a reply could not be had.
enum Failed {
    /// The connection ended before any byte of the reply.
    Closed,
    /// It was reset before any byte of the reply.
    Reset(std::io::Error),
    /// Another I/O failure.
    Io(std::io::Error),
    /// Not HTTP, or not a body HTTP allows.
    Invalid(String),
    /// A body past the cap (its size, as known).
    TooLarge(String),
}

impl Failed {
    /// The session's failure for it.
    fn failure(self, url: &str, req: Request<'_>, cap: usize) -> Failure {
        match self {
            Failed::Closed => Failure::new(
                ErrorType::UnexpectedClose,
                format!("{url} closed the connection before replying to {}", req.stage),
            ),
            Failed::Reset(e) | Failed::Io(e) => Failure::from_io(&e, url, req.stage),
            Failed::Invalid(why) => Failure::new(
                ErrorType::MalformedResponse,
                format!("{url} did not answer {} with valid HTTP: {why}", req.stage),
            ),
            Failed::TooLarge(size) => Failure::new(
                ErrorType::MalformedResponse,
                format!(
                    "reply to {} {url} during {} is too large ({size} > {cap} bytes); raise --max-message-size if the environment's observations are that big",
                    req.method, req.stage
                ),
            ),
        }
    }
}

/// Reads a reply head (informational ones skipped); returns it and the
/// bytes read past it. Nothing is allocated while the server works on the
/// request: the buffer comes once the reply starts.
async fn read_head(conn: &mut Conn) -> Result<(Head, Vec<u8>), Failed> {
    if let Conn::Plain(tcp) = conn {
        let _ = tcp.readable().await;
    }
    let mut buf = Vec::with_capacity(1024);
    loop {
        match conn.read_buf(&mut buf).await {
            Ok(0) if buf.is_empty() => return Err(Failed::Closed),
            Err(e) if buf.is_empty() && is_reset(&e) => return Err(Failed::Reset(e)),
            Ok(0) => return Err(Failed::Io(eof("the reply head was complete"))),
            Err(e) => return Err(Failed::Io(e)),
            Ok(_) => {}
        }
        match http_wire::parse_head(&buf).map_err(Failed::Invalid)? {
            Some(h) if (100..200).contains(&h.status) => {
                buf.drain(..h.len);
            }
            Some(h) => {
                buf.drain(..h.len);
                return Ok((h, buf));
            }
            None if buf.len() == buf.capacity() => buf.reserve(buf.len().min(MAX_HEAD)),
            None => {}
        }
    }
}

/// The request, all of it sent.
async fn write(conn: &mut Conn, bytes: &[u8]) -> std::io::Result<()> {
    conn.write_all(bytes).await?;
    conn.flush().await
}

/// A reset or broken pipe: what a reused connection the server had
/// already closed gives.
fn is_reset(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
    )
}

/// Whether a kept connection is still open: not closed by the server
/// meanwhile, and with nothing unasked-for waiting on it (a TLS connection
/// may hold a session ticket, which is fine).
fn open(conn: &Conn) -> bool {
    let tcp = conn.tcp();
    let mut probe = [0u8; 1];
    let mut buf = tokio::io::ReadBuf::new(&mut probe);
    let waker = std::task::Waker::noop();
    let mut cx = Context::from_waker(waker);
    match tcp.poll_peek(&mut cx, &mut buf) {
        Poll::Pending => true,
        Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => false,
        Poll::Ready(Ok(_)) => matches!(conn, Conn::Tls(_)),
    }
}

/// Reads the body `head` announces, `buf` holding what came after the
/// head; returns it and whether the connection is clean for another
/// request (nothing read past the body).
async fn read_body(
    conn: &mut Conn,
    head: &Head,
    mut buf: Vec<u8>,
    cap: usize,
) -> Result<(Vec<u8>, bool), Failed> {
    let over = |n: usize| Failed::TooLarge(format!("over {n}"));
    match head.framing {
        Framing::Empty => Ok((Vec::new(), buf.is_empty())),
        Framing::Length(len) if len > cap as u64 => {
            Err(Failed::TooLarge(format!("Content-Length {len}")))
        }
        Framing::Length(len) => {
            let len = len as usize;
            let clean = buf.len() <= len;
            buf.truncate(len);
            buf.reserve_exact(len - buf.len());
            while buf.len() < len {
                if conn.read_buf(&mut buf).await.map_err(Failed::Io)? == 0 {
                    return Err(Failed::Io(eof("the body was complete")));
                }
            }
            Ok((buf, clean))
        }
        Framing::UntilClose => loop {
            if buf.len() > cap {
                return Err(over(buf.len()));
            }
            if buf.len() == buf.capacity() {
                buf.reserve(buf.len().clamp(1024, 64 * 1024));
            }
            if conn.read_buf(&mut buf).await.map_err(Failed::Io)? == 0 {
                return Ok((buf, false));
            }
        },
        Framing::Chunked => {
            let mut decoder = Chunked::default();
            let mut body = Vec::new();
            loop {
                let used = decoder.decode(&buf, &mut body).map_err(Failed::Invalid)?;
                buf.drain(..used);
                if body.len() > cap {
                    return Err(over(body.len()));
                }
                if decoder.done() {
                    return Ok((body, buf.is_empty()));
                }
                if buf.len() == buf.capacity() {
                    buf.reserve(buf.len().clamp(1024, 64 * 1024));
                }
                if conn.read_buf(&mut buf).await.map_err(Failed::Io)? == 0 {
                    return Err(Failed::Io(eof("the chunked body ended")));
                }
            }
        }
    }
}

/// An early end of the connection.
fn eof(before: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        format!("connection closed before {before}"),
    )
}
