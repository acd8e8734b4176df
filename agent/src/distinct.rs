//! Distinct non-empty `pid`, `session_hash` and `host_url` over the
//! successful sessions of a phase: the one rule behind summary.csv's
//! `unique_*` columns, applied where sessions end (an agent's share) and
//! where a phase's records meet (the coordinator).

use std::collections::HashSet;

use crate::record::SessionRecord;

/// What successful sessions have shown so far.
#[derive(Debug, Clone, Default)]
pub struct Distinct {
    /// Server process ids.
    pub pids: HashSet<i64>,
    /// Hosts (`host_url`).
    pub hosts: HashSet<String>,
    /// Server sessions (`session_hash`).
    pub hashes: HashSet<String>,
}

impl Distinct {
    /// Counts `rec` if it succeeded, each value only when the server sent one.
    pub fn add(&mut self, rec: &SessionRecord) {
        if !rec.success() {
            return;
        }
        let seen = &rec.observed;
        if seen.pid != 0 {
            self.pids.insert(seen.pid);
        }
        if !seen.host_url.is_empty() && !self.hosts.contains(&seen.host_url) {
            self.hosts.insert(seen.host_url.clone());
        }
        if !seen.session_hash.is_empty() && !self.hashes.contains(&seen.session_hash) {
            self.hashes.insert(seen.session_hash.clone());
        }
    }

    /// Over `records`.
    pub fn of(records: &[SessionRecord]) -> Self {
        let mut d = Distinct::default();
        for r in records {
            d.add(r);
        }
        d
    }
}
