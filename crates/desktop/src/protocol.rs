//! What the window asks of the network thread ([`Request`]) and what comes back ([`Reply`]).
//! Replies carry the daemon's JSON as it was sent; the views pick the fields they show.

use serde_json::Value;

/// A request from the window to the daemon.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// `GET /api/status`, `/api/approvals`, `/api/events` and `/api/artifacts`.
    Status,
    /// `GET /api/sessions`.
    Sessions,
    /// `GET /api/sessions/{id}`.
    OpenSession(String),
    /// `POST /api/chat` as a stream.
    Chat {
        /// The message.
        message: String,
        /// The conversation to continue; a new one when `None`.
        session_id: Option<String>,
    },
    /// Closes the chat stream in flight, which stops the turn in the daemon.
    Stop,
    /// `POST /api/approvals/{id}`.
    Answer {
        /// The approval request's id.
        id: String,
        /// Approve (`true`) or deny.
        approve: bool,
    },
    /// `PATCH /api/sessions/{id}`.
    Rename {
        /// The session.
        id: String,
        /// Its new title.
        title: String,
    },
    /// `DELETE /api/sessions/{id}`.
    Delete(String),
    /// `GET /api/sessions/{id}/export`.
    Export(String),
    /// `GET /api/memory/search`.
    Search {
        /// The query.
        query: String,
        /// `hybrid`, `keyword` or `vector`.
        mode: String,
    },
    /// `GET /api/memory/file?path=`.
    OpenFile(String),
    /// `POST /api/memory/reindex` as a stream.
    Reindex,
}

/// One event of a chat stream, as the daemon named it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatEvent {
    /// `session`, `delta`, `tool_start`, `tool_end`, `approval`, `notice`, `recall`, `done`, `error`.
    pub name: String,
    /// Its JSON data.
    pub data: Value,
}

/// What the network thread reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// The status and the approvals waiting.
    Status {
        /// `GET /api/status`.
        status: Value,
        /// `GET /api/approvals`.
        approvals: Value,
        /// `GET /api/events?limit=10`: heartbeat and job reports.
        reports: Value,
        /// `GET /api/artifacts?limit=10`: what untrusted inputs produced.
        artifacts: Value,
    },
    /// The conversation list.
    Sessions(Value),
    /// One conversation's messages.
    Session(Value),
    /// An event of the chat in flight.
    Chat(ChatEvent),
    /// The chat stream ended (after `done` or `error`, or when it broke or was stopped).
    ChatEnded {
        /// Whether it was stopped from this window.
        stopped: bool,
        /// Why it broke, when it did before `done`/`error`.
        broken: Option<String>,
    },
    /// An approval was answered.
    Answered {
        /// The request's id.
        id: String,
        /// What was answered.
        approve: bool,
    },
    /// A conversation was renamed or deleted (the list is reloaded after it).
    Changed,
    /// A conversation as markdown, to save.
    Exported {
        /// The session.
        id: String,
        /// The markdown.
        markdown: String,
    },
    /// Search results.
    Hits(Value),
    /// An indexed file's text (`{path, text}`).
    File(Value),
    /// Reindex progress `{phase, done, total}`.
    Progress(Value),
    /// Reindex finished (the report) or failed (`{message}`).
    Reindexed(Result<Value, String>),
    /// A request failed: which one, and why.
    Failed {
        /// What was asked.
        what: &'static str,
        /// The daemon's message, or the connection error.
        message: String,
    },
}
