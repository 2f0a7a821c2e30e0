//! Which conversation an agent continues, and opening its transcript.

use std::path::Path;

use localgpt_core::chat::ChatMessage;

use crate::runtime::transcript;
use crate::sessions::{SessionError, SessionStore, SessionWriter};

/// Which conversation to continue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionChoice {
    /// A new session.
    New,
    /// A new session that records where its input came from (`heartbeat`, `telegram`, …).
    NewFrom(String),
    /// The session with this id (or unique prefix).
    Resume(String),
    /// The most recent session.
    Latest,
}

impl SessionChoice {
    /// The session's writer and the conversation so far.
    pub fn open(
        &self,
        store: &SessionStore,
        workspace: &Path,
    ) -> Result<(SessionWriter, Vec<ChatMessage>), SessionError> {
        Ok(match self {
            Self::New => (store.create(workspace)?, Vec::new()),
            Self::NewFrom(origin) => {
                let mut writer = store.create(workspace)?;
                writer.append_origin(origin)?;
                (writer, Vec::new())
            }
            Self::Resume(id) => {
                let (writer, saved) = store.resume(id)?;
                (writer, transcript::conversation(&saved))
            }
            Self::Latest => match store.latest()? {
                Some(id) => {
                    let (writer, saved) = store.resume(&id)?;
                    (writer, transcript::conversation(&saved))
                }
                None => (store.create(workspace)?, Vec::new()),
            },
        })
    }
}
