//! A WebSocket session through the recording proxy: the upstream session
//! is opened first (same path, the client's headers), then the client's
//! upgrade accepted, and every frame relayed both ways as it comes; text
//! messages are written to the trace.

use std::sync::Arc;

use bytes::Bytes;
use envload_agent::trace::Dir;
use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::SEC_WEBSOCKET_KEY;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::{hop_by_hop, kind_of, reply, Recorder, Session};

/// Relays one upgrade request's session.
pub async fn relay(mut req: Request<Incoming>, rec: Arc<Recorder>) -> Response<Full<Bytes>> {
    let path = req
        .uri()
        .path_and_query()
        .map_or("/".to_string(), |p| p.to_string());
    let Some(key) = req.headers().get(SEC_WEBSOCKET_KEY).cloned() else {
        return reply(StatusCode::BAD_REQUEST, "no Sec-WebSocket-Key\n".into());
    };
    let base = rec
        .upstream
        .ws_url
        .strip_suffix("/ws")
        .unwrap_or(&rec.upstream.ws_url);
    let url = format!("{base}{path}");
    let mut up = match url.as_str().into_client_request() {
        Ok(r) => r,
        Err(e) => {
            return reply(
                StatusCode::BAD_GATEWAY,
                format!("envload record: {url}: {e}\n"),
            )
        }
    };
    for (k, v) in req.headers() {
        let name = k.as_str();
        if !hop_by_hop(name) && !name.starts_with("sec-websocket-") {
            up.headers_mut().append(k, v.clone());
        }
    }
    let upstream = match tokio_tungstenite::connect_async(up).await {
        Ok((ws, _)) => ws,
        Err(e) => {
            return reply(
                StatusCode::BAD_GATEWAY,
                format!("envload record: {url} refused the session: {e}\n"),
            )
        }
    };
    let session = rec.open("ws", &path, req.headers());
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        if let Ok(upgraded) = on_upgrade.await {
            let client =
                WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
            pump(client, upstream, &rec, &session).await;
        }
        rec.write(&rec.event(&session, Dir::Client, "end", b""));
    });
    envload_benchenv::switching_protocols(&key)
}

/// Relays frames both ways until either side ends.
async fn pump<C, U>(
    client: WebSocketStream<C>,
    upstream: WebSocketStream<U>,
    rec: &Recorder,
    s: &Session,
) where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    U: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut cw, mut cr) = client.split();
    let (mut uw, mut ur) = upstream.split();
    let log = |dir: Dir, m: &Message| {
        if let Message::Text(t) = m {
            rec.write(&rec.event(s, dir, &kind_of(t), t.as_bytes()));
        }
    };
    loop {
        tokio::select! {
            m = cr.next() => match m {
                Some(Ok(m)) => {
                    log(Dir::Client, &m);
                    let closing = m.is_close();
                    if uw.send(m).await.is_err() || closing {
                        break;
                    }
                }
                _ => break,
            },
            m = ur.next() => match m {
                Some(Ok(m)) => {
                    log(Dir::Server, &m);
                    let closing = m.is_close();
                    if cw.send(m).await.is_err() || closing {
                        break;
                    }
                }
                _ => break,
            },
        }
    }
    let _ = cw.close().await;
    let _ = uw.close().await;
}
