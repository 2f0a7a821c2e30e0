//! The plain types every input to LocalGPT travels in. A source (CLI, HTTP API, Telegram,
//! scheduler, heartbeat) states *who* sent something — an identity it authenticated itself — and
//! never how much to trust it: the control plane derives the [`TrustLevel`] from the identity, so
//! text inside a message can never raise its own trust.

use serde::{Deserialize, Serialize};

/// How far an input is trusted; decides the persona and its tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustLevel {
    /// The owner: local CLI/desktop, API with the owner token, Telegram owner ids.
    OwnerCommand,
    /// Scheduled jobs and the heartbeat: only the tools they declare.
    TrustedEvent,
    /// Anyone else: no tools at all; output is stored for the owner.
    UntrustedEvent,
}

/// Which adapter an input came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// `localgpt chat` / `localgpt ask`.
    Cli,
    /// The desktop GUI.
    Desktop,
    /// The HTTP API (and the web UI through it).
    Api,
    /// The Telegram gateway.
    Telegram,
    /// A `[[jobs]]` entry.
    Scheduler,
    /// The heartbeat.
    Heartbeat,
}

/// Who sent an input, as established by the source adapter (a verified token, a Telegram user
/// id, the local process owner) — never parsed from the message text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Sender {
    /// The user running the local process (CLI, desktop).
    LocalUser,
    /// An API request that presented the owner's bearer token.
    OwnerToken,
    /// An API request from a loopback address without a token.
    LoopbackAnonymous,
    /// An API request from elsewhere without a valid token.
    RemoteAnonymous,
    /// A Telegram user.
    TelegramUser {
        /// Telegram's numeric user id.
        id: i64,
    },
    /// Text a Telegram user passed on from someone else — a forward, or a message written
    /// through another bot. Its author is not the user who sent it, so even the owner's forward
    /// is never the owner's command.
    TelegramForward {
        /// Telegram's numeric id of the user who passed it on.
        by: i64,
    },
    /// A scheduled job.
    Job {
        /// The job's name.
        name: String,
    },
    /// The heartbeat.
    Heartbeat,
}

/// What the sender asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// The message text.
    pub text: String,
    /// Continue this session (otherwise a new one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Use this model for the turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// What to do with it: answer the text (the default), or compact the session.
    #[serde(default, skip_serializing_if = "Request::is_message")]
    pub request: Request,
}

/// What an input asks of its session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    /// A message to answer.
    #[default]
    Message,
    /// Summarise the session's older turns now (the REPL's `/compact`); the text is ignored.
    Compact,
}

impl Request {
    /// Whether this is an ordinary message.
    pub fn is_message(&self) -> bool {
        matches!(self, Self::Message)
    }
}

/// An input as the control plane sees it: identified, timestamped and given its trust.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngressMessage {
    /// Unguessable id of this input.
    pub id: String,
    /// The adapter it came through.
    pub source: Source,
    /// Who sent it.
    pub sender: Sender,
    /// The trust the control plane gave it.
    pub trust: TrustLevel,
    /// What is asked.
    pub payload: Payload,
    /// Where the answer goes (an adapter-specific address, e.g. a Telegram chat id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// When it arrived (RFC 3339).
    pub received_at: String,
}

/// Which tools a persona may call. Enforced where tools are dispatched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolScope {
    /// Every tool (approval rules still apply).
    All,
    /// Only these tools.
    Only(Vec<String>),
    /// No tools.
    None,
}

impl ToolScope {
    /// Whether the tool called `name` may run under this scope.
    pub fn allows(&self, name: &str) -> bool {
        match self {
            Self::All => true,
            Self::Only(names) => names.iter().any(|allowed| allowed == name),
            Self::None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_scopes_allow_only_what_they_list() {
        assert!(ToolScope::All.allows("bash"));
        let scoped = ToolScope::Only(vec!["memory_search".into()]);
        assert!(scoped.allows("memory_search"));
        assert!(!scoped.allows("bash"));
        assert!(!ToolScope::None.allows("memory_search"));
    }

    #[test]
    fn messages_serialize_as_plain_json() {
        let message = IngressMessage {
            id: "m1".into(),
            source: Source::Telegram,
            sender: Sender::TelegramUser { id: 42 },
            trust: TrustLevel::UntrustedEvent,
            payload: Payload {
                text: "hi".into(),
                session_id: None,
                model: None,
                ..Default::default()
            },
            reply_to: Some("chat:42".into()),
            received_at: "2026-11-24T10:00:00Z".into(),
        };
        let json = serde_json::to_value(&message).unwrap();
        assert_eq!(
            json["sender"],
            serde_json::json!({"kind": "telegram_user", "id": 42})
        );
        assert_eq!(json["trust"], "untrusted_event");
        assert_eq!(
            serde_json::from_value::<IngressMessage>(json).unwrap(),
            message
        );
    }
}
