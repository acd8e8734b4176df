//! A small HTTP endpoint beside a run (`--metrics-listen`, `--web`): GET
//! requests answered from a route table, on a thread of its own (its own
//! small runtime), so a request never waits behind the sessions and the
//! endpoint can outlive the run's runtime (`--metrics-linger`). Bound
//! before anything runs: an address in use is bad input.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{oneshot, Semaphore};

use crate::shutdown::Shutdown;

/// Largest request head read.
const MAX_HEAD: usize = 8192;
/// Time a client gets to send its request.
const READ_WITHIN: Duration = Duration::from_secs(5);
/// Requests answered at once; more wait for a slot.
const CONCURRENT: usize = 16;

/// What a path answers: its content type and body (`None`: not found).
pub type Routes = fn(&str) -> Option<(&'static str, String)>;

/// The running endpoint; dropping it stops it.
pub struct Endpoint {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The address it listens on (the port chosen when 0 was given).
    pub addr: SocketAddr,
}

impl Endpoint {
    /// Listens on `addr` (`flag` names it in errors) and answers `routes`.
    pub fn start(addr: SocketAddr, flag: &'static str, routes: Routes) -> Result<Endpoint, String> {
        let cant = |e: std::io::Error| format!("{flag} {addr}: cannot listen: {e}");
        let listener = std::net::TcpListener::bind(addr).map_err(cant)?;
        listener.set_nonblocking(true).map_err(cant)?;
        let addr = listener.local_addr().map_err(cant)?;
        let (stop, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(format!(
                "envload{}",
                flag.trim_start_matches('-')
                    .split('-')
                    .next()
                    .map(|s| format!("-{s}"))
                    .unwrap_or_default()
            ))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a current-thread runtime starts");
                rt.block_on(serve(listener, routes, stopped));
            })
            .map_err(|e| format!("{flag} {addr}: cannot start its thread: {e}"))?;
        Ok(Endpoint {
            stop: Some(stop),
            thread: Some(thread),
            addr,
        })
    }

    /// Keeps serving for `linger` after the run (so a last scrape sees the
    /// final values), or until a signal.
    pub fn linger(&self, linger: Duration, shutdown: &Shutdown) {
        let until = Instant::now() + linger;
        while Instant::now() < until && !shutdown.is_requested() {
            std::thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    routes: Routes,
    mut stopped: oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    let slots = Arc::new(Semaphore::new(CONCURRENT));
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            conn = listener.accept() => {
                let Ok((conn, _)) = conn else { continue };
                let Ok(slot) = slots.clone().acquire_owned().await else { return };
                tokio::spawn(async move {
                    let _ = answer(conn, routes).await;
                    drop(slot);
                });
            }
        }
    }
}

/// Reads one request head and answers it; the connection closes after.
async fn answer(mut conn: tokio::net::TcpStream, routes: Routes) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    let read = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
            let n = conn.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Ok::<_, std::io::Error>(())
    };
    if tokio::time::timeout(READ_WITHIN, read).await.is_err() {
        return Ok(());
    }
    let line = head.split(|b| *b == b'\r').next().unwrap_or_default();
    let mut parts = line.split(|b| *b == b' ');
    let (method, path) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let path = path.split(|b| *b == b'?').next().unwrap_or_default();
    let found = match method {
        b"GET" | b"HEAD" => routes(&String::from_utf8_lossy(path)),
        _ => None,
    };
    let (status, kind, body) = match found {
        Some((kind, body)) => ("200 OK", kind, body),
        None => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "not found\n".to_string(),
        ),
    };
    let mut reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if method != b"HEAD" {
        reply.push_str(&body);
    }
    conn.write_all(reply.as_bytes()).await?;
    conn.shutdown().await
}
