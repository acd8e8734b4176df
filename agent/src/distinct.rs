//! Distinct non-empty `pid`, `session_hash` and `host_url` over the
//! successful sessions of a phase: the one rule behind summary.csv's
//! `unique_*` columns, applied where sessions end (an agent's share) and
//! where a phase's records meet (the coordinator). Session hashes are
//! kept as 64-bit digests of the server's string: a soak's every session
//! is one, and a digest takes 19 bytes of a set where the string took 84
//! (4,000,000 twelve-hex-digit hashes, by hand); two of 10⁸ sessions
//! collide with odds of about 3·10⁻⁴.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};

use crate::record::SessionRecord;

/// What successful sessions have shown so far.
#[derive(Debug, Clone, Default)]
pub struct Distinct {
    /// Server process ids.
    pub pids: HashSet<i64>,
    /// Hosts (`host_url`).
    pub hosts: HashSet<String>,
    /// Server sessions (`session_hash`), as digests.
    pub hashes: HashSet<u64>,
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
        if !seen.session_hash.is_empty() {
            self.hashes.insert(digest(&seen.session_hash));
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

/// A fixed 64-bit digest (SipHash with zero keys: the same in every
/// process, which the counts do not need but tests may).
fn digest(text: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::rec;

    #[test]
    fn a_session_hash_a_server_reuses_counts_once() {
        let mut d = Distinct::default();
        for (hash, pid, ok) in [
            ("a1", 7, true),
            ("b2", 7, true),
            ("a1", 8, true),
            ("c3", 9, false),
            ("", 0, true),
        ] {
            let mut r = rec(1, ok);
            r.observed.session_hash = hash.into();
            r.observed.pid = pid;
            d.add(&r);
        }
        assert_eq!(
            (d.hashes.len(), d.pids.len()),
            (2, 2),
            "failed and empty ones do not count"
        );
    }
}
