//! The opening handshake of a client WebSocket session (RFC 6455 §4.1),
//! done here rather than by tungstenite's client handshake: the request is
//! the target's pre-built head plus a fresh key, the reply head is read into
//! one small buffer and parsed with `httparse`, and any bytes the server sent
//! behind the `101` (a refusal frame, say) are handed to the WebSocket.
//!
//! tungstenite's handshake builds an `http::Request`, formats it, and reads
//! the reply through an 8 KiB buffer per session (a 4 KiB chunk box plus a
//! 4 KiB vector) that every session holds at once while its handshake is in
//! flight; this one allocates the request and a buffer the size of the reply.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use crate::failure::{excerpt, ErrorType, Failure};
use crate::target::Target;

/// Longest reply head accepted; a server sending more is not a WebSocket
/// server (and must not grow a session's memory).
pub const MAX_HEAD: usize = 16 * 1024;

/// Headers parsed at most; more is a malformed reply.
const MAX_HEADERS: usize = 32;

/// The request head of `target` up to the key, with the user's `headers`:
/// the same bytes for every session of a share.
pub fn request_head(target: &Target, headers: &[(String, String)]) -> String {
    let rest = target.ws_url.split_once("://").map_or("", |(_, rest)| rest);
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut head = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
    );
    for (name, value) in headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("Sec-WebSocket-Key: ");
    head
}

/// Performs the handshake on `stream`; returns the bytes that followed the
/// reply head (the start of the first frames, usually none).
pub async fn handshake<S>(
    stream: &mut S,
    head: &str,
    target: &Target,
    addr: &str,
) -> Result<Vec<u8>, Failure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let key = generate_key();
    let mut request = Vec::with_capacity(head.len() + key.len() + 4);
    request.extend_from_slice(head.as_bytes());
    request.extend_from_slice(key.as_bytes());
    request.extend_from_slice(b"\r\n\r\n");
    let io = |e: std::io::Error| Failure::from_io(&e, addr, "WebSocket handshake");
    stream.write_all(&request).await.map_err(io)?;
    drop(request);

    let mut buf = Vec::with_capacity(512);
    loop {
        if buf.len() == buf.capacity() {
            if buf.len() >= MAX_HEAD {
                return Err(malformed(
                    target,
                    &format!("reply head longer than {MAX_HEAD} bytes"),
                ));
            }
            buf.reserve(buf.len().min(MAX_HEAD - buf.len()));
        }
        if stream.read_buf(&mut buf).await.map_err(io)? == 0 {
            let eof = std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed before the handshake reply was complete",
            );
            return Err(io(eof));
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut reply = httparse::Response::new(&mut headers);
        let end = match reply.parse(&buf) {
            Ok(httparse::Status::Complete(end)) => end,
            Ok(httparse::Status::Partial) => continue,
            Err(e) => return Err(malformed(target, &format!("reply is not HTTP ({e})"))),
        };
        let code = reply.code.unwrap_or_default();
        if code == 401 || code == 403 {
            return Err(crate::failure::unauthorized(&format!(
                "WebSocket upgrade to {} refused with HTTP {code} {}",
                target.ws_url,
                reply.reason.unwrap_or_default()
            )));
        }
        if code != 101 {
            let body = excerpt(&String::from_utf8_lossy(&buf[end..]));
            return Err(Failure::new(
                ErrorType::HttpStatus,
                format!(
                    "WebSocket upgrade to {} refused with HTTP {code} {}: {body}",
                    target.ws_url,
                    reply.reason.unwrap_or_default()
                ),
            ));
        }
        check_headers(reply.headers, &key, target)?;
        return Ok(buf.split_off(end));
    }
}

/// The checks RFC 6455 §4.1 asks of a client on a `101` reply.
fn check_headers(headers: &[httparse::Header], key: &str, target: &Target) -> Result<(), Failure> {
    let get = |name: &str| {
        headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
    };
    let has_token = |name: &str, token: &str| {
        get(name).is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    if !has_token("upgrade", "websocket") {
        return Err(malformed(target, "101 reply without 'Upgrade: websocket'"));
    }
    if !has_token("connection", "upgrade") {
        return Err(malformed(target, "101 reply without 'Connection: Upgrade'"));
    }
    match get("sec-websocket-accept") {
        Some(accept) if accept == derive_accept_key(key.as_bytes()) => Ok(()),
        Some(accept) => Err(malformed(
            target,
            &format!("wrong Sec-WebSocket-Accept '{accept}' for the key sent"),
        )),
        None => Err(malformed(target, "101 reply without Sec-WebSocket-Accept")),
    }
}

fn malformed(target: &Target, what: &str) -> Failure {
    Failure::new(
        ErrorType::MalformedResponse,
        format!("WebSocket handshake with {} failed: {what}", target.ws_url),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::{TcpListener, TcpStream};

    /// A one-connection server on loopback answering the handshake with
    /// `reply(key)`; returns the client's result.
    async fn against(
        reply: impl FnOnce(&str) -> Vec<u8> + Send + 'static,
    ) -> Result<Vec<u8>, Failure> {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut req = Vec::new();
            while !req.ends_with(b"\r\n\r\n") {
                let mut b = [0u8; 1];
                if s.read(&mut b).await.unwrap() == 0 {
                    return String::new();
                }
                req.push(b[0]);
            }
            let req = String::from_utf8(req).unwrap();
            let key = req
                .lines()
                .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
                .unwrap()
                .to_string();
            let _ = s.write_all(&reply(&key)).await;
            let _ = s.shutdown().await;
            req
        });
        let target = Target::parse(&format!("ws://{addr}/env/ws")).unwrap();
        let mut c = TcpStream::connect(addr).await.unwrap();
        let out = handshake(
            &mut c,
            &request_head(&target, &[]),
            &target,
            &addr.to_string(),
        )
        .await;
        let req = server.await.unwrap();
        assert!(
            req.starts_with("GET /env/ws HTTP/1.1\r\nHost: 127.0.0.1:"),
            "{req}"
        );
        out
    }

    fn ok(key: &str) -> String {
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nconnection: keep-alive, Upgrade\r\nsec-websocket-accept: {}\r\n\r\n",
            derive_accept_key(key.as_bytes())
        )
    }

    #[tokio::test]
    async fn a_valid_reply_hands_over_what_followed_it() {
        let rest = against(|k| {
            let mut r = ok(k).into_bytes();
            r.extend_from_slice(b"\x81\x02hi");
            r
        })
        .await
        .unwrap();
        assert_eq!(rest, b"\x81\x02hi");
    }

    #[tokio::test]
    async fn a_refusal_names_the_status_and_the_body() {
        let f = against(|_| {
            b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\n\r\nbusy".to_vec()
        })
        .await
        .unwrap_err();
        assert_eq!(f.kind, ErrorType::HttpStatus);
        assert!(
            f.message.contains("HTTP 503 Service Unavailable: busy"),
            "{}",
            f.message
        );
    }

    #[tokio::test]
    async fn wrong_or_missing_upgrade_headers_are_malformed() {
        let f = against(|_| ok("another key").into_bytes())
            .await
            .unwrap_err();
        assert_eq!(f.kind, ErrorType::MalformedResponse);
        assert!(f.message.contains("Sec-WebSocket-Accept"), "{}", f.message);
        let f = against(|k| ok(k).replace("upgrade: WebSocket\r\n", "").into_bytes())
            .await
            .unwrap_err();
        assert!(f.message.contains("Upgrade: websocket"), "{}", f.message);
        let f = against(|_| b"SSH-2.0-OpenSSH\r\n\r\n".to_vec())
            .await
            .unwrap_err();
        assert!(f.message.contains("not HTTP"), "{}", f.message);
    }

    #[tokio::test]
    async fn an_endless_head_is_cut_at_the_bound() {
        let f = against(|_| {
            let mut r = b"HTTP/1.1 101 Switching Protocols\r\nx-padding: ".to_vec();
            r.resize(MAX_HEAD + 1024, b'x');
            r
        })
        .await
        .unwrap_err();
        assert_eq!(f.kind, ErrorType::MalformedResponse);
        assert!(
            f.message.contains("longer than 16384 bytes"),
            "{}",
            f.message
        );
    }

    #[tokio::test]
    async fn a_close_before_the_reply_is_an_unexpected_close() {
        let f = against(|_| Vec::new()).await.unwrap_err();
        assert_eq!(f.kind, ErrorType::UnexpectedClose, "{}", f.message);
    }
}
