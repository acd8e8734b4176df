//! The per-process session limit (`max_concurrent_envs`), as openenv counts
//! it: WebSocket sessions only, HTTP requests never.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Active WebSocket sessions of this process against its limit.
#[derive(Debug)]
pub struct Capacity {
    active: AtomicUsize,
    max: usize,
}

/// Holds one session slot until dropped.
#[derive(Debug)]
pub struct Slot(Arc<Capacity>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Capacity {
    /// A limit of `max` concurrent sessions.
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Capacity {
            active: AtomicUsize::new(0),
            max,
        })
    }

    /// The limit.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Sessions open now.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }

    /// Takes a slot, or returns the active count when the limit is reached.
    pub fn try_acquire(self: &Arc<Self>) -> Result<Slot, usize> {
        let mut cur = self.active.load(Ordering::Acquire);
        loop {
            if cur >= self.max {
                return Err(cur);
            }
            match self.active.compare_exchange_weak(
                cur,
                cur + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(Slot(self.clone())),
                Err(now) => cur = now,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_limit_and_frees_on_drop() {
        let cap = Capacity::new(2);
        let a = cap.try_acquire().unwrap();
        let _b = cap.try_acquire().unwrap();
        assert_eq!(cap.try_acquire().unwrap_err(), 2);
        drop(a);
        assert!(cap.try_acquire().is_ok());
    }
}
