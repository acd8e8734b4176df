//! Opening a session's byte stream: the target's addresses tried in turn
//! (from a spread of loopback sources for a loopback target), Nagle off,
//! and TLS over it for a TLS target. WebSocket and HTTP sessions both dial
//! through here.

use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::net::TcpStream;

use crate::conn::Conn;
use crate::failure::{ErrorType, Failure};
use crate::resolve::Resolver;
use crate::source::{connect_from, source_for};
use crate::target::Target;

/// Where a session connects and how: the same for every session of a
/// shard to one target.
#[derive(Clone, Copy)]
pub struct Dial<'a> {
    /// The target.
    pub target: &'a Target,
    /// Its request head: the WebSocket upgrade up to the key
    /// (`upgrade::request_head`), or the HTTP header block every request
    /// carries (`http_wire::header_block`).
    pub head: &'a str,
    /// Its addresses.
    pub resolver: &'a Resolver,
    /// The share's TLS configuration, for a TLS target.
    pub tls: Option<&'a Arc<ClientConfig>>,
    /// Source addresses for a loopback target (`--loopback-sources`).
    pub sources: u8,
}

impl Dial<'_> {
    /// Connects TCP (and TLS for a TLS target); `url` names the target in
    /// a TLS failure. No deadline of its own: the caller bounds it.
    pub async fn open(&self, request_id: u64, url: &str) -> Result<Conn, Failure> {
        let target = self.target;
        let tcp = connect_tcp(target, self.resolver, request_id, self.sources).await?;
        match (target.tls, self.tls) {
            (true, Some(cfg)) => Ok(Conn::Tls(Box::new(
                tls_handshake(cfg, target, tcp, url).await?,
            ))),
            (true, None) => Err(Failure::new(
                ErrorType::TlsError,
                "no TLS configuration for a TLS target",
            )),
            (false, _) => Ok(Conn::Plain(tcp)),
        }
    }
}

/// The TLS handshake on a connected socket.
async fn tls_handshake(
    cfg: &Arc<ClientConfig>,
    target: &Target,
    tcp: TcpStream,
    url: &str,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Failure> {
    let name = ServerName::try_from(target.host.clone()).map_err(|e| {
        Failure::new(
            ErrorType::TlsError,
            format!("'{}' is not a valid TLS server name: {e}", target.host),
        )
    })?;
    tokio_rustls::TlsConnector::from(cfg.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| crate::tls::handshake_failure(&e, url))
}

/// Connects to the first of the target's addresses that accepts.
async fn connect_tcp(
    target: &Target,
    resolver: &Resolver,
    request_id: u64,
    sources: u8,
) -> Result<TcpStream, Failure> {
    let mut last = None;
    for &sa in resolver.addrs(target).await?.iter() {
        match connect_from(sa, source_for(sa, request_id, sources)).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => Failure::from_io(&e, &format!("{}:{}", target.host, target.port), "connect"),
        None => Failure::new(
            ErrorType::DnsError,
            format!("host '{}' resolved to no address", target.host),
        ),
    })
}
