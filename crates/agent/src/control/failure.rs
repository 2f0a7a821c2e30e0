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
    /// Anything else: the model failed, the transcript could not be written, the turn stopped.
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
    /// The model is not set up; `message` says how to set it up.
    pub fn model_unavailable(message: impl Into<String>) -> Self {
        Self {
            kind: FailureKind::ModelUnavailable,
            message: message.into(),
        }
    }

    /// The stable code an API client can branch on.
    pub fn code(&self) -> &'static str {
        match self.kind {
            FailureKind::ModelUnavailable => "model_unavailable",
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
