//! What the gateway remembers across restarts, in `state/telegram.json`: the next update to ask
//! for (so no message is handled twice) and the session each owner chat continues. Written
//! atomically; an unreadable file starts fresh.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Saved {
    offset: i64,
    sessions: BTreeMap<i64, String>,
}

/// The gateway's saved state.
#[derive(Debug)]
pub struct ChatState {
    path: PathBuf,
    saved: Mutex<Saved>,
}

impl ChatState {
    /// The state in `path` (created on the first change).
    pub fn open(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let saved = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        Self {
            path,
            saved: Mutex::new(saved),
        }
    }

    /// The next update id to ask for.
    pub fn offset(&self) -> i64 {
        self.lock().offset
    }

    /// Notes that updates before `offset` are handled.
    pub fn set_offset(&self, offset: i64) {
        self.change(|saved| {
            let changed = saved.offset != offset;
            saved.offset = offset;
            changed
        });
    }

    /// The session an owner chat continues.
    pub fn session(&self, chat: i64) -> Option<String> {
        self.lock().sessions.get(&chat).cloned()
    }

    /// Makes `chat` continue `session`.
    pub fn remember_session(&self, chat: i64, session: &str) {
        self.change(|saved| {
            saved.sessions.insert(chat, session.to_owned()).as_deref() != Some(session)
        });
    }

    /// Starts `chat` afresh.
    pub fn forget_session(&self, chat: i64) {
        self.change(|saved| saved.sessions.remove(&chat).is_some());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Saved> {
        self.saved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn change(&self, edit: impl FnOnce(&mut Saved) -> bool) {
        let mut saved = self.lock();
        if !edit(&mut saved) {
            return;
        }
        let written = serde_json::to_vec_pretty(&*saved)
            .map_err(std::io::Error::other)
            .and_then(|bytes| localgpt_core::fs::write_atomic(&self.path, &bytes));
        if let Err(error) = written {
            tracing::warn!("could not save {}: {error}", self.path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_and_sessions_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("telegram.json");
        let state = ChatState::open(&path);
        assert_eq!(state.offset(), 0);
        state.set_offset(17);
        state.remember_session(42, "abc");
        let reopened = ChatState::open(&path);
        assert_eq!(reopened.offset(), 17);
        assert_eq!(reopened.session(42).as_deref(), Some("abc"));
        reopened.forget_session(42);
        assert_eq!(ChatState::open(&path).session(42), None);
        std::fs::write(&path, "not json").unwrap();
        assert_eq!(ChatState::open(&path).offset(), 0);
    }
}
