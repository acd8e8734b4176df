//! The loopback floor the sessions bench divides by: what the kernel and a
//! lean program cost per session on this machine, in the same run. Both ends
//! live in this process on one current-thread runtime, with every byte
//! pre-built, so its CPU per session is a client + server floor:
//!
//! - `tcp`: connect, accept, close (client first), nothing sent;
//! - `ws`: connect, a WebSocket upgrade and its 101, reset and its
//!   observation, step and its observation, the close message with a close
//!   frame, the server's close frame, and the close — an envload session's
//!   exchange, request by request;
//! - `http`: connect, `POST /reset` and its 200, `POST /step` with its JSON
//!   body and its 200, each reply with a `Content-Length`, then the client's
//!   close — an HTTP session's exchange on its one keep-alive connection.
//!
//! Sessions run in waves of at most [`WAVE`] at once, so both ends fit the
//! descriptor limit (two descriptors per session here), from 32 loopback
//! source addresses, so the ports never run out.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Most sessions open at once.
pub const WAVE: u64 = 8192;

const UPGRADE: &[u8] = b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
const SWITCHING: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
const RESET: &str = r#"{"type":"reset","data":{}}"#;
const STEP: &str = r#"{"type":"step","data":{"wait_seconds":0}}"#;
const CLOSE_MSG: &str = r#"{"type":"close"}"#;
const OBS: &str = r#"{"type":"observation","data":{"observation":{"waited_seconds":0.0,"pid":1,"session_hash":"abcdef012345","host_url":"h:1","step_count":1},"reward":null,"done":false}}"#;
const HTTP_RESET: &[u8] = b"POST /reset HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n";
const HTTP_STEP: &[u8] = b"POST /step HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 31\r\n\r\n{\"action\":{\"wait_seconds\":0.0}}";
const HTTP_BODY: &str = r#"{"observation":{"waited_seconds":0.0,"pid":1,"session_hash":"abcdef012345","host_url":"h:1","step_count":1},"reward":null,"done":false}"#;

/// The server's reply to either HTTP request.
fn http_reply() -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{HTTP_BODY}",
        HTTP_BODY.len()
    )
    .into_bytes()
}

/// A client text frame (masked with a zero key, which is valid and keeps the
/// payload as is).
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    f.extend_from_slice(&[0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

/// A server frame (unmasked).
fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => f.push(n as u8),
        n => {
            f.push(126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    f.extend_from_slice(payload);
    f
}

/// Reads until `want` bytes arrived (or the peer closed).
async fn read_n(s: &mut TcpStream, buf: &mut [u8], want: usize) {
    let mut got = 0;
    while got < want {
        match s.read(&mut buf[got..want]).await {
            Ok(0) | Err(_) => return,
            Ok(k) => got += k,
        }
    }
}

/// CPU seconds (user + system) of this process so far.
fn own_cpu() -> f64 {
    // SAFETY: zeroed rusage is a valid out-parameter.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    s(ru.ru_utime) + s(ru.ru_stime)
}

/// Client + server CPU µs per session of `n` sessions of `kind` ("tcp",
/// "ws" or "http").
pub fn per_session_us(kind: &str, n: u64) -> f64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ws = kind == "ws";
    let http = kind == "http";
    rt.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // The exchange of an envload session, request by request: the
        // upgrade, reset and its reply, step and its reply, then the close
        // message and close frame in one write, the server's close frame,
        // and the client's FIN.
        let reset = client_frame(1, RESET.as_bytes());
        let step = client_frame(1, STEP.as_bytes());
        let obs = server_frame(1, OBS.as_bytes());
        let mut goodbye = client_frame(1, CLOSE_MSG.as_bytes());
        goodbye.extend(client_frame(8, &[3, 232]));
        let server_close = server_frame(8, &[3, 232]);
        let reply = http_reply();
        let server = {
            let (reset_len, step_len, goodbye_len) = (reset.len(), step.len(), goodbye.len());
            let (obs, server_close, reply) = (obs.clone(), server_close.clone(), reply.clone());
            tokio::spawn(async move {
                loop {
                    let Ok((mut s, _)) = listener.accept().await else {
                        return;
                    };
                    let (obs, server_close) = (obs.clone(), server_close.clone());
                    let reply = reply.clone();
                    tokio::spawn(async move {
                        let mut buf = vec![0u8; 512];
                        if http {
                            let _ = s.set_nodelay(true);
                            read_n(&mut s, &mut buf, HTTP_RESET.len()).await;
                            let _ = s.write_all(&reply).await;
                            read_n(&mut s, &mut buf, HTTP_STEP.len()).await;
                            let _ = s.write_all(&reply).await;
                        }
                        if ws {
                            read_n(&mut s, &mut buf, UPGRADE.len()).await;
                            let _ = s.write_all(SWITCHING).await;
                            read_n(&mut s, &mut buf, reset_len).await;
                            let _ = s.write_all(&obs).await;
                            read_n(&mut s, &mut buf, step_len).await;
                            let _ = s.write_all(&obs).await;
                            read_n(&mut s, &mut buf, goodbye_len).await;
                            let _ = s.write_all(&server_close).await;
                        }
                        let _ = s.read(&mut buf).await; // the client's FIN
                    });
                }
            })
        };
        let t0 = own_cpu();
        let mut failed = 0u64;
        let mut left = n;
        while left > 0 {
            let wave = left.min(WAVE);
            left -= wave;
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..wave {
                let (reset, step, goodbye) = (reset.clone(), step.clone(), goodbye.clone());
                let expect = SWITCHING.len();
                let obs_len = obs.len();
                let close_len = server_close.len();
                let reply_len = reply.len();
                tasks.spawn(async move {
                    // Sources spread over 127.0.0.1-32, as envload's are, so
                    // the closing side's TIME_WAITs never use up the ports.
                    let sock = tokio::net::TcpSocket::new_v4().ok()?;
                    sock.bind(SocketAddr::from(([127, 0, 0, 1 + (i % 32) as u8], 0)))
                        .ok()?;
                    let mut s = sock.connect(addr).await.ok()?;
                    if http {
                        let _ = s.set_nodelay(true);
                        let mut buf = vec![0u8; 512];
                        s.write_all(HTTP_RESET).await.ok()?;
                        read_n(&mut s, &mut buf, reply_len).await;
                        s.write_all(HTTP_STEP).await.ok()?;
                        read_n(&mut s, &mut buf, reply_len).await;
                    }
                    if ws {
                        let _ = s.set_nodelay(true);
                        let mut buf = vec![0u8; 512];
                        s.write_all(UPGRADE).await.ok()?;
                        read_n(&mut s, &mut buf, expect).await;
                        s.write_all(&reset).await.ok()?;
                        read_n(&mut s, &mut buf, obs_len).await;
                        s.write_all(&step).await.ok()?;
                        read_n(&mut s, &mut buf, obs_len).await;
                        s.write_all(&goodbye).await.ok()?;
                        read_n(&mut s, &mut buf, close_len).await;
                    }
                    Some(())
                });
            }
            while let Some(done) = tasks.join_next().await {
                failed += u64::from(!matches!(done, Ok(Some(()))));
            }
        }
        // Let the server side see every FIN before reading the CPU.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let cpu = own_cpu() - t0;
        server.abort();
        assert_eq!(failed, 0, "{failed} of {n} floor {kind} sessions failed");
        cpu * 1e6 / n as f64
    })
}
