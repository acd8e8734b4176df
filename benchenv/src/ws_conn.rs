//! A server-side WebSocket connection after the upgrade, and its close.

use std::time::Duration;

use futures_util::StreamExt;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::WebSocketStream;

/// An upgraded connection.
pub(crate) type Ws = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// How long the server waits for the client's close reply.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Closes with 1000 and waits (bounded) for the client's reply.
pub(crate) async fn close(mut ws: Ws) {
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    };
    if ws.close(Some(frame)).await.is_ok() {
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            while let Some(Ok(_)) = ws.next().await {}
        })
        .await;
    }
}
