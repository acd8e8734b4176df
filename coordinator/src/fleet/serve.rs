//! Serving the fleet's gRPC service on a listener until told to stop.

use std::net::SocketAddr;

use envload_proto::v1::coordinator_server::CoordinatorServer;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::ServerTlsConfig;

use super::service::FleetService;

/// The running gRPC server.
pub struct GrpcServer {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl GrpcServer {
    /// Binds `addr` and serves `service` on it, over TLS when `tls` is
    /// given.
    pub async fn start(
        addr: SocketAddr,
        service: FleetService,
        tls: Option<ServerTlsConfig>,
    ) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let mut builder = tonic::transport::Server::builder();
        if let Some(cfg) = tls {
            builder = builder
                .tls_config(cfg)
                .map_err(|e| std::io::Error::other(format!("TLS setup failed: {e}")))?;
        }
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let result = builder
                .tcp_nodelay(true)
                .add_service(CoordinatorServer::new(service).max_decoding_message_size(64 << 20))
                .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = result {
                eprintln!("envload coordinator: gRPC server stopped: {e}");
            }
        });
        Ok(GrpcServer {
            addr,
            stop: Some(stop),
            task,
        })
    }

    /// Stops serving (bounded wait for open streams).
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), &mut self.task).await;
        self.task.abort();
    }
}
