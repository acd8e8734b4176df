//! One client connection of the recording proxy: HTTP requests forwarded
//! upstream (method, path, headers and body unchanged) and written with
//! their responses; a WebSocket upgrade goes to `ws`.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use envload_agent::trace::{Dir, Event};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use super::{hop_by_hop, reply, Recorder, Session};

/// Largest body relayed.
const MAX_BODY: usize = 16 << 20;

/// Serves one client connection until it closes.
pub async fn connection(conn: tokio::net::TcpStream, rec: Arc<Recorder>) {
    let session: Arc<Mutex<Option<Arc<Session>>>> = Arc::default();
    let (r, s) = (rec.clone(), session.clone());
    let svc = hyper::service::service_fn(move |req| {
        let (rec, session) = (r.clone(), s.clone());
        async move { Ok::<_, Infallible>(handle(req, rec, session).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(conn), svc)
        .with_upgrades()
        .await;
    let open = session.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(s) = open {
        rec.write(&rec.event(&s, Dir::Client, "end", b""));
    }
}

async fn handle(
    req: Request<Incoming>,
    rec: Arc<Recorder>,
    session: Arc<Mutex<Option<Arc<Session>>>>,
) -> Response<Full<Bytes>> {
    let upgrade = req
        .headers()
        .get(hyper::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if upgrade {
        return super::ws::relay(req, rec).await;
    }
    let path = req
        .uri()
        .path_and_query()
        .map_or("/".to_string(), |p| p.to_string());
    let s = {
        let mut open = session.lock().unwrap_or_else(|p| p.into_inner());
        open.get_or_insert_with(|| Arc::new(rec.open("http", &path, req.headers())))
            .clone()
    };
    let (method, headers) = (req.method().clone(), req.headers().clone());
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return reply(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("envload record: {e}\n"),
            )
        }
    };
    rec.write(&Event {
        path: path.clone(),
        method: Some(method.to_string()),
        ..rec.event(&s, Dir::Client, "request", &body)
    });
    let mut up = rec
        .client
        .request(method, format!("{}{path}", rec.upstream.http_base))
        .body(body.to_vec());
    for (k, v) in &headers {
        if !hop_by_hop(k.as_str()) {
            up = up.header(k, v);
        }
    }
    let resp = match up.send().await {
        Ok(r) => r,
        Err(e) => {
            return reply(
                StatusCode::BAD_GATEWAY,
                format!(
                    "envload record: {} did not answer: {e}\n",
                    rec.upstream.http_base
                ),
            )
        }
    };
    let status = resp.status();
    let resp_headers = resp.headers().clone();
    let bytes = resp.bytes().await.unwrap_or_default();
    rec.write(&Event {
        path,
        status: Some(status.as_u16()),
        ..rec.event(&s, Dir::Server, "response", &bytes)
    });
    let mut out = Response::new(Full::new(bytes));
    *out.status_mut() = status;
    for (k, v) in &resp_headers {
        if !hop_by_hop(k.as_str()) {
            out.headers_mut().append(k, v.clone());
        }
    }
    out
}
