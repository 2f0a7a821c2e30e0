//! The on-disk transcript format: OpenClaw/Pi session JSONL, version 3. Line one is a `session`
//! header; every other line is an entry with an `id` and the `parentId` of the entry before it,
//! so entries form a tree whose active branch runs from the last entry back to the root.
//! Entry types we do not write are kept as raw JSON, so OpenClaw transcripts read without loss.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Transcript format version written and understood.
pub const FORMAT_VERSION: u32 = 3;

/// The first line of a transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionHeader {
    /// Always `"session"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Format version (3).
    #[serde(default)]
    pub version: u32,
    /// Session id (a UUID; also the file name).
    pub id: String,
    /// When the session started (ISO 8601).
    pub timestamp: String,
    /// Working directory of the session (the workspace).
    #[serde(default)]
    pub cwd: String,
    /// The session this one was forked from, if any.
    #[serde(
        rename = "parentSession",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub parent_session: Option<String>,
}

/// One line after the header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Short random id (8 hex characters).
    pub id: String,
    /// The entry before this one on its branch.
    #[serde(rename = "parentId")]
    pub parent_id: Option<String>,
    /// When it was written (ISO 8601).
    pub timestamp: String,
    /// What the entry records.
    #[serde(flatten)]
    pub body: EntryBody,
}

/// The kinds of entry LocalGPT writes, plus anything else kept verbatim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EntryBody {
    /// A conversation message.
    Message {
        /// The message in Pi's shape (`role`, `content`, …).
        message: TranscriptMessage,
    },
    /// The model changed.
    ModelChange {
        /// Provider name.
        provider: String,
        /// Model id.
        #[serde(rename = "modelId")]
        model_id: String,
    },
    /// Older turns were summarised; context is the summary plus entries from `first_kept_entry_id`.
    Compaction {
        /// The summary of everything before the kept entries.
        summary: String,
        /// First entry kept verbatim.
        #[serde(rename = "firstKeptEntryId")]
        first_kept_entry_id: String,
        /// Estimated tokens before compaction.
        #[serde(rename = "tokensBefore", default)]
        tokens_before: u64,
    },
    /// The session's display name.
    SessionInfo {
        /// The name.
        name: String,
    },
    /// An entry of a type LocalGPT does not interpret, kept as written.
    #[serde(untagged)]
    Other(serde_json::Map<String, Value>),
}

/// A message in Pi's transcript shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "camelCase")]
pub enum TranscriptMessage {
    /// What the user said.
    User {
        /// A string or a list of content parts.
        content: Value,
        /// Milliseconds since the epoch.
        #[serde(default)]
        timestamp: i64,
    },
    /// What the model answered: text and tool calls.
    Assistant {
        /// Content parts: `{type:"text",text}` and `{type:"toolCall",id,name,arguments}`.
        content: Vec<Value>,
        /// Provider name, e.g. `anthropic`.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        provider: String,
        /// Model id.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        model: String,
        /// Token usage of this response.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<TranscriptUsage>,
        /// `stop`, `length`, `toolUse`, `error` or `aborted`.
        #[serde(
            rename = "stopReason",
            default,
            skip_serializing_if = "String::is_empty"
        )]
        stop_reason: String,
        /// Why the response failed, when it did.
        #[serde(
            rename = "errorMessage",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        error_message: Option<String>,
        /// Milliseconds since the epoch.
        #[serde(default)]
        timestamp: i64,
    },
    /// A tool's result.
    ToolResult {
        /// The tool call this answers.
        #[serde(rename = "toolCallId")]
        tool_call_id: String,
        /// The tool's name.
        #[serde(rename = "toolName", default)]
        tool_name: String,
        /// Content parts (`{type:"text",text}`).
        content: Vec<Value>,
        /// Whether the tool failed.
        #[serde(rename = "isError", default)]
        is_error: bool,
        /// Milliseconds since the epoch.
        #[serde(default)]
        timestamp: i64,
    },
    /// Roles LocalGPT does not produce (`custom`, `bashExecution`, summaries…), kept as written.
    #[serde(untagged)]
    Other(serde_json::Map<String, Value>),
}

/// Token usage in Pi's shape.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptUsage {
    /// Prompt tokens.
    #[serde(default)]
    pub input: u64,
    /// Completion tokens.
    #[serde(default)]
    pub output: u64,
    /// Tokens read from a prompt cache.
    #[serde(default)]
    pub cache_read: u64,
    /// Tokens written to a prompt cache.
    #[serde(default)]
    pub cache_write: u64,
    /// All of the above.
    #[serde(default)]
    pub total_tokens: u64,
}

impl TranscriptMessage {
    /// The plain text of a message (text parts joined), for titles, exports and search.
    pub fn text(&self) -> String {
        fn parts_text(parts: &[Value]) -> String {
            parts
                .iter()
                .filter(|part| part.get("type").and_then(Value::as_str) == Some("text"))
                .filter_map(|part| part.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n")
        }
        match self {
            Self::User {
                content: Value::String(text),
                ..
            } => text.clone(),
            Self::User {
                content: Value::Array(parts),
                ..
            } => parts_text(parts),
            Self::Assistant { content, .. } | Self::ToolResult { content, .. } => {
                parts_text(content)
            }
            Self::User { .. } | Self::Other(_) => String::new(),
        }
    }

    /// The role as written in the file.
    pub fn role(&self) -> &str {
        match self {
            Self::User { .. } => "user",
            Self::Assistant { .. } => "assistant",
            Self::ToolResult { .. } => "toolResult",
            Self::Other(fields) => fields
                .get("role")
                .and_then(Value::as_str)
                .unwrap_or("other"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openclaw_lines_round_trip_including_unknown_types() {
        let lines = [
            r#"{"type":"message","id":"a1b2c3d4","parentId":null,"timestamp":"2026-01-18T00:19:00.000Z","message":{"role":"user","content":"hello","timestamp":1768695540000}}"#,
            r#"{"type":"message","id":"b2c3d4e5","parentId":"a1b2c3d4","timestamp":"2026-01-18T00:19:02.000Z","message":{"role":"assistant","content":[{"type":"text","text":"Hi"},{"type":"toolCall","id":"call_1","name":"memory_search","arguments":{"query":"x"}}],"api":"anthropic-messages","provider":"anthropic","model":"claude-sonnet-4-5","usage":{"input":10,"output":5,"cacheRead":0,"cacheWrite":0,"totalTokens":15,"cost":{"total":0.001}},"stopReason":"toolUse","timestamp":1768695542000}}"#,
            r#"{"type":"custom","id":"c3d4e5f6","parentId":"b2c3d4e5","timestamp":"2026-01-18T00:19:03.000Z","customType":"openclaw.cache-ttl","data":{"ttl":300}}"#,
            r#"{"type":"message","id":"d4e5f6a7","parentId":"c3d4e5f6","timestamp":"2026-01-18T00:19:04.000Z","message":{"role":"bashExecution","command":"ls","output":"a"}}"#,
        ];
        for line in lines {
            let entry: Entry = serde_json::from_str(line).unwrap();
            let back: Value = serde_json::to_value(&entry).unwrap();
            let original: Value = serde_json::from_str(line).unwrap();
            for key in ["type", "id", "parentId", "timestamp"] {
                assert_eq!(back[key], original[key], "{key} in {line}");
            }
            if let EntryBody::Message { message } = &entry.body {
                assert!(!message.role().is_empty());
            }
        }
        let assistant: Entry = serde_json::from_str(lines[1]).unwrap();
        let EntryBody::Message { message } = assistant.body else {
            panic!("message expected")
        };
        assert_eq!(message.text(), "Hi");
        let EntryBody::Other(custom) = serde_json::from_str::<Entry>(lines[2]).unwrap().body else {
            panic!("custom kept")
        };
        assert_eq!(custom["customType"], "openclaw.cache-ttl");
    }
}
