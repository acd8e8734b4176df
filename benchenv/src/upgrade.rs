//! The WebSocket upgrade of `/ws` and `/mcp`: accepted (101) at once, as
//! openenv does, then the connection runs on its own task as a session of
//! the endpoint's protocol.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, UPGRADE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

use crate::config::ServerConfig;
use crate::reply::json_response;

/// Which protocol a WebSocket endpoint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/ws`: reset, step, state, mcp, close messages.
    Env,
    /// `/mcp`: raw JSON-RPC (`mcp_ws`).
    Mcp,
}

/// Answers the upgrade request and runs the session on its own task.
pub fn upgrade(
    mut req: Request<Incoming>,
    config: Arc<ServerConfig>,
    endpoint: Endpoint,
) -> Response<Full<Bytes>> {
    let is_ws = req
        .headers()
        .get(UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let Some(key) = req
        .headers()
        .get(SEC_WEBSOCKET_KEY)
        .filter(|_| is_ws)
        .cloned()
    else {
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({"detail": "this endpoint expects a WebSocket upgrade request"}),
        );
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        if let Ok(upgraded) = on_upgrade.await {
            let cfg = WebSocketConfig::default()
                .read_buffer_size(4096)
                .write_buffer_size(0)
                .max_message_size(Some(1 << 20));
            let ws =
                WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(cfg))
                    .await;
            match endpoint {
                Endpoint::Env => crate::ws_api::session(ws, &config).await,
                Endpoint::Mcp => crate::mcp_ws::session(ws, &config).await,
            }
        }
    });
    switching_protocols(&key)
}

/// The `101 Switching Protocols` answer to an upgrade request whose
/// `Sec-WebSocket-Key` is `key`.
pub fn switching_protocols(key: &HeaderValue) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        h.insert(SEC_WEBSOCKET_ACCEPT, accept);
    }
    resp
}
