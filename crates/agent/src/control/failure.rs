//! Why a turn failed, as a kind every front end maps once — the API to a status code and a
//! stable error code, the terminal and Telegram to a message — and the message itself (already
//! scrubbed of secrets by the control plane).

use serde::Serialize;

/// What kind of failure a turn had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The model needed is not set up: no local model installed, a provider's key missing. The
    /// message names the command or variable that fixes it.
    ModelUnavailable,
    /// The model (or its provider) failed: unreachable, refused, answered nonsense.
    Model,
    /// The session to continue does not exist.
    UnknownSession,
    /// The session id is not one (bad characters) or matches several sessions.
    BadSession,
    /// The transcript or another file could not be read or written.
    Storage,
    /// The turn could not be set up (the workspace could not be created).
    Setup,
    /// Anything else: the turn stopped unexpectedly, the control plane went away.
    Turn,
}

/// A failed turn.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TurnFailure {
    /// What kind of failure.
    pub kind: FailureKind,
    /// What happened, for the owner.
    pub message: String,
}

impl TurnFailure {
    /// A failure of `kind`.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// The model is not set up; `message` says how to set it up.
    pub fn model_unavailable(message: impl Into<String>) -> Self {
        Self::new(FailureKind::ModelUnavailable, message)
    }

    /// The stable code an API client can branch on.
    pub fn code(&self) -> &'static str {
        match self.kind {
            FailureKind::ModelUnavailable => "model_unavailable",
            FailureKind::Model => "model_failed",
            FailureKind::UnknownSession => "unknown_session",
            FailureKind::BadSession => "bad_session",
            FailureKind::Storage => "storage_failed",
            FailureKind::Setup => "setup_failed",
            FailureKind::Turn => "turn_failed",
        }
    }

    /// The same failure with its message passed through `scrub`.
    pub fn map_message(self, scrub: impl FnOnce(&str) -> String) -> Self {
        Self {
            message: scrub(&self.message),
            kind: self.kind,
        }
    }
}

impl From<String> for TurnFailure {
    fn from(message: String) -> Self {
        Self {
            kind: FailureKind::Turn,
            message,
        }
    }
}

impl From<&str> for TurnFailure {
    fn from(message: &str) -> Self {
        Self::from(message.to_owned())
    }
}
