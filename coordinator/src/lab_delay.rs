//! The test lab's delay, for kernels without netem: a transparent TCP
//! relay run inside a node's network namespace, where iptables redirects
//! every TCP connection the node opens over its link to it (`REDIRECT`;
//! the relay finds the real destination with `SO_ORIGINAL_DST`). It opens
//! the real connection (marked, so it is not redirected again) and carries
//! the bytes both ways, each chunk released `delay` after it arrived, in
//! order: a connection the node opens sees its round trip grow by twice
//! the delay, as with netem's `delay` on both ends' links. Connection
//! set-up is not delayed; a chunk is what one read returns.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The mark of the relay's own connections (`iptables -m mark --mark`).
pub const MARK: u32 = 0x6c64;

/// Relays every connection accepted on `listener` with `delay` each way,
/// until `stop` resolves.
pub async fn serve(
    listener: TcpListener,
    delay: Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        let (client, _) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(_) => { tokio::time::sleep(Duration::from_millis(5)).await; continue; }
            },
            _ = &mut stop => return,
        };
        tokio::spawn(async move {
            let Some(dest) = original_destination(&client) else {
                return;
            };
            let Ok(upstream) = connect_marked(dest).await else {
                return; // dropping the client tells it
            };
            let _ = client.set_nodelay(true);
            let (cr, cw) = client.into_split();
            let (ur, uw) = upstream.into_split();
            tokio::join!(carry(cr, uw, delay), carry(ur, cw, delay));
        });
    }
}

/// Where the client meant to go, before iptables redirected it.
fn original_destination(s: &TcpStream) -> Option<SocketAddr> {
    // SAFETY: a zeroed sockaddr_in is a valid out-value; the length is its size.
    let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SO_ORIGINAL_DST (80) at SOL_IP: netfilter's record of the destination.
    let rc = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::SOL_IP,
            80,
            (&mut addr as *mut libc::sockaddr_in).cast(),
            &mut len,
        )
    };
    (rc == 0).then(|| {
        SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr)),
            u16::from_be(addr.sin_port),
        ))
    })
}

/// Connects to `dest` with [`MARK`] on the socket.
async fn connect_marked(dest: SocketAddr) -> std::io::Result<TcpStream> {
    let sock = TcpSocket::new_v4()?;
    let mark = MARK;
    // SAFETY: a valid socket and a u32 option value of its size.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_MARK,
            (&mark as *const u32).cast(),
            std::mem::size_of::<u32>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let s = sock.connect(dest).await?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// Copies `from` to `to`, each chunk written `delay` after it was read.
async fn carry(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = async move {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n) = from.read(&mut buf).await {
            if n == 0
                || tx
                    .send((Instant::now() + delay, buf[..n].to_vec()))
                    .is_err()
            {
                break;
            }
        }
        // Dropping `tx` ends the writer once the queue is written.
    };
    // The channel is the queue: chunks leave in order, each at its time.
    let writer = async move {
        while let Some((due, bytes)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&bytes).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}
