//! The embedded benchmark server: `envload run` without a URL starts one on a
//! free loopback port, on its own thread and runtime so it does not share
//! the load generator's scheduler.

use std::net::SocketAddr;
use std::thread::JoinHandle;

use envload_benchenv::capacity::Capacity;
use envload_benchenv::env::Identity;
use envload_benchenv::{bind_listener, serve, ServerConfig};
use tokio::sync::oneshot;

/// Session limit of the embedded server: high enough never to refuse.
pub const EMBEDDED_MAX_SESSIONS: usize = 1 << 20;

/// A running embedded server; stops when dropped.
pub struct Embedded {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Embedded {
    /// Starts the server on `127.0.0.1:0`.
    pub fn start() -> std::io::Result<Self> {
        let std_listener = bind_listener(SocketAddr::from(([127, 0, 0, 1], 0)), false, true)?;
        let port = std_listener.local_addr()?.port();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("benchenv".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("embedded server runtime");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(std_listener)
                        .expect("listener registers");
                    let config = ServerConfig {
                        identity: Identity::current(&envload_agent::host::hostname(), port),
                        capacity: Capacity::new(EMBEDDED_MAX_SESSIONS),
                        factory_error: false,
                        tls: None,
                    };
                    serve(listener, config, async {
                        let _ = stopped.await;
                    })
                    .await;
                });
            })?;
        Ok(Embedded {
            url: format!("http://127.0.0.1:{port}"),
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
