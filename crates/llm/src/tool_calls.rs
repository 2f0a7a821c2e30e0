//! Assembles tool calls whose JSON arguments arrive as fragments spread over many stream chunks.
//!
//! Providers key the fragments by their own index (Anthropic's content-block index, OpenAI's
//! `tool_calls[].index`); the assembler numbers calls from 0 in the order they start, emits
//! `ToolCallStart`/`ToolCallArgsDelta` as fragments arrive and `ToolCallEnd` with the parsed
//! arguments when a call is complete. Bad JSON becomes an error string in the call, never a panic.

use localgpt_core::chat::{ChatEvent, ToolCall};

#[derive(Debug)]
struct Pending {
    provider_index: u64,
    index: usize,
    id: String,
    name: String,
    arguments: String,
}

/// Tool calls being streamed in one reply.
#[derive(Debug, Default)]
pub struct ToolCallAssembler {
    open: Vec<Pending>,
    started: usize,
}

impl ToolCallAssembler {
    /// Number of calls started so far in this reply.
    pub fn count(&self) -> usize {
        self.started
    }

    /// Whether a call with this provider index is open.
    pub fn is_open(&self, provider_index: u64) -> bool {
        self.open.iter().any(|p| p.provider_index == provider_index)
    }

    /// A call begins.
    pub fn start(&mut self, provider_index: u64, id: String, name: String) -> ChatEvent {
        let index = self.started;
        self.started += 1;
        self.open.push(Pending {
            provider_index,
            index,
            id: id.clone(),
            name: name.clone(),
            arguments: String::new(),
        });
        ChatEvent::ToolCallStart { index, id, name }
    }

    /// More argument text for an open call; `None` if no such call is open or the fragment is
    /// empty.
    pub fn delta(&mut self, provider_index: u64, fragment: &str) -> Option<ChatEvent> {
        let pending = self
            .open
            .iter_mut()
            .find(|p| p.provider_index == provider_index)?;
        if fragment.is_empty() {
            return None;
        }
        pending.arguments.push_str(fragment);
        Some(ChatEvent::ToolCallArgsDelta {
            index: pending.index,
            fragment: fragment.to_owned(),
        })
    }

    /// Completes one call, parsing its arguments.
    pub fn end(&mut self, provider_index: u64) -> Option<ChatEvent> {
        let position = self
            .open
            .iter()
            .position(|p| p.provider_index == provider_index)?;
        Some(finish(self.open.remove(position)))
    }

    /// Completes every open call, in the order they started.
    pub fn end_all(&mut self) -> Vec<ChatEvent> {
        self.open.drain(..).map(finish).collect()
    }
}

fn finish(pending: Pending) -> ChatEvent {
    ChatEvent::ToolCallEnd {
        index: pending.index,
        call: ToolCall {
            arguments: parse_arguments(&pending.arguments),
            id: pending.id,
            name: pending.name,
            raw_arguments: pending.arguments,
        },
    }
}

/// Parses complete tool arguments; empty text means no arguments (`{}`).
pub fn parse_arguments(raw: &str) -> Result<serde_json::Value, String> {
    if raw.trim().is_empty() {
        return Ok(serde_json::Value::Object(serde_json::Map::new()));
    }
    serde_json::from_str(raw).map_err(|error| format!("invalid JSON arguments: {error}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn fragments_are_joined_and_parsed_at_the_end() {
        let mut calls = ToolCallAssembler::default();
        calls.start(3, "toolu_1".into(), "memory_search".into());
        calls.delta(3, "{\"que").unwrap();
        calls.delta(3, "ry\": \"x\"}").unwrap();
        let Some(ChatEvent::ToolCallEnd { index, call }) = calls.end(3) else {
            panic!("no end")
        };
        assert_eq!(index, 0);
        assert_eq!(call.arguments.unwrap()["query"], "x");
    }

    #[test]
    fn malformed_arguments_are_an_error_string() {
        let mut calls = ToolCallAssembler::default();
        calls.start(0, "a".into(), "t".into());
        calls.delta(0, "{\"query\": ");
        let ended = calls.end_all();
        let ChatEvent::ToolCallEnd { call, .. } = &ended[0] else {
            panic!("no end")
        };
        assert!(
            call.arguments
                .as_ref()
                .unwrap_err()
                .contains("invalid JSON")
        );
        assert_eq!(call.raw_arguments, "{\"query\": ");
    }

    #[test]
    fn no_arguments_means_an_empty_object() {
        assert_eq!(parse_arguments("").unwrap(), serde_json::json!({}));
    }
}
