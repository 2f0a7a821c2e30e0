//! Saved conversations: OpenClaw/Pi-compatible JSONL transcripts, appended one event per line and
//! never rewritten, listed, resumed by id (or id prefix) and exported as markdown. Each user turn
//! knows who wrote it (the owner or someone else), and damaged lines never hide a session.

mod format;
mod repair;
mod store;
mod trust;

pub use format::{
    Entry, EntryBody, FORMAT_VERSION, SessionHeader, TranscriptMessage, TranscriptUsage,
};
pub use repair::torn_path;
pub use store::{
    SessionError, SessionStore, SessionSummary, SessionWriter, Transcript, read_transcript,
};
pub use trust::{ORIGIN_ENTRY, TRUST_ENTRY, TurnTrust, is_untrusted_label, marker as trust_marker};
