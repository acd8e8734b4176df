//! HTTP MCP sessions (`POST /mcp` with `openenv/session/create` and
//! `openenv/session/close`, as openenv 0.10's production MCP client uses
//! them): each holds one slot of the process's session limit, shared with
//! WebSocket sessions, until it is closed. A session never closed keeps its
//! slot (openenv sets no idle timeout by default), which is what a load
//! test of leaked sessions must see.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::capacity::{Capacity, Slot};
use crate::env::random_uuid;

/// The open HTTP MCP sessions of one process.
#[derive(Debug, Default)]
pub struct McpSessions {
    open: Mutex<HashMap<String, Slot>>,
}

impl McpSessions {
    /// Opens a session in `capacity`; its id, or the active count when the
    /// limit is reached.
    pub fn create(&self, capacity: &Arc<Capacity>) -> Result<String, usize> {
        let slot = capacity.try_acquire()?;
        let id = random_uuid();
        self.lock().insert(id.clone(), slot);
        Ok(id)
    }

    /// Closes session `id`; whether it was open.
    pub fn close(&self, id: &str) -> bool {
        self.lock().remove(id).is_some()
    }

    /// Whether session `id` is open.
    pub fn is_open(&self, id: &str) -> bool {
        self.lock().contains_key(id)
    }

    /// Sessions open now.
    pub fn count(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_holds_its_slot_until_closed() {
        let cap = Capacity::new(1);
        let sessions = McpSessions::default();
        let id = sessions.create(&cap).unwrap();
        assert_eq!(sessions.create(&cap), Err(1));
        assert!(sessions.is_open(&id));
        assert!(sessions.close(&id));
        assert!(!sessions.close(&id));
        assert_eq!(cap.active(), 0);
        assert!(sessions.create(&cap).is_ok());
    }
}
