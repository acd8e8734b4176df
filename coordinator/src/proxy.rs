//! `envload record`: a transparent proxy between OpenEnv clients and a
//! server that forwards everything unchanged and writes what passed as a
//! session trace (docs/TRACE.md): WebSocket sessions (`/ws`, `/mcp`) frame
//! by frame (`proxy::ws`), HTTP requests and responses (`proxy::http`).
//! Header values are never written, only their names.

mod http;
mod ws;

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use envload_agent::trace::{Dir, Event, Header, VERSION};
use envload_agent::Target;
use serde_json::Value;

/// Where events go, and what the proxy forwards to.
pub struct Recorder {
    out: Mutex<std::io::BufWriter<std::fs::File>>,
    pub upstream: Target,
    pub bodies: bool,
    sessions: AtomicU64,
    /// Forwards HTTP requests upstream.
    pub client: reqwest::Client,
}

/// One client connection's part of the trace.
pub struct Session {
    pub id: u64,
    pub transport: &'static str,
    pub path: String,
    start: Instant,
}

impl Recorder {
    /// Starts the trace at `path` (its header written).
    pub fn create(
        path: &std::path::Path,
        upstream: Target,
        bodies: bool,
    ) -> std::io::Result<Recorder> {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        let header = Header {
            envload_trace: VERSION,
            upstream: upstream.url.clone(),
            recorded_at: envload_results::numfmt::timestamp(&chrono::Utc::now()),
            bodies,
        };
        writeln!(
            out,
            "{}",
            serde_json::to_string(&header).map_err(std::io::Error::other)?
        )?;
        out.flush()?;
        envload_agent::tls::init();
        let client = reqwest::Client::builder()
            .no_proxy()
            .tls_backend_preconfigured((*envload_agent::tls::plain_only()).clone())
            .build()
            .map_err(std::io::Error::other)?;
        Ok(Recorder {
            out: Mutex::new(out),
            upstream,
            bodies,
            sessions: AtomicU64::new(0),
            client,
        })
    }

    /// A new session (a client connection), its `open` event written with
    /// the request's header names.
    pub fn open(&self, transport: &'static str, path: &str, headers: &hyper::HeaderMap) -> Session {
        let s = Session {
            id: self.sessions.fetch_add(1, Ordering::Relaxed) + 1,
            transport,
            path: path.to_string(),
            start: Instant::now(),
        };
        // Each name once, however many values it has.
        let names: Vec<String> = headers.keys().map(|k| k.as_str().to_string()).collect();
        self.write(&Event {
            headers: names,
            ..self.event(&s, Dir::Client, "open", b"")
        });
        s
    }

    /// An event of `s` carrying `bytes` (its body kept unless `--no-bodies`).
    pub fn event(&self, s: &Session, dir: Dir, kind: &str, bytes: &[u8]) -> Event {
        let body = (self.bodies && !bytes.is_empty()).then(|| {
            serde_json::from_slice::<Value>(bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
        });
        Event {
            session: s.id,
            transport: s.transport.to_string(),
            path: s.path.clone(),
            dir,
            kind: kind.to_string(),
            t: (s.start.elapsed().as_secs_f64() * 1e6).round() / 1e6,
            size: bytes.len() as u64,
            body,
            headers: Vec::new(),
            method: None,
            status: None,
        }
    }

    /// Appends `e` (a line, flushed: a killed recorder keeps what it saw).
    pub fn write(&self, e: &Event) {
        let line = serde_json::to_string(e).unwrap_or_default();
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(out, "{line}").and_then(|()| out.flush());
    }
}

/// Headers that belong to one hop, not to the request.
pub fn hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "host"
            | "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "upgrade"
            | "te"
            | "trailer"
            | "content-length"
            | "proxy-connection"
            | "proxy-authorization"
    )
}

/// The proxy's own answer (an upstream that did not answer, a request it
/// cannot relay), a line of text.
pub fn reply(
    status: hyper::StatusCode,
    text: String,
) -> hyper::Response<http_body_util::Full<bytes::Bytes>> {
    let mut r = hyper::Response::new(http_body_util::Full::new(bytes::Bytes::from(text)));
    *r.status_mut() = status;
    r
}

/// What a WebSocket message is: its `type`, or `jsonrpc` for `/mcp`'s raw
/// JSON-RPC, or `text`.
pub fn kind_of(text: &str) -> String {
    let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    match v.get("type").and_then(Value::as_str) {
        Some(t) => t.to_string(),
        None if v.get("jsonrpc").is_some() => "jsonrpc".into(),
        None => "text".into(),
    }
}

/// Serves the proxy on `listener` until `stop` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    rec: Arc<Recorder>,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            conn = listener.accept() => {
                let Ok((conn, _)) = conn else { continue };
                let _ = conn.set_nodelay(true);
                tokio::spawn(http::connection(conn, rec.clone()));
            }
        }
    }
}
