//! A hostile OpenEnv server: it misbehaves on command, on a real socket on
//! 127.0.0.1, in a runtime of its own so the test can run the real
//! `envload` process against it and watch its wall time and memory.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// How the server misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hostile {
    /// Accepts TCP and says nothing, ever.
    SilentAccept,
    /// Answers the upgrade one header byte every 200 ms, forever.
    SlowHandshake,
    /// 101 with a `Sec-WebSocket-Accept` that does not match the key.
    WrongAcceptKey,
    /// Resets the connection (RST) right after accepting it.
    RstOnAccept,
    /// Resets the connection when the reset request arrives.
    RstOnReset,
    /// Resets the connection when the step request arrives.
    RstOnStep,
    /// Answers reset, then pings every 100 ms and never answers the step.
    PingFloodHungStep,
    /// Answers reset, then sends unsolicited pongs every 100 ms, no step reply.
    PongFloodHungStep,
    /// Pings every 100 ms during a 1.5 s step and drops a client that does
    /// not answer one within 500 ms (uvicorn's keepalive, scaled down), then
    /// answers the step and completes the close: a well-behaved session.
    PingsDuringALongStep,
    /// Answers reset, then reads nothing more (so answers no ping) and
    /// never answers the step: a server or proxy that drops control frames.
    NoPongHungStep,
    /// Answers reset with text that is not JSON.
    NonJson,
    /// Answers reset with a 2 MiB text message.
    OversizedMessage,
    /// Answers reset with a frame header announcing 2^62 bytes, then streams.
    EndlessFrame,
    /// The step's observation has `pid` as a string.
    WrongTypes,
    /// The step's observation is `null`.
    NullObservation,
    /// The step reply is an OpenEnv error frame.
    ErrorFrame,
    /// Answers reset and step, then never finishes the close handshake.
    NeverEndingClose,
    /// HTTP: `/reset` answers 200 with an endless chunked body.
    EndlessChunkedBody,
    /// HTTP: `/reset` declares and streams a 100 MB body.
    HugeBody,
    /// HTTP: answers with something that is not HTTP at all.
    NotHttp,
    /// HTTP: a 1 MiB response header.
    OversizedHeaders,
    /// HTTP: valid reset; the step's observation has `pid` as a string.
    HttpWrongTypes,
    /// HTTP: valid reset; the step reply has no `observation`.
    HttpNoObservation,
    /// HTTP, well-behaved but unusual: every valid reply says `Connection:
    /// close` and the server closes after it.
    HttpCloseEachReply,
    /// HTTP, well-behaved: closes a keep-alive connection idle for 300 ms
    /// (uvicorn's 5 s keep-alive timeout, scaled down).
    HttpIdleClose,
    /// HTTP, well-behaved: a `100 Continue` first, then each valid reply
    /// chunked, a few bytes per write.
    HttpChunkedReplies,
}

/// A hostile server on its own thread; stops when dropped.
pub struct HostileServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    _rt: tokio::runtime::Runtime,
}

impl HostileServer {
    /// Starts a server that misbehaves as `how` on every connection.
    pub fn start(how: Hostile) -> HostileServer {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        rt.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(handle(stream, how));
            }
        });
        HostileServer { url, _rt: rt }
    }
}

const OBS: &str = r#"{"type":"observation","data":{"observation":{"waited_seconds":0.0,"pid":1,"session_hash":"h","host_url":"x:1","step_count":0},"reward":null,"done":false}}"#;
const FOREVER: Duration = Duration::from_secs(3600);

async fn handle(mut stream: TcpStream, how: Hostile) {
    use Hostile::*;
    match how {
        SilentAccept => return tokio::time::sleep(FOREVER).await,
        RstOnAccept => return rst(stream),
        EndlessChunkedBody | HugeBody | NotHttp | OversizedHeaders | HttpWrongTypes
        | HttpNoObservation | HttpCloseEachReply | HttpIdleClose | HttpChunkedReplies => {
            return http(stream, how).await
        }
        _ => {}
    }
    let head = read_head(&mut stream).await;
    let key = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("sec-websocket-key")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    let accept = match how {
        WrongAcceptKey => derive_accept_key(b"someone else's key"),
        _ => derive_accept_key(key.as_bytes()),
    };
    let reply = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    if how == SlowHandshake {
        for b in reply.bytes().take(20) {
            let _ = stream.write_all(&[b]).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        return tokio::time::sleep(FOREVER).await;
    }
    if stream.write_all(reply.as_bytes()).await.is_err() {
        return;
    }
    if how == WrongAcceptKey {
        return tokio::time::sleep(FOREVER).await;
    }
    if how == EndlessFrame {
        // Text frame, 64-bit length 2^62, then payload until the client goes.
        let mut header = vec![0x81u8, 127];
        header.extend_from_slice(&(1u64 << 62).to_be_bytes());
        let _ = stream.write_all(&header).await;
        let chunk = vec![b'x'; 64 * 1024];
        while stream.write_all(&chunk).await.is_ok() {}
        return;
    }
    let mut ws = WebSocketStream::from_raw_socket(stream, Role::Server, None).await;
    // The reset request.
    if !matches!(ws.next().await, Some(Ok(Message::Text(_)))) {
        return;
    }
    match how {
        RstOnReset => return rst(ws.into_inner()),
        NonJson => {
            let _ = ws.send(Message::text("<html>busy</html>")).await;
            return tokio::time::sleep(FOREVER).await;
        }
        OversizedMessage => {
            let _ = ws.send(Message::text("x".repeat(2 << 20))).await;
            return tokio::time::sleep(FOREVER).await;
        }
        _ => {}
    }
    if ws.send(Message::text(OBS)).await.is_err() {
        return;
    }
    if how == NoPongHungStep {
        // Never read again: pings queue unanswered.
        let _keep = ws;
        return tokio::time::sleep(FOREVER).await;
    }
    // The step request.
    if !matches!(ws.next().await, Some(Ok(Message::Text(_)))) {
        return;
    }
    match how {
        RstOnStep => rst(ws.into_inner()),
        PingFloodHungStep | PongFloodHungStep => loop {
            let m = if how == PingFloodHungStep {
                Message::Ping(b"alive".to_vec().into())
            } else {
                Message::Pong(b"alive".to_vec().into())
            };
            if ws.send(m).await.is_err() {
                return;
            }
            // Read (and so answer nothing but keep) whatever the client sends.
            let _ = tokio::time::timeout(Duration::from_millis(100), ws.next()).await;
        },
        PingsDuringALongStep => {
            let until = tokio::time::Instant::now() + Duration::from_millis(1500);
            while tokio::time::Instant::now() < until {
                if ws
                    .send(Message::Ping(b"keepalive".to_vec().into()))
                    .await
                    .is_err()
                {
                    return;
                }
                let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
                loop {
                    match tokio::time::timeout_at(deadline, ws.next()).await {
                        Ok(Some(Ok(Message::Pong(_)))) => break,
                        Ok(Some(Ok(_))) => continue,
                        // No pong in time: drop the client, as uvicorn does.
                        _ => return rst(ws.into_inner()),
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let _ = ws.send(Message::text(OBS)).await;
            // Let the client close; answer its close frame.
            while let Some(Ok(_)) = ws.next().await {}
        }
        WrongTypes => {
            let _ = ws
                .send(Message::text(
                    r#"{"type":"observation","data":{"observation":{"pid":"1234"},"done":false}}"#,
                ))
                .await;
            tokio::time::sleep(FOREVER).await
        }
        NullObservation => {
            let _ = ws
                .send(Message::text(
                    r#"{"type":"observation","data":{"observation":null}}"#,
                ))
                .await;
            tokio::time::sleep(FOREVER).await
        }
        ErrorFrame => {
            let _ = ws
                .send(Message::text(
                    r#"{"type":"error","data":{"message":"env exploded","code":"EXECUTION_ERROR"}}"#,
                ))
                .await;
            tokio::time::sleep(FOREVER).await
        }
        NeverEndingClose => {
            let _ = ws.send(Message::text(OBS)).await;
            // Hold the socket, read nothing more: the close never completes.
            let _stream = ws.into_inner();
            tokio::time::sleep(FOREVER).await
        }
        _ => {}
    }
}

async fn http(mut stream: TcpStream, how: Hostile) {
    use Hostile::*;
    let idle = Duration::from_millis(300);
    for served in 0.. {
        let head = match how {
            HttpIdleClose if served > 0 => {
                match tokio::time::timeout(idle, read_head(&mut stream)).await {
                    Ok(h) => h,
                    Err(_) => return, // idle too long: closed
                }
            }
            _ => read_head(&mut stream).await,
        };
        if head.is_empty() {
            return;
        }
        let step = head.starts_with("POST") && head.contains("/step");
        // Skip the request body (its Content-Length).
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        if stream.read_exact(&mut body).await.is_err() {
            return;
        }
        let ok = |json: &str| {
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{json}",
                json.len()
            )
        };
        let valid = r#"{"observation":{"pid":1},"reward":null,"done":false}"#;
        match how {
            HttpCloseEachReply => {
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{valid}",
                    valid.len()
                );
                let _ = stream.write_all(reply.as_bytes()).await;
                return;
            }
            HttpIdleClose => {
                if stream.write_all(ok(valid).as_bytes()).await.is_err() {
                    return;
                }
                continue;
            }
            HttpChunkedReplies => {
                let mut reply = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
                for part in valid.as_bytes().chunks(7) {
                    reply.extend(format!("{:x}\r\n", part.len()).bytes());
                    reply.extend_from_slice(part);
                    reply.extend_from_slice(b"\r\n");
                }
                reply.extend_from_slice(b"0\r\n\r\n");
                for piece in reply.chunks(5) {
                    if stream.write_all(piece).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                continue;
            }
            EndlessChunkedBody => {
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
                    .await;
                let chunk = format!("10000\r\n{}\r\n", "x".repeat(0x10000));
                while stream.write_all(chunk.as_bytes()).await.is_ok() {}
                return;
            }
            HugeBody => {
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000000\r\n\r\n")
                    .await;
                let chunk = vec![b' '; 0x10000];
                while stream.write_all(&chunk).await.is_ok() {}
                return;
            }
            NotHttp => {
                let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.2\r\n\r\n").await;
                return tokio::time::sleep(FOREVER).await;
            }
            OversizedHeaders => {
                let _ = stream
                    .write_all(
                        format!("HTTP/1.1 200 OK\r\nx-big: {}\r\n", "a".repeat(1 << 20)).as_bytes(),
                    )
                    .await;
                return tokio::time::sleep(FOREVER).await;
            }
            _ if !step => {
                let obs = r#"{"observation":{"pid":1},"reward":null,"done":false}"#;
                if stream.write_all(ok(obs).as_bytes()).await.is_err() {
                    return;
                }
            }
            HttpWrongTypes => {
                let _ = stream
                    .write_all(ok(r#"{"observation":{"pid":"1234"},"done":false}"#).as_bytes())
                    .await;
            }
            _ => {
                let _ = stream
                    .write_all(ok(r#"{"reward":1.0,"done":false}"#).as_bytes())
                    .await;
            }
        }
    }
}

/// Reads an HTTP request head (up to the blank line); empty on EOF.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !seen.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => seen.push(byte[0]),
            _ => return String::new(),
        }
    }
    String::from_utf8_lossy(&seen).into_owned()
}

/// Drops the connection with a TCP RST (SO_LINGER 0).
fn rst(stream: TcpStream) {
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
}
