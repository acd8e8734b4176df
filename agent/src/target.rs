//! A target server: one URL the user gave, normalised into the HTTP base and
//! the WebSocket endpoint the way the reference client derives them.

use reqwest::Url;

/// Why a target URL was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TargetError {
    /// No `scheme://` in front.
    #[error("target URL '{0}' has no scheme: write it as http://HOST:PORT (or ws://HOST:PORT/ws)")]
    NoScheme(String),
    /// A scheme envload does not speak.
    #[error("target URL '{url}' uses unsupported scheme '{scheme}': use http://, https://, ws:// or wss://")]
    UnsupportedScheme { url: String, scheme: String },
    /// Not a URL at all, or one without a host.
    #[error("target URL '{url}' is not valid: {reason}")]
    Invalid { url: String, reason: String },
}

/// One server endpoint, ready for both session modes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// What the user wrote, trailing `/` removed (goes into `summary.csv`).
    pub url: String,
    /// HTTP base: `POST {base}/reset`, `POST {base}/step`.
    pub http_base: String,
    /// WebSocket endpoint, ending in `/ws`.
    pub ws_url: String,
    /// Host name or address to connect to.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// `https://` / `wss://`.
    pub tls: bool,
}

impl Target {
    /// Parses and normalises a target URL (`http://h:p`, `http://h:p/prefix`,
    /// `ws://h:p/ws`, or `h:p` — taken as `http://h:p`, as the reference's
    /// client takes it).
    pub fn parse(raw: &str) -> Result<Self, TargetError> {
        if !raw.contains("://") && is_host_port(raw.trim()) {
            let mut t = Target::parse(&format!("http://{}", raw.trim()))?;
            t.url = raw.trim().trim_end_matches('/').to_string();
            return Ok(t);
        }
        let Some((scheme, rest)) = raw.trim().split_once("://") else {
            return Err(TargetError::NoScheme(raw.to_string()));
        };
        if rest.trim_end_matches('/').is_empty() {
            return Err(TargetError::Invalid {
                url: raw.to_string(),
                reason: format!("it has no host after '{scheme}://'"),
            });
        }
        let trimmed = raw.trim().trim_end_matches('/');
        let parsed = Url::parse(trimmed).map_err(|e| TargetError::Invalid {
            url: raw.to_string(),
            reason: e.to_string(),
        })?;
        let scheme = parsed.scheme().to_string();
        let tls = match scheme.as_str() {
            "http" | "ws" => false,
            "https" | "wss" => true,
            _ => {
                return Err(TargetError::UnsupportedScheme {
                    url: raw.to_string(),
                    scheme,
                })
            }
        };
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| TargetError::Invalid {
                url: raw.to_string(),
                reason: "it has no host".to_string(),
            })?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = parsed
            .port_or_known_default()
            .unwrap_or(if tls { 443 } else { 80 });
        let authority = match parsed.port() {
            Some(p) => format!("{}:{p}", parsed.host_str().unwrap_or_default()),
            None => parsed.host_str().unwrap_or_default().to_string(),
        };
        let mut path = parsed.path().trim_end_matches('/').to_string();
        if scheme.starts_with("ws") && path.ends_with("/ws") {
            path.truncate(path.len() - 3);
        }
        let (http, ws) = if tls {
            ("https", "wss")
        } else {
            ("http", "ws")
        };
        Ok(Target {
            url: trimmed.to_string(),
            http_base: format!("{http}://{authority}{path}"),
            ws_url: format!("{ws}://{authority}{path}/ws"),
            host,
            port,
            tls,
        })
    }
}

impl Target {
    /// The same server's WebSocket MCP endpoint: `…/mcp` where `…/ws` was.
    pub fn mcp_ws(&self) -> Target {
        let base = self.ws_url.strip_suffix("/ws").unwrap_or(&self.ws_url);
        Target {
            ws_url: format!("{base}/mcp"),
            ..self.clone()
        }
    }

    /// The server's HTTP MCP endpoint (`POST {base}/mcp`).
    pub fn mcp_http_url(&self) -> String {
        format!("{}/mcp", self.http_base)
    }
}

/// `HOST:PORT` (or `[V6]:PORT`), optionally with a path: a URL whose
/// scheme was left out.
fn is_host_port(s: &str) -> bool {
    let authority = s.split('/').next().unwrap_or_default();
    match authority.rsplit_once(':') {
        Some((host, port)) => {
            !host.is_empty()
                && !host.contains(char::is_whitespace)
                && !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_url_gives_ws_endpoint() {
        let t = Target::parse("http://localhost:8000/").unwrap();
        assert_eq!(t.http_base, "http://localhost:8000");
        assert_eq!(t.ws_url, "ws://localhost:8000/ws");
        assert_eq!((t.host.as_str(), t.port), ("localhost", 8000));
    }

    #[test]
    fn ws_url_keeps_its_path_and_gives_http_base() {
        let t = Target::parse("ws://10.0.0.1:9000/env/ws").unwrap();
        assert_eq!(t.ws_url, "ws://10.0.0.1:9000/env/ws");
        assert_eq!(t.http_base, "http://10.0.0.1:9000/env");
    }

    #[test]
    fn mcp_endpoints_sit_beside_the_session_ones() {
        let t = Target::parse("ws://10.0.0.1:9000/env/ws").unwrap();
        assert_eq!(t.mcp_ws().ws_url, "ws://10.0.0.1:9000/env/mcp");
        assert_eq!(t.mcp_http_url(), "http://10.0.0.1:9000/env/mcp");
    }

    #[test]
    fn default_port_is_80() {
        let t = Target::parse("http://example.test").unwrap();
        assert_eq!(t.port, 80);
        assert_eq!(t.ws_url, "ws://example.test/ws");
    }

    #[test]
    fn bad_urls_name_themselves() {
        assert_eq!(
            Target::parse("localhost"),
            Err(TargetError::NoScheme("localhost".into()))
        );
        // HOST:PORT without a scheme is http://HOST:PORT, as the reference
        // takes it; the URL recorded is what the user wrote.
        let t = Target::parse("127.0.0.1:8000").unwrap();
        assert_eq!(
            (t.url.as_str(), t.http_base.as_str(), t.ws_url.as_str()),
            (
                "127.0.0.1:8000",
                "http://127.0.0.1:8000",
                "ws://127.0.0.1:8000/ws"
            )
        );
        let e = Target::parse("ftp://h:1").unwrap_err().to_string();
        assert!(e.contains("ftp://h:1") && e.contains("'ftp'"), "{e}");
        let t = Target::parse("https://space.hf.space").unwrap();
        assert_eq!(
            (t.port, t.tls, t.ws_url.as_str()),
            (443, true, "wss://space.hf.space/ws")
        );
        let t = Target::parse("wss://h:8443/ws").unwrap();
        assert_eq!((t.http_base.as_str(), t.tls), ("https://h:8443", true));
    }
}
