//! The virtual users of a stage plan (`stages`): each runs sessions back
//! to back while the plan holds it.

use tokio::sync::mpsc;

use crate::record::SessionRecord;
use crate::session::{self, ShardTools, ShareSpec};
use crate::stages::Stages;

/// Virtual user `j` of the share (0-based): sessions back to back while
/// the plan counts it in; each record leaves on `out` as it ends. Session
/// ids: the user's phase-wide number, plus `n` per session it ran before.
pub(crate) async fn run_vu(
    spec: &ShareSpec,
    tools: &ShardTools,
    plan: &Stages,
    j: u64,
    out: &mpsc::UnboundedSender<SessionRecord>,
) {
    let end = plan.total();
    // This user runs while the plan holds ≥ level users: the share's
    // users are the first count/n of every level.
    let level = (j + 1) as f64 * spec.batch_size as f64 / spec.count.max(1) as f64 - 1e-9;
    for iteration in 0u64.. {
        let now = spec.start.elapsed();
        if now >= end {
            return;
        }
        if plan.target_at(now) < level {
            match plan.first_at_least(level, now) {
                Some(at) => {
                    tokio::time::sleep_until((spec.start + at).into()).await;
                    continue;
                }
                None => return,
            }
        }
        let request_id = spec.first_request_id + j + iteration * spec.batch_size;
        spec.count_start();
        let rec = session::run_id(spec, tools, request_id).await;
        if out.send(rec).is_err() {
            return;
        }
    }
}
