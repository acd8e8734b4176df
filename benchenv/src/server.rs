//! The accept loop: HTTP/1.1 with upgrades, one task per connection, until
//! the shutdown future resolves.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::config::ServerConfig;
use crate::http_api;

/// Serves `listener` until `shutdown` resolves. Accept errors (such as
/// running out of descriptors) are logged and retried, never fatal.
pub async fn serve(
    listener: TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) {
    let config = Arc::new(config);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        config.counters.connection();
        let config = config.clone();
        tokio::spawn(async move {
            match config.tls.clone() {
                None => serve_io(stream, config).await,
                Some(tls) => {
                    // A failed handshake is the client's problem; drop it.
                    if let Ok(s) = tokio_rustls::TlsAcceptor::from(tls).accept(stream).await {
                        serve_io(s, config).await;
                    }
                }
            }
        });
    }
}

/// One connection, plain or TLS.
async fn serve_io<I>(io: I, config: Arc<ServerConfig>)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = service_fn(move |req| http_api::handle(req, config.clone()));
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(io), svc)
        .with_upgrades()
        .await;
}
