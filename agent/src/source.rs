//! Source addresses for loopback targets.
//!
//! Every connection to one server address needs its own local port, and the
//! kernel finds a free one by scanning the ephemeral range: past about half
//! the range (14k connections with the default 32768–60999) each `connect`
//! scans thousands of ports and CPU per session triples. A loopback target is
//! reachable from every address in 127.0.0.0/8, so sessions to it are spread
//! over [`LOOPBACK_SOURCES`] source addresses, each with a port range of its
//! own. Other targets connect from the address the kernel picks.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;

use socket2::{Domain, Socket, Type};
use tokio::net::{TcpSocket, TcpStream};

/// How many 127.0.0.x addresses sessions to a loopback target come from.
pub const LOOPBACK_SOURCES: u8 = 32;

/// The source address for session `request_id` to `target` when sessions
/// to loopback come from `sources` addresses; `None`: the kernel's choice
/// (other targets, or one source: 127.0.0.1 anyway). NAT rules that
/// masquerade only 127.0.0.1 (podman's CNI port forwarding) need one.
pub fn source_for(target: SocketAddr, request_id: u64, sources: u8) -> Option<Ipv4Addr> {
    match target.ip() {
        IpAddr::V4(ip) if ip.is_loopback() && sources > 1 => Some(Ipv4Addr::new(
            127,
            0,
            0,
            1 + (request_id % u64::from(sources.min(LOOPBACK_SOURCES))) as u8,
        )),
        _ => None,
    }
}

/// Connects to `target`, from `source` when given (the port is left to
/// `connect`, IP_BIND_ADDRESS_NO_PORT, so ports are shared across 4-tuples).
pub async fn connect_from(target: SocketAddr, source: Option<Ipv4Addr>) -> io::Result<TcpStream> {
    let Some(src) = source else {
        return TcpStream::connect(target).await;
    };
    // Created non-blocking (and close-on-exec): no fcntl calls after.
    let socket = Socket::new(Domain::IPV4, Type::STREAM.nonblocking(), None)?;
    let one: libc::c_int = 1;
    // SAFETY: a valid fd and a c_int option value of the right size.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    socket.bind(&SocketAddr::from((src, 0)).into())?;
    let std_stream: std::net::TcpStream = socket.into();
    TcpSocket::from_std_stream(std_stream).connect(target).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_targets_spread_other_targets_do_not() {
        let lo: SocketAddr = "127.0.0.1:8000".parse().unwrap();
        assert_eq!(source_for(lo, 0, 32), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(source_for(lo, 33, 32), Some(Ipv4Addr::new(127, 0, 0, 2)));
        assert_eq!(source_for(lo, 5, 4), Some(Ipv4Addr::new(127, 0, 0, 2)));
        assert_eq!(
            source_for(lo, 33, 1),
            None,
            "one source: the kernel's 127.0.0.1"
        );
        assert_eq!(source_for("10.0.0.5:8000".parse().unwrap(), 7, 32), None);
        assert_eq!(source_for("[::1]:8000".parse().unwrap(), 7, 32), None);
    }

    #[tokio::test]
    async fn connects_from_the_chosen_source() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let s = connect_from(l.local_addr().unwrap(), Some(Ipv4Addr::new(127, 0, 0, 7)))
            .await
            .unwrap();
        assert_eq!(
            s.local_addr().unwrap().ip(),
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 7))
        );
    }
}
