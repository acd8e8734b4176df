//! Whether a coordinator an agent dialled in plain text speaks TLS: its
//! gRPC library only reports an HTTP/2 protocol error or a cancelled call,
//! so the agent asks once more the plain way and looks at the first bytes
//! of the answer — a TLS server answers non-TLS bytes with an alert record
//! (content type 21, version 3.x).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The HTTP/2 connection preface and an empty SETTINGS frame: what a plain
/// gRPC client sends first.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// Whether `http://HOST:PORT` answers a plain HTTP/2 preface with a TLS
/// alert (within a second; anything else, or nothing, is no).
pub async fn speaks_tls(url: &str) -> bool {
    let Some(authority) = url
        .strip_prefix("http://")
        .map(|rest| rest.split('/').next().unwrap_or(rest))
    else {
        return false;
    };
    let probe = async {
        let mut s = tokio::net::TcpStream::connect(authority).await.ok()?;
        s.write_all(PREFACE).await.ok()?;
        let mut head = [0u8; 2];
        s.read_exact(&mut head).await.ok()?;
        Some(head[0] == 0x15 && head[1] == 0x03)
    };
    tokio::time::timeout(Duration::from_secs(1), probe)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}
