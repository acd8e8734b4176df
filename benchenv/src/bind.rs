//! Listening sockets: a deep accept backlog (a batch connects all at once)
//! and SO_REUSEPORT, so several worker processes share one port the way
//! uvicorn workers do.

use std::io;
use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Socket, Type};

/// Accept backlog asked for; the kernel caps it at `net.core.somaxconn`.
pub const BACKLOG: i32 = 65_535;

/// Binds `addr`; with `listen` false the socket only reserves the port (the
/// supervisor's placeholder for `--port 0`), with `reuse_port` several
/// processes may bind the same port.
pub fn bind_listener(addr: SocketAddr, reuse_port: bool, listen: bool) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.bind(&addr.into())?;
    if listen {
        socket.listen(BACKLOG)?;
    }
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}
