//! One HTTP session: `POST /reset` then `POST /step {"action":{…}}`, over a
//! pooled client shared by the share's sessions (as the reference does).
//! Bodies are read as a stream under the same cap as WebSocket messages, so
//! an endless or huge reply costs at most `--max-message-size` per session.

use std::error::Error as _;
use std::io;
use std::sync::Arc;
use std::time::Instant;

use reqwest::{header, Client, Response};
use serde_json::Value;

use crate::failure::{excerpt, ErrorType, Failure};
use crate::observation::Observed;
use crate::plan::Limits;
use crate::record::{micros, Timings};
use crate::target::Target;

/// The client all HTTP sessions of one shard use: no idle limit, no proxy,
/// Nagle off, and the share's TLS configuration for `https://` targets.
pub fn client(tls: Option<Arc<rustls::ClientConfig>>, headers: &[(String, String)]) -> Client {
    crate::tls::init();
    // No TCP keepalive probes or user timeout (reqwest's defaults, five
    // setsockopt calls on every connection): sessions last seconds, each
    // request has its own deadline, and the reference's client sets none.
    let mut builder = Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .tcp_nodelay(true)
        .tcp_keepalive(None)
        .tcp_keepalive_interval(None)
        .tcp_keepalive_retries(None)
        .tcp_user_timeout(None)
        .no_proxy();
    // The user's headers go on every request, as on the upgrade: names
    // are tokens and values field-values (`headers` checks both).
    let mut defaults = header::HeaderMap::new();
    for (name, value) in headers {
        let n = header::HeaderName::from_bytes(name.as_bytes()).expect("a checked header name");
        let mut v = header::HeaderValue::from_bytes(value.as_bytes()).expect("a checked value");
        v.set_sensitive(true);
        defaults.append(n, v);
    }
    builder = builder.default_headers(defaults);
    let cfg = tls.unwrap_or_else(crate::tls::plain_only);
    builder = builder.tls_backend_preconfigured((*cfg).clone());
    builder
        .build()
        .expect("an HTTP client with a valid TLS configuration always builds")
}

/// Runs one HTTP session; returns what was timed and the outcome.
pub async fn run_session(
    client: &Client,
    target: &Target,
    wait_seconds: f64,
    limits: Limits,
) -> (Timings, Result<Observed, Failure>) {
    let t0 = Instant::now();
    let mut timings = Timings::default();
    let outcome = async {
        let reset_url = format!("{}/reset", target.http_base);
        // Checked and dropped at once: only the step's fields are kept.
        Observed::from_reply(
            &post(client, &reset_url, String::new(), "reset", limits).await?,
            "reset",
            &reset_url,
        )?;
        timings.reset_us = micros(t0.elapsed());

        let step_url = format!("{}/step", target.http_base);
        let body = format!(r#"{{"action":{{"wait_seconds":{wait_seconds}}}}}"#);
        let t = Instant::now();
        let reply = post(client, &step_url, body, "step", limits).await?;
        let observed = Observed::from_reply(&reply, "step", &step_url)?;
        timings.step_us = micros(t.elapsed());
        Ok(observed)
    }
    .await;
    (timings.settle(t0, outcome.is_err()), outcome)
}

/// POSTs `body` (JSON, or nothing) and returns the parsed JSON reply. The
/// timeout covers connect, headers and body (reqwest's request timeout).
async fn post(
    client: &Client,
    url: &str,
    body: String,
    stage: &str,
    limits: Limits,
) -> Result<Value, Failure> {
    post_counted(client, url, body, stage, limits)
        .await
        .map(|(v, _)| v)
}

/// [`post`], with the reply body's length.
pub(crate) async fn post_counted(
    client: &Client,
    url: &str,
    body: String,
    stage: &str,
    limits: Limits,
) -> Result<(Value, u64), Failure> {
    send_counted(client, reqwest::Method::POST, url, body, stage, limits).await
}

/// `GET url` (`/state`), with the reply body's length.
pub(crate) async fn get_counted(
    client: &Client,
    url: &str,
    stage: &str,
    limits: Limits,
) -> Result<(Value, u64), Failure> {
    send_counted(
        client,
        reqwest::Method::GET,
        url,
        String::new(),
        stage,
        limits,
    )
    .await
}

/// One request and its parsed JSON reply, with the reply body's length.
pub(crate) async fn send_counted(
    client: &Client,
    method: reqwest::Method,
    url: &str,
    body: String,
    stage: &str,
    limits: Limits,
) -> Result<(Value, u64), Failure> {
    let verb = method.clone();
    let mut req = client.request(method, url).timeout(limits.request);
    if !body.is_empty() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let resp = req
        .body(body)
        .send()
        .await
        .map_err(|e| classify(&e, url, stage, limits))?;
    let status = resp.status();
    let bytes = read_capped(resp, url, stage, limits).await?;
    if status.as_u16() == 401 || status.as_u16() == 403 {
        return Err(crate::failure::unauthorized(&format!(
            "HTTP {} from {verb} {url} during {stage}",
            status.as_u16()
        )));
    }
    if !status.is_success() {
        return Err(Failure::new(
            ErrorType::HttpStatus,
            format!(
                "HTTP {} from {verb} {url} during {stage}: {}",
                status.as_u16(),
                excerpt(&String::from_utf8_lossy(&bytes))
            ),
        ));
    }
    let value = serde_json::from_slice(&bytes).map_err(|e| {
        Failure::new(
            ErrorType::MalformedResponse,
            format!(
                "reply to {verb} {url} is not JSON ({e}): {}",
                excerpt(&String::from_utf8_lossy(&bytes))
            ),
        )
    })?;
    Ok((value, bytes.len() as u64))
}

/// The body, chunk by chunk, refused as soon as it passes the cap (or its
/// declared length does).
async fn read_capped(
    mut resp: Response,
    url: &str,
    stage: &str,
    limits: Limits,
) -> Result<Vec<u8>, Failure> {
    let cap = limits.max_message;
    let too_large = |size: String| {
        Failure::new(
            ErrorType::MalformedResponse,
            format!(
                "reply to POST {url} during {stage} is too large ({size} > {cap} bytes); raise --max-message-size if the environment's observations are that big"
            ),
        )
    };
    if let Some(len) = resp.content_length().filter(|l| *l > cap as u64) {
        return Err(too_large(format!("Content-Length {len}")));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| classify(&e, url, stage, limits))?
    {
        if body.len() + chunk.len() > cap {
            return Err(too_large(format!("over {}", body.len() + chunk.len())));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Classifies a reqwest error by walking its source chain.
fn classify(e: &reqwest::Error, url: &str, stage: &str, limits: Limits) -> Failure {
    let chain = {
        let mut parts = vec![e.to_string()];
        let mut src = e.source();
        while let Some(s) = src {
            parts.push(s.to_string());
            src = s.source();
        }
        parts.join(": ")
    };
    if e.is_timeout() {
        let (kind, what) = if e.is_connect() {
            (ErrorType::HandshakeTimeout, "connect to")
        } else {
            (ErrorType::ReadTimeout, "reply from")
        };
        return Failure::new(
            kind,
            format!(
                "no {what} POST {url} within {:.1}s (--timeout) during {stage}",
                limits.request.as_secs_f64()
            ),
        );
    }
    if let Some(tls) = crate::tls::rustls_error(e) {
        return Failure::new(ErrorType::TlsError, crate::tls::describe(tls, url));
    }
    if chain.contains("certificate") || chain.contains("tls") || chain.contains("TLS") {
        return Failure::new(
            ErrorType::TlsError,
            format!("TLS with {url} failed during {stage}: {chain}"),
        );
    }
    if chain.contains("dns error") {
        return Failure::new(
            ErrorType::DnsError,
            format!("cannot resolve host of {url}: {chain}"),
        );
    }
    // hyper's parse errors: the server answered something that is not HTTP/1.
    for needle in ["invalid HTTP", "message head is too large", "invalid URI"] {
        if chain.contains(needle) {
            return Failure::new(
                ErrorType::MalformedResponse,
                format!("{url} did not answer {stage} with valid HTTP: {chain}"),
            );
        }
    }
    let mut src = e.source();
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            return Failure::from_io(io, url, stage);
        }
        src = s.source();
    }
    if chain.contains("connection closed before message completed")
        || chain.contains("IncompleteMessage")
    {
        return Failure::new(
            ErrorType::UnexpectedClose,
            format!("{url} closed the connection before replying to {stage}"),
        );
    }
    Failure::new(
        ErrorType::ConnectionError,
        format!("POST {url} failed during {stage}: {chain}"),
    )
}
