//! `envload agent`: dials the coordinator, keeps one stream open for its
//! life, and runs the shares it is given with the same session engine as
//! `envload run`. A coordinator that goes away — the stream ends, or it is
//! silent past the heartbeat deadline — stops the load at once: no orphaned
//! sessions keep hammering a server.

pub mod backoff;
mod probe;
pub mod share;

use std::time::{Duration, Instant};

use envload_proto::v1::coordinator_client::CoordinatorClient;
use envload_proto::v1::{self, agent_message::Msg as Up, coordinator_message::Msg as Down};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Certificate, ClientTlsConfig};
use tonic::{Code, Streaming};

use crate::convert::assignment_from_proto;
use crate::limits;
use backoff::Backoff;
use share::{msg, Share};

/// How often the agent reports (heartbeat, progress, records).
pub const TICK: Duration = Duration::from_millis(500);

/// Who this agent is and where its coordinator is.
#[derive(Debug, Clone)]
pub struct AgentOpts {
    /// `http://HOST:PORT` of the coordinator.
    pub coordinator: String,
    /// Agent name (defaults to `hostname-pid`).
    pub name: String,
    /// Host the agent runs on, as reported to the coordinator.
    pub host: String,
    /// Shared token, when the coordinator requires one.
    pub token: Option<String>,
    /// Capacity declared to the coordinator (defaults to the CPU count).
    pub cpus: u32,
    /// Protocol version announced (the real one except in tests).
    pub protocol_version: u32,
    /// How long to keep trying to reach the coordinator.
    pub connect_for: Duration,
    /// PEM CA certificate(s) trusted for an `https://` coordinator
    /// (`--ca-cert`), beside the system's roots.
    pub ca_pem: Option<Vec<u8>>,
}

/// Why an agent stopped other than by the coordinator's Shutdown.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// Wrong or missing token.
    #[error("coordinator {url} refused this agent: {message} (pass the coordinator's token with --token or ENVLOAD_TOKEN)")]
    Unauthenticated { url: String, message: String },
    /// Incompatible protocol version, or another refusal.
    #[error("coordinator {url} refused this agent: {message}")]
    Refused { url: String, message: String },
    /// Never reached the coordinator.
    #[error("could not reach coordinator {url} within {secs:.0} s: {last}")]
    Unreachable {
        url: String,
        secs: f64,
        last: String,
    },
    /// The coordinator went away; the load was stopped.
    #[error("lost the coordinator {url}: {reason}; stopped all sessions of this agent")]
    CoordinatorLost { url: String, reason: String },
    /// The coordinator sent something this agent cannot act on.
    #[error("protocol error with coordinator {url}: {reason}")]
    Protocol { url: String, reason: String },
}

/// Runs the agent until the coordinator shuts it down (Ok) or something
/// ends it early (Err).
pub async fn run(opts: AgentOpts) -> Result<(), AgentError> {
    let fd_limit = limits::raise_to_max();
    let (tx, mut inbound) = attach(&opts, fd_limit).await?;
    let lost = |reason: String| AgentError::CoordinatorLost {
        url: opts.coordinator.clone(),
        reason,
    };
    let protocol = |reason: String| AgentError::Protocol {
        url: opts.coordinator.clone(),
        reason,
    };

    let welcome = match tokio::time::timeout(Duration::from_secs(10), inbound.message()).await {
        Ok(Ok(Some(v1::CoordinatorMessage {
            msg: Some(Down::Welcome(w)),
        }))) => w,
        Ok(Err(status)) => return Err(refusal(&opts.coordinator, status)),
        other => return Err(protocol(format!("expected Welcome, got {other:?}"))),
    };
    let deadline = Duration::from_millis(u64::from(welcome.heartbeat_deadline_ms.max(1000)));
    eprintln!(
        "envload agent {}: attached to {} as {} (heartbeat deadline {:.1} s)",
        opts.name,
        opts.coordinator,
        welcome.agent_id,
        deadline.as_secs_f64()
    );

    let mut share: Option<Share> = None;
    let mut tick = tokio::time::interval(TICK);
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            m = inbound.message() => {
                last_heard = Instant::now();
                let m = match m {
                    Ok(Some(m)) => m,
                    Ok(None) => return Err(lost("the stream ended".into())),
                    Err(status) => return Err(lost(format!("{:?}: {}", status.code(), status.message()))),
                };
                match m.msg {
                    Some(Down::Assignment(a)) => {
                        let assignment = assignment_from_proto(&a).map_err(|e| protocol(e.to_string()))?;
                        let _ = limits::ensure_nofile(assignment.count);
                        share = Some(Share::new(a.phase, assignment, a.send_records));
                        send(&tx, msg(Up::Ready(v1::Ready { phase: a.phase }))).await.map_err(lost)?;
                    }
                    Some(Down::Start(s)) => match share.as_mut() {
                        Some(sh) if sh.phase == s.phase => {
                            sh.start();
                            let a = &sh.assignment;
                            eprintln!(
                                "envload agent {}: phase {}: started {} session(s) (request ids {}..{})",
                                opts.name, s.phase + 1, a.count, a.first_request_id, a.first_request_id + a.count
                            );
                            if sh.assignment.count == 0 {
                                send(&tx, sh.done()).await.map_err(lost)?;
                                share = None;
                            }
                        }
                        _ => return Err(protocol(format!("Start for phase {} without its Assignment", s.phase))),
                    },
                    Some(Down::Abort(a)) => {
                        if share.as_ref().is_some_and(|s| s.phase == a.phase) {
                            share = None; // drops the sessions: every socket closes
                            eprintln!("envload agent {}: phase {} aborted: {}", opts.name, a.phase, a.reason);
                        }
                    }
                    Some(Down::Shutdown(s)) => {
                        eprintln!("envload agent {}: shut down by the coordinator: {}", opts.name, s.reason);
                        return Ok(());
                    }
                    Some(Down::Heartbeat(_)) | Some(Down::Welcome(_)) | None => {}
                }
            }
            rec = next_session(&mut share) => {
                let Some(sh) = share.as_mut() else { continue };
                match rec {
                    Some(rec) => {
                        sh.record(&rec);
                        if sh.batch_full() {
                            if let Some(m) = sh.take_records() { send(&tx, m).await.map_err(lost)?; }
                        }
                    }
                    None => {
                        for m in [sh.take_progress(true), sh.take_records(), Some(sh.done())].into_iter().flatten() {
                            send(&tx, m).await.map_err(lost)?;
                        }
                        share = None;
                    }
                }
            }
            _ = tokio::time::sleep_until((last_heard + deadline).into()) => {
                return Err(lost(format!("no message for {:.1} s (heartbeat deadline)", deadline.as_secs_f64())));
            }
            _ = tick.tick() => {
                let beat = msg(Up::Heartbeat(v1::Heartbeat { sent_unix_ms: unix_ms() }));
                send(&tx, beat).await.map_err(lost)?;
                if let Some(sh) = share.as_mut().filter(|s| s.sessions.is_some()) {
                    for m in [sh.take_progress(false), sh.take_records()].into_iter().flatten() {
                        send(&tx, m).await.map_err(lost)?;
                    }
                }
            }
        }
    }
}

/// The next finished session of a running share; pending forever otherwise.
async fn next_session(share: &mut Option<Share>) -> Option<crate::record::SessionRecord> {
    match share.as_mut().and_then(|s| s.sessions.as_mut()) {
        Some(sessions) => sessions.next().await,
        None => std::future::pending().await,
    }
}

async fn send(tx: &mpsc::Sender<v1::AgentMessage>, m: v1::AgentMessage) -> Result<(), String> {
    tx.send(m)
        .await
        .map_err(|_| "the stream to it closed".to_string())
}

/// Dials the coordinator (retrying with backoff) and opens the stream with
/// Hello as its first message.
async fn attach(
    opts: &AgentOpts,
    fd_limit: u64,
) -> Result<
    (
        mpsc::Sender<v1::AgentMessage>,
        Streaming<v1::CoordinatorMessage>,
    ),
    AgentError,
> {
    let started = Instant::now();
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    let hello = v1::Hello {
        protocol_version: opts.protocol_version,
        token: opts.token.clone().unwrap_or_default(),
        name: opts.name.clone(),
        host: opts.host.clone(),
        cpus: opts.cpus,
        fd_limit,
        envload_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let tls = opts.coordinator.starts_with("https://").then(|| {
        let cfg = ClientTlsConfig::new().with_native_roots();
        match &opts.ca_pem {
            Some(pem) => cfg.ca_certificate(Certificate::from_pem(pem)),
            None => cfg,
        }
    });
    let mut said = false;
    loop {
        let failed = match try_attach(&opts.coordinator, &hello, tls.as_ref()).await {
            Ok(pair) => return Ok(pair),
            Err(e) => e,
        };
        // A plain agent at a TLS coordinator sees only an HTTP/2 error.
        if tls.is_none() && probe::speaks_tls(&opts.coordinator).await {
            return Err(AgentError::Refused {
                url: opts.coordinator.clone(),
                message: "it speaks TLS and this agent dialled it in plain text: write --coordinator https://… and pass --ca-cert with the CA of its --tls-cert".into(),
            });
        }
        let last = match failed {
            AttachError::Fatal(status) => return Err(refusal(&opts.coordinator, status)),
            AttachError::Retry(why) => why,
        };
        if !std::mem::replace(&mut said, true) {
            eprintln!(
                "envload agent {}: coordinator {} not reachable yet ({last}); retrying for up to {:.0} s",
                opts.name,
                opts.coordinator,
                opts.connect_for.as_secs_f64()
            );
        }
        if started.elapsed() >= opts.connect_for {
            return Err(AgentError::Unreachable {
                url: opts.coordinator.clone(),
                secs: opts.connect_for.as_secs_f64(),
                last,
            });
        }
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

enum AttachError {
    Retry(String),
    Fatal(tonic::Status),
}

async fn try_attach(
    url: &str,
    hello: &v1::Hello,
    tls: Option<&ClientTlsConfig>,
) -> Result<
    (
        mpsc::Sender<v1::AgentMessage>,
        Streaming<v1::CoordinatorMessage>,
    ),
    AttachError,
> {
    let fatal = |what: String| AttachError::Fatal(tonic::Status::invalid_argument(what));
    let mut endpoint = tonic::transport::Endpoint::from_shared(url.to_string())
        .map_err(|e| fatal(format!("bad coordinator URL '{url}': {e}")))?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true);
    if let Some(cfg) = tls {
        endpoint = endpoint
            .tls_config(cfg.clone())
            .map_err(|e| fatal(format!("TLS setup for {url} failed: {e}")))?;
    }
    let channel = endpoint.connect().await.map_err(|e| {
        // A certificate this agent does not trust stays untrusted: no retry.
        match crate::tls::rustls_error(&e) {
            Some(r @ rustls::Error::InvalidCertificate(_)) => fatal(format!(
                "TLS with {url} failed ({r}): trust the coordinator's certificate with --ca-cert (the CA of its --tls-cert, or that certificate itself)"
            )),
            _ => AttachError::Retry(format!("{e}: {:?}", std::error::Error::source(&e))),
        }
    })?;
    let (tx, rx) = mpsc::channel(256);
    tx.send(msg(Up::Hello(hello.clone())))
        .await
        .expect("fresh channel has room");
    let mut client = CoordinatorClient::new(channel).max_decoding_message_size(64 << 20);
    match client.attach(ReceiverStream::new(rx)).await {
        Ok(resp) => Ok((tx, resp.into_inner())),
        Err(s)
            if matches!(
                s.code(),
                Code::Unavailable | Code::Unknown | Code::Cancelled
            ) =>
        {
            Err(AttachError::Retry(format!("{}: {}", s.code(), s.message())))
        }
        Err(s) => Err(AttachError::Fatal(s)),
    }
}

fn refusal(url: &str, status: tonic::Status) -> AgentError {
    let message = status.message().to_string();
    match status.code() {
        Code::Unauthenticated => AgentError::Unauthenticated {
            url: url.to_string(),
            message,
        },
        _ => AgentError::Refused {
            url: url.to_string(),
            message: format!("{:?}: {message}", status.code()),
        },
    }
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
