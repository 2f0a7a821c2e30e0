//! The clients of the Streamable HTTP transport, by `Mcp-Session-Id`: each keeps the
//! [`Connection`] its `initialize` set up (its name, for provenance). The map is capped; the
//! oldest session is forgotten first.

use std::collections::VecDeque;
use std::sync::Mutex;

use crate::server::Connection;

/// Most HTTP sessions remembered at once.
const MAX_SESSIONS: usize = 64;

/// Open Streamable HTTP sessions, oldest first.
#[derive(Debug, Default)]
pub struct HttpSessions {
    open: Mutex<VecDeque<(String, Connection)>>,
}

impl HttpSessions {
    /// Remembers `connection` under `id`, forgetting the oldest session when full.
    pub fn open(&self, id: String, connection: Connection) {
        let Ok(mut open) = self.open.lock() else {
            return;
        };
        open.retain(|(known, _)| *known != id);
        while open.len() >= MAX_SESSIONS {
            open.pop_front();
        }
        open.push_back((id, connection));
    }

    /// The connection of session `id`, when it is open.
    pub fn get(&self, id: &str) -> Option<Connection> {
        let open = self.open.lock().ok()?;
        open.iter()
            .find(|(known, _)| known == id)
            .map(|(_, connection)| connection.clone())
    }

    /// Stores the connection of an open session again (after a request changed it).
    pub fn update(&self, id: &str, connection: Connection) {
        if let Ok(mut open) = self.open.lock()
            && let Some(slot) = open.iter_mut().find(|(known, _)| known == id)
        {
            slot.1 = connection;
        }
    }

    /// Ends session `id`; whether it was open.
    pub fn close(&self, id: &str) -> bool {
        let Ok(mut open) = self.open.lock() else {
            return false;
        };
        let before = open.len();
        open.retain(|(known, _)| known != id);
        open.len() != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_capped_and_closed() {
        let sessions = HttpSessions::default();
        for n in 0..(MAX_SESSIONS + 3) {
            sessions.open(format!("s{n}"), Connection::default());
        }
        assert!(sessions.get("s0").is_none(), "the oldest was forgotten");
        assert!(sessions.get(&format!("s{}", MAX_SESSIONS + 2)).is_some());
        assert!(sessions.close("s10"));
        assert!(!sessions.close("s10"));
        assert!(sessions.get("s10").is_none());
    }
}
