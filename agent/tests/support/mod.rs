//! A deliberately misbehaving server: each behaviour breaks the OpenEnv
//! protocol one way, on a real socket on 127.0.0.1.
#![allow(dead_code)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

/// How the server misbehaves.
#[derive(Debug, Clone, Copy)]
pub enum Bad {
    /// WS: answers the first frame with text that is not JSON.
    GarbageFrame,
    /// WS: drops the TCP connection on the first frame.
    EarlyDrop,
    /// WS: sends a close frame (1011) instead of a reply.
    CloseFrame,
    /// WS: refuses like openenv at capacity (error frame, close 1000).
    Capacity,
    /// WS: answers with an EXECUTION_ERROR frame.
    ErrorFrame,
    /// WS: completes the handshake, never answers.
    SilentAfterHandshake,
    /// WS: answers with a binary frame.
    BinaryReply,
    /// WS: answers with a JSON frame of an unknown type.
    WrongType,
    /// TCP accepted, no handshake ever.
    SlowHandshake,
    /// HTTP: every request gets `503` (upgrade refused, too).
    Status503,
    /// HTTP: 200 with a body that is not JSON.
    HttpGarbage,
    /// HTTP: reads the request and closes without answering.
    HttpEarlyClose,
}

/// Starts the server; returns `http://127.0.0.1:PORT`.
pub async fn start(bad: Bad) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(handle(stream, bad));
        }
    });
    url
}

async fn handle(mut stream: TcpStream, bad: Bad) {
    match bad {
        Bad::SlowHandshake => {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        Bad::Status503 | Bad::HttpGarbage | Bad::HttpEarlyClose => {
            read_request(&mut stream).await;
            let reply: &[u8] = match bad {
                Bad::Status503 => b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 11\r\nconnection: close\r\n\r\noverloaded!",
                Bad::HttpGarbage => b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\ncontent-type: application/json\r\n\r\n<html/>!!",
                _ => b"",
            };
            let _ = stream.write_all(reply).await;
            let _ = stream.shutdown().await;
        }
        _ => {
            let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            if let Bad::Capacity = bad {
                let frame = r#"{"type":"error","data":{"message":"Server at capacity: 2/2 sessions active. Cannot accept new connections.","code":"CAPACITY_REACHED","active_sessions":2,"max_sessions":2}}"#;
                let _ = ws.send(Message::text(frame)).await;
                let _ = ws
                    .close(Some(CloseFrame {
                        code: CloseCode::Normal,
                        reason: "".into(),
                    }))
                    .await;
                return;
            }
            let Some(Ok(_first)) = ws.next().await else {
                return;
            };
            match bad {
                Bad::GarbageFrame => {
                    let _ = ws.send(Message::text("}{ definitely not json")).await;
                }
                Bad::EarlyDrop => return,
                Bad::CloseFrame => {
                    let _ = ws
                        .close(Some(CloseFrame {
                            code: CloseCode::Error,
                            reason: "boom".into(),
                        }))
                        .await;
                }
                Bad::ErrorFrame => {
                    let _ = ws.send(Message::text(r#"{"type":"error","data":{"message":"env exploded","code":"EXECUTION_ERROR"}}"#)).await;
                }
                Bad::BinaryReply => {
                    let _ = ws.send(Message::binary(vec![0u8, 1, 2])).await;
                }
                Bad::WrongType => {
                    let _ = ws
                        .send(Message::text(r#"{"type":"surprise","data":{}}"#))
                        .await;
                }
                _ => {}
            }
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
    }
}

async fn read_request(stream: &mut TcpStream) {
    let mut buf = vec![0u8; 8192];
    let mut seen = Vec::new();
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}
