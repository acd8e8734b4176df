//! The gRPC side of the fleet: an agent's `Attach` call. The handler only
//! checks the agent in (version, token) and translates between the stream
//! and the fleet owner's events; it holds no run state.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use envload_proto as proto;
use proto::v1::{self, coordinator_message::Msg as Down};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

/// What the handlers tell the fleet owner.
#[derive(Debug)]
pub enum Event {
    /// An agent checked in.
    Joined {
        id: u64,
        hello: v1::Hello,
        tx: mpsc::Sender<Result<v1::CoordinatorMessage, Status>>,
    },
    /// A message from an agent (boxed: progress carries histograms).
    Message {
        id: u64,
        msg: Box<v1::agent_message::Msg>,
    },
    /// An agent's stream ended, failed or went silent past the deadline.
    Lost { id: u64, reason: String },
}

/// The `envload.v1.Coordinator` service.
#[derive(Clone)]
pub struct FleetService {
    pub events: mpsc::Sender<Event>,
    pub token: Option<String>,
    pub next_id: Arc<AtomicU64>,
    pub heartbeat_interval: Duration,
    pub heartbeat_deadline: Duration,
}

fn down(m: Down) -> v1::CoordinatorMessage {
    v1::CoordinatorMessage { msg: Some(m) }
}

#[tonic::async_trait]
impl v1::coordinator_server::Coordinator for FleetService {
    type AttachStream = ReceiverStream<Result<v1::CoordinatorMessage, Status>>;

    async fn attach(
        &self,
        req: Request<Streaming<v1::AgentMessage>>,
    ) -> Result<Response<Self::AttachStream>, Status> {
        let from = req
            .remote_addr()
            .map_or_else(|| "an unknown address".to_string(), |a| a.to_string());
        let mut inbound = req.into_inner();
        let first = tokio::time::timeout(Duration::from_secs(10), inbound.message())
            .await
            .map_err(|_| Status::deadline_exceeded("no Hello within 10 s of attaching"))??;
        let hello = match first.and_then(|m| m.msg) {
            Some(v1::agent_message::Msg::Hello(h)) => h,
            other => {
                return Err(Status::invalid_argument(format!(
                    "the first message must be Hello, got {other:?}"
                )))
            }
        };
        if hello.protocol_version != proto::PROTOCOL_VERSION {
            return Err(Status::failed_precondition(format!(
                "agent '{}' speaks envload protocol v{} (envload {}), this coordinator speaks v{} (envload {}): run the same envload version on both",
                hello.name, hello.protocol_version, hello.envload_version, proto::PROTOCOL_VERSION, env!("CARGO_PKG_VERSION")
            )));
        }
        if let Some(expected) = &self.token {
            if hello.token != *expected {
                let what = if hello.token.is_empty() {
                    "no token"
                } else {
                    "a wrong token"
                };
                // Logged with where it came from; it gets no assignment.
                eprintln!(
                    "envload coordinator: refused agent '{}' from {from}: it presented {what}",
                    hello.name
                );
                return Err(Status::unauthenticated(format!(
                    "agent '{}' presented {what}",
                    hello.name
                )));
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(1024);
        let welcome = v1::Welcome {
            agent_id: format!("agent-{id}"),
            heartbeat_interval_ms: self.heartbeat_interval.as_millis() as u32,
            heartbeat_deadline_ms: self.heartbeat_deadline.as_millis() as u32,
        };
        tx.send(Ok(down(Down::Welcome(welcome))))
            .await
            .map_err(|_| Status::internal("stream closed"))?;
        self.events
            .send(Event::Joined {
                id,
                hello,
                tx: tx.clone(),
            })
            .await
            .map_err(|_| Status::unavailable("the coordinator is shutting down"))?;

        // Inbound: forward every message; silence past the deadline is loss.
        let (events, deadline) = (self.events.clone(), self.heartbeat_deadline);
        tokio::spawn(async move {
            let reason = loop {
                match tokio::time::timeout(deadline, inbound.message()).await {
                    Err(_) => break format!("no heartbeat for {:.1} s", deadline.as_secs_f64()),
                    Ok(Ok(None)) => break "its stream ended".to_string(),
                    Ok(Err(s)) => break format!("its stream failed: {}", s.message()),
                    Ok(Ok(Some(v1::AgentMessage { msg: Some(msg) }))) => {
                        if events
                            .send(Event::Message {
                                id,
                                msg: Box::new(msg),
                            })
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                    Ok(Ok(Some(_))) => {}
                }
            };
            let _ = events.send(Event::Lost { id, reason }).await;
        });
        // Outbound heartbeats, independent of how busy the fleet owner is.
        let interval = self.heartbeat_interval;
        tokio::spawn(async move {
            let started = Instant::now();
            loop {
                tokio::time::sleep(interval).await;
                let beat = down(Down::Heartbeat(v1::Heartbeat {
                    sent_unix_ms: started.elapsed().as_millis() as u64,
                }));
                if tx.send(Ok(beat)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}
