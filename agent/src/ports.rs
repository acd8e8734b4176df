//! Local ports a phase needs. Every concurrent session to one server address
//! holds a local port of its source address, taken from
//! `net.ipv4.ip_local_port_range`. Sessions to an IPv4 loopback target come
//! from [`LOOPBACK_SOURCES`] addresses (`source`), others from the one
//! address the kernel picks: N sessions to one remote address cannot exceed
//! the range, and the run says so before it starts rather than failing
//! sessions with "Cannot assign requested address" half way through.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use crate::source::LOOPBACK_SOURCES;
use crate::target::Target;

/// Why a phase cannot get the local ports it needs.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error(
    "N={n} puts {sessions} concurrent sessions on {addr}, which need {per_source} local ports \
     from each of {sources} source address(es), but net.ipv4.ip_local_port_range ({low}-{high}) \
     has {size}: widen it (sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\"), spread the \
     batch over more --urls, or run agents on more hosts"
)]
pub struct PortError {
    pub n: u64,
    pub addr: SocketAddr,
    pub sessions: u64,
    pub sources: u64,
    pub per_source: u64,
    pub low: u32,
    pub high: u32,
    pub size: u64,
}

/// What the kernel allows: the ephemeral port range and `tcp_tw_reuse`.
#[derive(Debug, Clone, Copy)]
pub struct Kernel {
    pub range: (u32, u32),
    pub tw_reuse: u8,
}

impl Kernel {
    /// This host's settings (Linux's defaults when /proc cannot be read).
    pub fn current() -> Self {
        let read = |name: &str| std::fs::read_to_string(format!("/proc/sys/net/ipv4/{name}")).ok();
        let range = read("ip_local_port_range")
            .and_then(|s| {
                let mut it = s.split_whitespace().map(|v| v.parse::<u32>().ok());
                Some((it.next()??, it.next()??))
            })
            .unwrap_or((32768, 60999));
        let tw_reuse = read("tcp_tw_reuse")
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(2);
        Kernel { range, tw_reuse }
    }

    fn size(&self) -> u64 {
        u64::from(self.range.1.saturating_sub(self.range.0)) + 1
    }
}

/// Checks that `n` concurrent sessions spread over `targets` (session `i`
/// to `targets[i % len]`) fit the port range. `Ok(Some(warning))` when they
/// fit once but back-to-back phases may not: a client-first close leaves
/// the port in TIME_WAIT for 60 s, reusable for a new connection only with
/// `tcp_tw_reuse` 1 (2, the default, covers loopback only).
pub fn check(targets: &[Target], n: u64, kernel: Kernel) -> Result<Option<String>, PortError> {
    check_with(targets, n, kernel, LOOPBACK_SOURCES)
}

/// [`check`] with sessions to an IPv4 loopback target spread over
/// `loopback_sources` addresses (`--loopback-sources`).
pub fn check_with(
    targets: &[Target],
    n: u64,
    kernel: Kernel,
    loopback_sources: u8,
) -> Result<Option<String>, PortError> {
    let mut per_addr: Vec<(SocketAddr, u64)> = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        let sessions = n / targets.len() as u64 + u64::from((i as u64) < n % targets.len() as u64);
        let Some(addr) = resolve(t) else { continue };
        match per_addr.iter_mut().find(|(a, _)| *a == addr) {
            Some((_, s)) => *s += sessions,
            None => per_addr.push((addr, sessions)),
        }
    }
    let mut warning = None;
    for (addr, sessions) in per_addr {
        let loopback_v4 = matches!(addr.ip(), IpAddr::V4(ip) if ip.is_loopback());
        let sources = if loopback_v4 {
            u64::from(loopback_sources.clamp(1, LOOPBACK_SOURCES))
        } else {
            1
        };
        let per_source = sessions.div_ceil(sources);
        if per_source > kernel.size() {
            return Err(PortError {
                n,
                addr,
                sessions,
                sources,
                per_source,
                low: kernel.range.0,
                high: kernel.range.1,
                size: kernel.size(),
            });
        }
        let reuses = kernel.tw_reuse == 1 || (kernel.tw_reuse == 2 && addr.ip().is_loopback());
        if per_source * 2 > kernel.size() && !reuses {
            warning = Some(format!(
                "{sessions} sessions to {addr} use {per_source} of the {} local ports of each source address; \
                 client-first closes leave them in TIME_WAIT for 60 s, so a phase starting sooner may run out \
                 (set net.ipv4.tcp_tw_reuse=1, or --close server-first)",
                kernel.size()
            ));
        }
    }
    Ok(warning)
}

/// The address sessions to `t` go to first; `None` when it does not
/// resolve now (the sessions then report it).
fn resolve(t: &Target) -> Option<SocketAddr> {
    if let Ok(ip) = t.host.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, t.port));
    }
    (t.host.as_str(), t.port).to_socket_addrs().ok()?.next()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: Kernel = Kernel {
        range: (32768, 60999),
        tw_reuse: 2,
    };

    fn targets(urls: &[&str]) -> Vec<Target> {
        urls.iter().map(|u| Target::parse(u).unwrap()).collect()
    }

    #[test]
    fn one_remote_address_is_bounded_by_the_range() {
        let t = targets(&["http://10.1.2.3:8000"]);
        assert!(check(&t, 28232, DEFAULT).is_ok(), "the whole range fits");
        let e = check(&t, 28233, DEFAULT).unwrap_err();
        assert_eq!((e.per_source, e.size), (28233, 28232));
        let msg = e.to_string();
        assert!(
            msg.contains("N=28233") && msg.contains("ip_local_port_range (32768-60999)"),
            "{msg}"
        );
    }

    #[test]
    fn loopback_sessions_spread_over_their_sources() {
        let t = targets(&["http://127.0.0.1:8000"]);
        assert_eq!(check(&t, 65536, DEFAULT), Ok(None));
        assert!(check(&t, 32 * 28232 + 1, DEFAULT).is_err());
        // Two targets on one address share its ports; on two addresses not.
        let same = targets(&["http://10.1.2.3:8000", "http://10.1.2.3:8000/"]);
        assert!(check(&same, 30000, DEFAULT).is_err());
        let two = targets(&["http://10.1.2.3:8000", "http://10.1.2.4:8000"]);
        assert!(check(&two, 30000, DEFAULT).is_ok());
    }

    #[test]
    fn time_wait_is_a_warning_unless_the_kernel_reuses_ports() {
        let t = targets(&["http://10.1.2.3:8000"]);
        let w = check(&t, 20000, DEFAULT).unwrap().unwrap();
        assert!(w.contains("TIME_WAIT") && w.contains("tcp_tw_reuse"), "{w}");
        let reuse = Kernel {
            tw_reuse: 1,
            ..DEFAULT
        };
        assert_eq!(check(&t, 20000, reuse), Ok(None));
        assert_eq!(check(&t, 10000, DEFAULT), Ok(None));
    }
}
