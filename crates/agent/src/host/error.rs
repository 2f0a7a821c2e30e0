//! Why the host could not set up an agent, typed so that each front end maps it once (the
//! control plane to a [`crate::control::FailureKind`], the API to a status code).

use std::path::PathBuf;

use crate::sessions::SessionError;

/// A failure to set up an agent.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The workspace folder could not be created or resolved.
    #[error("the workspace {path}: {source}")]
    Workspace {
        /// The workspace folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The session to continue could not be found, read or started.
    #[error(transparent)]
    Session(#[from] SessionError),
}
