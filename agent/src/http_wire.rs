//! HTTP/1.1 as an HTTP session speaks it (RFC 9112), without I/O: the
//! request bytes, the reply head parsed with `httparse` into what the body's
//! framing is and whether the connection stays open, and a chunked-body
//! decoder that never holds more than the body itself.

use crate::target::Target;

/// Longest reply head accepted; more is not a server envload talks to
/// (and must not grow a session's memory).
pub const MAX_HEAD: usize = 16 * 1024;

/// Headers parsed at most; more is a malformed reply.
const MAX_HEADERS: usize = 64;

/// The lines every request of a share to `target` carries after the
/// request line: `Host`, then the user's `--header`s (checked as tokens
/// and field-values by `headers`).
pub fn header_block(target: &Target, headers: &[(String, String)]) -> String {
    let authority = target
        .http_base
        .split_once("://")
        .map_or("", |(_, rest)| rest.split('/').next().unwrap_or(rest));
    let mut block = format!("Host: {authority}\r\n");
    for (name, value) in headers {
        block.push_str(name);
        block.push_str(": ");
        block.push_str(value);
        block.push_str("\r\n");
    }
    block
}

/// The path part of `target`'s HTTP base (`""` or `/prefix`), which every
/// request path follows.
pub fn base_path(target: &Target) -> &str {
    let rest = target
        .http_base
        .split_once("://")
        .map_or("", |(_, rest)| rest);
    rest.find('/').map_or("", |i| &rest[i..])
}

/// One request's bytes: request line, `block` ([`header_block`]), the
/// body's headers and the body, to go out in one write.
pub fn request(method: &str, base: &str, path: &str, block: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(96 + block.len() + body.len());
    for part in [method, " ", base, path, " HTTP/1.1\r\n", block] {
        out.extend_from_slice(part.as_bytes());
    }
    if !body.is_empty() {
        out.extend_from_slice(b"Content-Type: application/json\r\n");
    }
    if !body.is_empty() || method != "GET" {
        use std::io::Write;
        let _ = write!(out, "Content-Length: {}\r\n", body.len());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// How a reply's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (204, 304).
    Empty,
    /// `Content-Length`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Neither: the body runs to the end of the connection.
    UntilClose,
}

/// What a reply head says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The status code.
    pub status: u16,
    /// The body's framing.
    pub framing: Framing,
    /// The server ends the connection after this reply (`Connection:
    /// close`, or HTTP/1.0 without keep-alive, or a body to the close).
    pub closes: bool,
    /// Bytes of `buf` the head took.
    pub len: usize,
}

/// Parses a reply head at the start of `buf`: `Ok(None)` while incomplete.
/// Informational (1xx) replies come back as heads too: the caller skips
/// them.
pub fn parse_head(buf: &[u8]) -> Result<Option<Head>, String> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut reply = httparse::Response::new(&mut headers);
    let len = match reply.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => {
            return Err(format!("message head is too large (over {MAX_HEAD} bytes)"))
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("invalid HTTP reply head ({e})")),
    };
    let status = reply.code.unwrap_or_default();
    let mut length: Option<u64> = None;
    let (mut chunked, mut close, mut keep_alive) = (false, false, false);
    for h in reply.headers.iter() {
        let value = String::from_utf8_lossy(h.value);
        let value = value.trim();
        if h.name.eq_ignore_ascii_case("content-length") {
            let n: u64 = value
                .parse()
                .map_err(|_| format!("invalid HTTP Content-Length '{value}'"))?;
            if length.is_some_and(|l| l != n) {
                return Err("invalid HTTP reply: two different Content-Lengths".into());
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value
                .rsplit(',')
                .next()
                .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                close |= token.eq_ignore_ascii_case("close");
                keep_alive |= token.eq_ignore_ascii_case("keep-alive");
            }
        }
    }
    let framing = match status {
        100..=199 | 204 | 304 => Framing::Empty,
        _ if chunked => Framing::Chunked,
        _ => length.map_or(Framing::UntilClose, Framing::Length),
    };
    let http10 = reply.version == Some(0);
    Ok(Some(Head {
        status,
        framing,
        closes: close || (http10 && !keep_alive) || framing == Framing::UntilClose,
        len,
    }))
}

/// Where a chunked body's decoding stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a chunk-size line.
    Size,
    /// Inside a chunk's data: this many bytes to go.
    Data(u64),
    /// The CRLF after a chunk's data.
    DataEnd,
    /// The trailer section after the last chunk.
    Trailers,
    /// The body is complete.
    Done,
}

/// Decodes a chunked body incrementally into the body's bytes.
#[derive(Debug)]
pub struct Chunked {
    state: State,
    /// Bytes of the trailer section seen (bounded like a head).
    trailer: usize,
}

impl Default for Chunked {
    fn default() -> Self {
        Chunked {
            state: State::Size,
            trailer: 0,
        }
    }
}

/// Longest chunk-size line accepted (size and extensions).
const MAX_SIZE_LINE: usize = 1024;

impl Chunked {
    /// Whether the last chunk and the trailers have been read.
    pub fn done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes from `input`, appending data to `out`; returns how many input
    /// bytes were used (the rest is an incomplete line: hand it back with
    /// more). `Err` for a body that is not chunked encoding.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, String> {
        let mut pos = 0;
        while pos < input.len() {
            let rest = &input[pos..];
            match self.state {
                State::Done => break,
                State::Data(left) => {
                    let take = rest.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    out.extend_from_slice(&rest[..take]);
                    pos += take;
                    let left = left - take as u64;
                    self.state = if left == 0 {
                        State::DataEnd
                    } else {
                        State::Data(left)
                    };
                }
                State::DataEnd => {
                    if rest.len() < 2 {
                        break;
                    }
                    if &rest[..2] != b"\r\n" {
                        return Err("invalid chunked body: no CRLF after a chunk".into());
                    }
                    pos += 2;
                    self.state = State::Size;
                }
                State::Size => match httparse::parse_chunk_size(rest) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        pos += used;
                        self.state = if size == 0 {
                            State::Trailers
                        } else {
                            State::Data(size)
                        };
                    }
                    Ok(httparse::Status::Partial) if rest.len() > MAX_SIZE_LINE => {
                        return Err("invalid chunked body: chunk-size line too long".into())
                    }
                    Ok(httparse::Status::Partial) => break,
                    Err(_) => return Err("invalid chunked body: bad chunk size".into()),
                },
                State::Trailers => {
                    let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
                        if self.trailer + rest.len() > MAX_HEAD {
                            return Err("invalid chunked body: trailers too large".into());
                        }
                        break;
                    };
                    pos += eol + 2;
                    self.trailer += eol + 2;
                    if eol == 0 {
                        self.state = State::Done;
                    } else if self.trailer > MAX_HEAD {
                        return Err("invalid chunked body: trailers too large".into());
                    }
                }
            }
        }
        Ok(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Head {
        parse_head(text.as_bytes()).unwrap().unwrap()
    }

    #[test]
    fn requests_carry_the_block_and_the_body_headers() {
        let t = Target::parse("http://h:8000/env").unwrap();
        let block = header_block(&t, &[("Authorization".into(), "Bearer x".into())]);
        assert_eq!(block, "Host: h:8000\r\nAuthorization: Bearer x\r\n");
        assert_eq!(base_path(&t), "/env");
        let r = request("POST", base_path(&t), "/step", &block, b"{}");
        assert_eq!(
            String::from_utf8(r).unwrap(),
            "POST /env/step HTTP/1.1\r\nHost: h:8000\r\nAuthorization: Bearer x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        );
        let r = request("POST", "", "/reset", "Host: h\r\n", b"");
        assert!(String::from_utf8(r)
            .unwrap()
            .ends_with("Host: h\r\nContent-Length: 0\r\n\r\n"));
        let r = request("GET", "", "/state", "Host: h\r\n", b"");
        assert_eq!(
            String::from_utf8(r).unwrap(),
            "GET /state HTTP/1.1\r\nHost: h\r\n\r\n"
        );
        assert_eq!(base_path(&Target::parse("http://h:1").unwrap()), "");
    }

    #[test]
    fn heads_give_framing_and_whether_the_connection_stays() {
        let h = head("HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\n{\"a\":1}");
        assert_eq!(
            (h.status, h.framing, h.closes),
            (200, Framing::Length(12), false)
        );
        assert_eq!(h.len, 39);
        let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
        assert_eq!(h.framing, Framing::Chunked);
        let h = head("HTTP/1.1 503 Busy\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        assert_eq!((h.status, h.closes), (503, true));
        let h = head("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
        assert!(h.closes);
        let h = head("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n");
        assert!(!h.closes);
        let h = head("HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!((h.framing, h.closes), (Framing::UntilClose, true));
        assert_eq!(
            head("HTTP/1.1 204 No Content\r\n\r\n").framing,
            Framing::Empty
        );
        assert_eq!(head("HTTP/1.1 100 Continue\r\n\r\n").status, 100);
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\nContent-"), Ok(None));
    }

    #[test]
    fn bad_heads_say_why() {
        assert!(parse_head(b"SSH-2.0-OpenSSH\r\n\r\n")
            .unwrap_err()
            .contains("invalid HTTP"));
        let e = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n");
        assert!(e.unwrap_err().contains("two different"));
        let e = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n");
        assert!(e.unwrap_err().contains("Content-Length 'x'"));
        let mut long = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        long.resize(MAX_HEAD + 10, b'a');
        assert!(parse_head(&long).unwrap_err().contains("too large"));
    }

    #[test]
    fn chunked_bodies_decode_in_any_split() {
        let wire = b"4\r\n{\"a\"\r\n3;ext=1\r\n:1}\r\n0\r\nX-T: 1\r\n\r\n";
        for split in 0..wire.len() {
            let mut d = Chunked::default();
            let mut out = Vec::new();
            let mut pending = wire[..split].to_vec();
            let used = d.decode(&pending, &mut out).unwrap();
            pending.drain(..used);
            pending.extend_from_slice(&wire[split..]);
            let used = d.decode(&pending, &mut out).unwrap();
            assert_eq!(used, pending.len(), "split {split}");
            assert!(d.done(), "split {split}");
            assert_eq!(out, b"{\"a\":1}", "split {split}");
        }
        let mut d = Chunked::default();
        assert!(d.decode(b"zz\r\n", &mut Vec::new()).is_err());
        let mut d = Chunked::default();
        assert!(d.decode(b"1\r\nabc", &mut Vec::new()).is_err());
    }
}
