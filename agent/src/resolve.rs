//! Target addresses for WebSocket sessions, resolved once per shard rather
//! than once per session: an IP literal is parsed without the resolver (no
//! blocking-pool round trip at all), a name is looked up by the first session
//! that needs it and shared with the rest — the answer is the same for every
//! session of a phase, and a failed lookup fails each session the same way.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::failure::{ErrorType, Failure};
use crate::target::Target;

type Answer = Result<Arc<[SocketAddr]>, String>;

/// The addresses of a share's targets, looked up at most once each.
pub struct Resolver {
    entries: Vec<(String, u16, OnceCell<Answer>)>,
}

impl Resolver {
    /// A resolver for `targets` (duplicates share one entry).
    pub fn new(targets: &[Target]) -> Self {
        let mut entries: Vec<(String, u16, OnceCell<Answer>)> = Vec::new();
        for t in targets {
            if !entries.iter().any(|(h, p, _)| *h == t.host && *p == t.port) {
                entries.push((t.host.clone(), t.port, OnceCell::new()));
            }
        }
        Resolver { entries }
    }

    /// The addresses of `target`, in the resolver's order.
    pub async fn addrs(&self, target: &Target) -> Result<Arc<[SocketAddr]>, Failure> {
        let answer = match self
            .entries
            .iter()
            .find(|(h, p, _)| *h == target.host && *p == target.port)
        {
            Some((_, _, cell)) => cell.get_or_init(|| lookup(target)).await.clone(),
            None => lookup(target).await,
        };
        answer.map_err(|message| Failure::new(ErrorType::DnsError, message))
    }
}

async fn lookup(target: &Target) -> Answer {
    if let Ok(ip) = target.host.parse::<IpAddr>() {
        return Ok(Arc::from([SocketAddr::new(ip, target.port)]));
    }
    match tokio::net::lookup_host((target.host.as_str(), target.port)).await {
        Ok(addrs) => {
            let addrs: Arc<[SocketAddr]> = addrs.collect();
            if addrs.is_empty() {
                Err(format!("host '{}' resolved to no address", target.host))
            } else {
                Ok(addrs)
            }
        }
        Err(e) => Err(format!("cannot resolve host '{}': {e}", target.host)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn literals_skip_the_resolver_and_names_resolve_once() {
        let targets = [
            Target::parse("http://127.0.0.1:9").unwrap(),
            Target::parse("http://[::1]:9").unwrap(),
            Target::parse("http://localhost:9").unwrap(),
            Target::parse("http://127.0.0.1:9/other").unwrap(),
        ];
        let r = Resolver::new(&targets);
        assert_eq!(r.entries.len(), 3, "the same host:port shares one entry");
        assert_eq!(
            &*r.addrs(&targets[0]).await.unwrap(),
            &["127.0.0.1:9".parse().unwrap()]
        );
        assert_eq!(
            &*r.addrs(&targets[1]).await.unwrap(),
            &["[::1]:9".parse().unwrap()]
        );
        let first = r.addrs(&targets[2]).await.unwrap();
        assert!(first.iter().all(|a| a.ip().is_loopback() && a.port() == 9));
        let again = r.addrs(&targets[2]).await.unwrap();
        assert!(Arc::ptr_eq(&first, &again), "looked up once, then shared");
    }

    #[tokio::test]
    async fn a_failed_lookup_is_a_dns_error_naming_the_host() {
        let t = Target::parse("http://no-such-host.invalid:9").unwrap();
        let f = Resolver::new(std::slice::from_ref(&t))
            .addrs(&t)
            .await
            .unwrap_err();
        assert_eq!(f.kind, ErrorType::DnsError);
        assert!(f.message.contains("no-such-host.invalid"), "{}", f.message);
    }
}
