//! A shard of a share: every K-th session (K = the cores this process may
//! use), run on a thread of its own with a current-thread runtime — its own
//! epoll instance and timer wheel — so a session never wakes another thread,
//! migrates between cores, or frees memory another thread's allocator arena
//! owns. Finished records leave for the share's collector in batches: all
//! that were ready at once, in one channel send.
//!
//! Measured before this (one work-stealing runtime for every session, the
//! collector on the main thread): ~2 futex calls per session on the client,
//! one cross-thread wake-up per finished session and allocator-arena lock
//! contention between the workers and the collector.

use std::sync::Arc;

use tokio::sync::oneshot::error::TryRecvError;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use crate::failure::{ErrorType, Failure};
use crate::record::SessionRecord;
use crate::session::{self, ShardTools, ShareSpec};
use crate::stages::Stages;
use crate::users;

/// Sessions started between two turns of the shard's event loop. Launching
/// all of a shard's sessions before its loop turns once made each of them
/// wait behind every later session's connect before its own handshake reply
/// was read: at N=16384 (wait 1 s, this 2-core box) connect p50 0.55 s and
/// total p99 2.3–2.8 s, all of it the client's own queueing. Started four at
/// a time, each session is carried through as far as the server lets it
/// before the next ones start: connect p50 6 ms, total p99 1.16–1.25 s, the
/// same CPU, and the same effective concurrency (the launch is paced by this
/// process's CPU only, never by the server's replies).
const LAUNCH_BURST: usize = 4;

/// Most time a finished record waits before it is sent to the collector.
const FLUSH: std::time::Duration = std::time::Duration::from_millis(20);
/// Records sent at once without waiting for [`FLUSH`].
const BATCH: usize = 512;

/// Batches of finished records.
pub(crate) type Finished = mpsc::UnboundedSender<Vec<SessionRecord>>;

/// A running shard; dropping it aborts its sessions (their sockets close
/// before the drop returns).
pub(crate) struct Shard {
    cancel: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Shard {
    /// Starts sessions `index, index + stride, …` of `spec`. When no thread
    /// can be started, they are recorded as failed, saying why.
    pub fn start(spec: Arc<ShareSpec>, index: u64, stride: u64, out: Finished) -> Shard {
        let (cancel, cancelled) = oneshot::channel();
        let work = Work {
            spec: spec.clone(),
            index,
            stride,
            out: out.clone(),
            cancelled,
        };
        let thread = std::thread::Builder::new()
            .name(format!("envload-sessions-{index}"))
            .spawn(move || work.run_on_own_runtime());
        let thread = match thread {
            Ok(t) => Some(t),
            Err(e) => {
                let why = format!("cannot start a session thread: {e}");
                let _ = out.send(failed_all(&spec, index, stride, &why));
                None
            }
        };
        Shard {
            cancel: Some(cancel),
            thread,
        }
    }
}

impl Drop for Shard {
    fn drop(&mut self) {
        drop(self.cancel.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Work {
    spec: Arc<ShareSpec>,
    index: u64,
    stride: u64,
    out: Finished,
    cancelled: oneshot::Receiver<()>,
}

impl Work {
    fn run_on_own_runtime(self) {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => {
                rt.block_on(self.run());
                // Sessions still running were cancelled: drop them now, and
                // do not wait for a blocking DNS lookup to give up.
                rt.shutdown_background();
            }
            Err(e) => {
                let why = format!("cannot start a session runtime: {e}");
                let _ = self
                    .out
                    .send(failed_all(&self.spec, self.index, self.stride, &why));
            }
        }
    }

    fn ids(&self) -> impl Iterator<Item = u64> {
        ids(&self.spec, self.index, self.stride)
    }

    async fn run(self) {
        match self.spec.stages.clone() {
            Some(plan) => self.run_users(plan).await,
            None => self.run_sessions().await,
        }
    }

    /// A stage plan: the shard's virtual users, each sending its records as
    /// its sessions end; batched as below.
    async fn run_users(mut self, plan: Stages) {
        let tools = Arc::new(ShardTools::new(&self.spec));
        let plan = Arc::new(plan);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut set = JoinSet::new();
        for (k, j) in self.ids().enumerate() {
            let (spec, tools, plan, tx) =
                (self.spec.clone(), tools.clone(), plan.clone(), tx.clone());
            set.spawn(async move { users::run_vu(&spec, &tools, &plan, j, &tx).await });
            if (k + 1) % LAUNCH_BURST == 0 {
                tokio::task::yield_now().await;
                if !matches!(self.cancelled.try_recv(), Err(TryRecvError::Empty)) {
                    return;
                }
            }
        }
        drop(tx);
        let mut pending: Vec<SessionRecord> = Vec::new();
        let mut flush = tokio::time::interval(FLUSH);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = &mut self.cancelled => return,
                rec = rx.recv() => match rec {
                    Some(rec) => {
                        pending.push(rec);
                        while let Ok(more) = rx.try_recv() {
                            pending.push(more);
                        }
                        if pending.len() < BATCH {
                            continue;
                        }
                    }
                    None => break,
                },
                _ = flush.tick() => {
                    if pending.is_empty() {
                        continue;
                    }
                }
            }
            if self.out.send(std::mem::take(&mut pending)).is_err() {
                return;
            }
        }
        drop(set);
        if !pending.is_empty() {
            let _ = self.out.send(pending);
        }
    }

    async fn run_sessions(mut self) {
        let tools = Arc::new(ShardTools::new(&self.spec));
        let mut set = JoinSet::new();
        for (k, i) in self.ids().enumerate() {
            let (spec, tools) = (self.spec.clone(), tools.clone());
            set.spawn(async move { session::run(&spec, &tools, i).await });
            if (k + 1) % LAUNCH_BURST == 0 {
                tokio::task::yield_now().await;
                if !matches!(self.cancelled.try_recv(), Err(TryRecvError::Empty)) {
                    return;
                }
            }
        }
        // Finished records wait here until FLUSH passes or BATCH gather:
        // each send may wake the collector's thread, and sessions paced by
        // the launch finish a few at a time (a send per session cost 1.4
        // futex calls per session). Their times were taken when they ended.
        let mut pending: Vec<SessionRecord> = Vec::new();
        let mut flush = tokio::time::interval(FLUSH);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !set.is_empty() {
            tokio::select! {
                biased;
                _ = &mut self.cancelled => return,
                joined = set.join_next() => {
                    // Sessions catch their own panics and are aborted only
                    // with the shard, so every join yields a record.
                    pending.extend(joined.into_iter().flatten());
                    while let Some(more) = set.try_join_next() {
                        pending.extend(more);
                    }
                    if pending.len() < BATCH && !set.is_empty() {
                        continue;
                    }
                }
                _ = flush.tick() => {
                    if pending.is_empty() {
                        continue;
                    }
                }
            }
            if self.out.send(std::mem::take(&mut pending)).is_err() {
                return;
            }
        }
        if !pending.is_empty() {
            let _ = self.out.send(pending);
        }
    }
}

/// Sessions `index, index + stride, …` of `spec`.
fn ids(spec: &ShareSpec, index: u64, stride: u64) -> impl Iterator<Item = u64> {
    (index..spec.count).step_by(stride.max(1) as usize)
}

/// The records of a shard whose sessions could not run at all.
fn failed_all(spec: &ShareSpec, index: u64, stride: u64, why: &str) -> Vec<SessionRecord> {
    ids(spec, index, stride)
        .map(|i| failed(spec, i, why))
        .collect()
}

/// The record of a session that could not run at all.
fn failed(spec: &ShareSpec, i: u64, why: &str) -> SessionRecord {
    let request_id = spec.first_request_id + i;
    SessionRecord {
        request_id,
        mode: spec.mode,
        timestamp: chrono::Utc::now(),
        wait_requested: spec.wait_seconds,
        batch_size: spec.batch_size,
        hardware: spec.hardware.clone(),
        target_index: (request_id % spec.targets.len() as u64) as usize,
        timings: Default::default(),
        observed: Default::default(),
        failure: Some(Failure::new(ErrorType::ConnectionError, why)),
        ended_after: spec.start.elapsed(),
        rollout: None,
        start_lag: None,
    }
}
