//! GRPO groups (`--group G`): a trainer with `num_generations = G` sends
//! G sessions of one prompt at once and steps them in lockstep. Sessions
//! with phase-wide ids `g·G … g·G+G−1` form group `g`: they start together
//! (one arrival per group), draw one step count per episode (the group's),
//! and before each step every member waits for the others to finish
//! thinking — the group's slowest think. A member that ends its episode
//! early (done, a failure) or its session is counted absent for the steps
//! it will not take, so the others never wait for it.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::Notify;

use crate::workload::Workload;

/// The groups of one share.
pub struct Groups {
    size: u64,
    first_group: u64,
    barriers: Vec<Barrier>,
}

impl Groups {
    /// The groups of `size` that sessions `first..first + count` belong to
    /// (`None` without groups); each counts the members this share runs.
    pub fn new(size: u64, first: u64, count: u64) -> Option<Groups> {
        if size <= 1 || count == 0 {
            return None;
        }
        let end = first + count;
        let (first_group, last_group) = (first / size, (end - 1) / size);
        let barriers = (first_group..=last_group)
            .map(|g| {
                let lo = (g * size).max(first);
                let hi = ((g + 1) * size).min(end);
                Barrier::new(hi - lo)
            })
            .collect();
        Some(Groups {
            size,
            first_group,
            barriers,
        })
    }

    /// Session `request_id`'s place in its group, for `workload`.
    pub fn member<'a>(&'a self, request_id: u64, workload: &'a Workload) -> Member<'a> {
        let group = request_id / self.size;
        let index = usize::try_from(group - self.first_group).expect("a group of this share");
        Member {
            barrier: &self.barriers[index],
            steps: (0..workload.episodes)
                .map(|e| workload.group_steps(group, e))
                .collect(),
            at: (0, 0),
        }
    }
}

/// One group's meeting points: (episode, step) → members arrived, members
/// absent.
struct Barrier {
    roster: u64,
    state: Mutex<HashMap<(u32, u32), (u64, u64)>>,
    moved: Notify,
}

impl Barrier {
    fn new(roster: u64) -> Self {
        Barrier {
            roster,
            state: Mutex::new(HashMap::new()),
            moved: Notify::new(),
        }
    }

    fn complete(&self, at: (u32, u32)) -> bool {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state
            .get(&at)
            .is_some_and(|(arrived, absent)| arrived + absent >= self.roster)
    }

    fn count(&self, at: (u32, u32), arrived: u64, absent: u64) {
        {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let e = state.entry(at).or_default();
            e.0 += arrived;
            e.1 += absent;
        }
        self.moved.notify_waiters();
    }

    async fn wait(&self, at: (u32, u32)) {
        loop {
            let moved = self.moved.notified();
            tokio::pin!(moved);
            moved.as_mut().enable();
            if self.complete(at) {
                return;
            }
            moved.await;
        }
    }
}

/// One session of a group: where it stands, and what it has yet to attend
/// (counted absent when it is dropped).
pub struct Member<'a> {
    barrier: &'a Barrier,
    /// The group's step count of each episode.
    steps: Vec<u32>,
    /// The next (episode, step) it has not attended.
    at: (u32, u32),
}

impl Member<'_> {
    /// The group's step count of `episode`.
    pub fn steps(&self, episode: u32) -> u32 {
        self.steps.get(episode as usize).copied().unwrap_or(0)
    }

    /// Arrives before step `step` of `episode` and waits for the group.
    pub async fn arrive(&mut self, episode: u32, step: u32) {
        self.skip_to((episode, step));
        self.barrier.count((episode, step), 1, 0);
        self.at = (episode, step + 1);
        self.barrier.wait((episode, step)).await;
    }

    /// Counts it absent for every meeting before `to`.
    fn skip_to(&mut self, to: (u32, u32)) {
        while self.at < to && (self.at.0 as usize) < self.steps.len() {
            let (e, s) = self.at;
            if s >= self.steps(e) {
                self.at = (e + 1, 0);
                continue;
            }
            self.barrier.count((e, s), 0, 1);
            self.at = (e, s + 1);
        }
    }

    /// Its episode `episode` ended (done, failed, or all steps taken): the
    /// steps it did not take are counted absent.
    pub fn end_episode(&mut self, episode: u32) {
        self.skip_to((episode + 1, 0));
    }
}

impl Drop for Member<'_> {
    fn drop(&mut self) {
        self.skip_to((self.steps.len() as u32, 0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Span;
    use std::time::Duration;

    fn workload(g: u64) -> Workload {
        Workload {
            steps: Span { min: 2, max: 2 },
            episodes: 2,
            group: g,
            ..Workload::default()
        }
    }

    #[tokio::test]
    async fn members_wait_for_the_slowest_and_an_absent_one_holds_nobody() {
        let w = workload(3);
        let groups = Groups::new(3, 0, 3).unwrap();
        let (mut a, mut b) = (groups.member(0, &w), groups.member(1, &w));
        let c = groups.member(2, &w);
        // c leaves at once: a and b meet without it.
        drop(c);
        let t0 = tokio::time::Instant::now();
        let slow = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            b.arrive(0, 0).await;
        };
        tokio::join!(a.arrive(0, 0), slow);
        assert!(t0.elapsed() >= Duration::from_millis(50), "a waited for b");
        // b ends episode 0 early: a's step 1 does not wait for it.
        b.end_episode(0);
        tokio::time::timeout(Duration::from_secs(1), a.arrive(0, 1))
            .await
            .expect("not held by b");
    }

    #[test]
    fn a_share_counts_only_its_own_members() {
        let g = Groups::new(4, 6, 6).unwrap();
        let roster: Vec<u64> = g.barriers.iter().map(|b| b.roster).collect();
        assert_eq!(roster, [2, 4], "ids 6-7 of group 1, 8-11 of group 2");
        assert!(Groups::new(1, 0, 10).is_none());
    }
}
