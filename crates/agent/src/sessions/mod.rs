//! Saved conversations: OpenClaw/Pi-compatible JSONL transcripts, appended one event per line and
//! never rewritten, listed, resumed by id (or id prefix) and exported as markdown.

mod format;
mod store;

pub use format::{
    Entry, EntryBody, FORMAT_VERSION, SessionHeader, TranscriptMessage, TranscriptUsage,
};
pub use store::{
    ORIGIN_ENTRY, SessionError, SessionStore, SessionSummary, SessionWriter, Transcript,
    read_transcript,
};
