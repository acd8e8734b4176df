//! `/mcp` over WebSocket: after the upgrade every frame is a raw JSON-RPC
//! request and every answer a raw JSON-RPC response. As in openenv, the
//! connection holds one session from the upgrade on; at capacity the
//! session gets one -32000 error (no id) and the server closes.

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use crate::config::ServerConfig;
use crate::mcp;
use crate::ws_conn::{close, Ws};

/// Serves one `/mcp` connection until the client leaves.
pub async fn session(mut ws: Ws, config: &ServerConfig) {
    let _slot = match config.capacity.try_acquire() {
        Ok(slot) => slot,
        Err(active) => {
            let refusal = mcp::capacity_error(Value::Null, active, config.capacity.max());
            let _ = ws.send(Message::text(refusal.to_string())).await;
            return close(ws).await;
        }
    };
    config.counters.mcp_session_created();
    while let Some(msg) = ws.next().await {
        let reply = match msg {
            Ok(Message::Text(text)) => match serde_json::from_str::<Value>(&text) {
                Ok(request @ Value::Object(_)) => {
                    config.counters.mcp_call();
                    mcp::answer(&request).await
                }
                _ => mcp::error(Value::Null, -32700, "Parse error", None),
            },
            Ok(Message::Ping(_)) => {
                config.counters.ping_received();
                let _ = ws.flush().await;
                continue;
            }
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        if ws.send(Message::text(reply.to_string())).await.is_err() {
            break;
        }
    }
    config.counters.mcp_session_closed();
}
