//! What a conversation shows, as data: the items built from a saved transcript (Pi messages) or
//! from the events of a streaming turn. Kept apart from drawing so it can be tested alone.

use serde_json::Value;

use super::{shown_arguments, text_of};

/// Where an approval request stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApprovalState {
    /// Waiting for Approve or Deny.
    Waiting,
    /// The answer was sent; waiting for the daemon to confirm it.
    Sending(bool),
    /// The daemon took the answer.
    Answered(bool),
    /// The answer could not be given (the request expired, the daemon was gone).
    Failed(String),
}

/// One thing in the conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// The user's message.
    User(String),
    /// The assistant's text (markdown), growing while it streams.
    Assistant(String),
    /// A tool call, with its result once it finished.
    Tool {
        /// The tool's name.
        name: String,
        /// Its arguments, made safe to show.
        arguments: String,
        /// The result preview and whether it was an error.
        result: Option<(String, bool)>,
    },
    /// A tool call waiting for the owner's consent.
    Approval {
        /// The request's id.
        id: String,
        /// The tool.
        tool: String,
        /// Its arguments, made safe to show.
        arguments: String,
        /// Where it stands.
        state: ApprovalState,
    },
    /// A note from the daemon (stopped, recalled notes, token use).
    Notice(String),
    /// A failed turn, with the message to send again when it may be retried.
    Error {
        /// What went wrong.
        message: String,
        /// The message for Retry; `None` when retrying cannot help.
        retry: Option<String>,
    },
}

/// The items of one conversation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Transcript {
    /// In order.
    pub items: Vec<Item>,
}

/// Untrusted text made safe to show: control characters and bidirectional overrides become
/// visible escapes (newlines and tabs stay), so an answer or a tool's output cannot disguise
/// what it says.
pub fn safe(text: &str) -> String {
    localgpt_core::text::terminal_safe(&text.replace("\r\n", "\n")).into_owned()
}

/// The text of a Pi message's `content` (a string or a list of parts).
fn content_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter(|part| part["type"] == "text")
            .filter_map(|part| part["text"].as_str())
            .collect(),
        _ => String::new(),
    }
}

/// A tool result without the `<tool_output>` marker the model saw around it.
fn unwrap_output(text: &str) -> String {
    let text = text.trim();
    let text = match text.strip_prefix("<tool_output") {
        Some(rest) => rest.split_once('>').map_or(rest, |(_, body)| body),
        None => text,
    };
    safe(text.strip_suffix("</tool_output>").unwrap_or(text).trim())
}

impl Transcript {
    /// The items of a saved conversation (`GET /api/sessions/{id}`'s `messages`).
    pub fn from_messages(messages: &Value) -> Self {
        let mut transcript = Self::default();
        let mut calls: Vec<(String, usize)> = Vec::new();
        for message in messages.as_array().into_iter().flatten() {
            match message["role"].as_str() {
                Some("user") => transcript
                    .items
                    .push(Item::User(safe(&content_text(&message["content"])))),
                Some("assistant") => {
                    for part in message["content"].as_array().into_iter().flatten() {
                        match part["type"].as_str() {
                            Some("text") => {
                                transcript.add_text(part["text"].as_str().unwrap_or(""))
                            }
                            Some("toolCall") => {
                                calls.push((text_of(&part["id"], ""), transcript.items.len()));
                                transcript.items.push(Item::Tool {
                                    name: text_of(&part["name"], "tool"),
                                    arguments: shown_arguments(&part["arguments"]),
                                    result: None,
                                });
                            }
                            _ => {}
                        }
                    }
                    if message["stopReason"] == "aborted" {
                        transcript.items.push(Item::Notice("Stopped.".into()));
                    }
                    if let Some(error) = message["errorMessage"].as_str() {
                        transcript.items.push(Item::Error {
                            message: safe(error),
                            retry: None,
                        });
                    }
                }
                Some("toolResult") => {
                    let id = text_of(&message["toolCallId"], "");
                    let output = unwrap_output(&content_text(&message["content"]));
                    let is_error = message["isError"].as_bool().unwrap_or(false);
                    if let Some((_, index)) = calls.iter().find(|(call, _)| *call == id)
                        && let Some(Item::Tool { result, .. }) = transcript.items.get_mut(*index)
                    {
                        *result = Some((output, is_error));
                    }
                }
                _ => {}
            }
        }
        transcript
    }

    /// Appends streamed text to the answer being written (or starts one).
    pub fn add_text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        let text = safe(text);
        match self.items.last_mut() {
            Some(Item::Assistant(answer)) => answer.push_str(&text),
            _ => self.items.push(Item::Assistant(text)),
        }
    }

    /// Applies one event of a streaming turn; `message` is what was sent (for Retry).
    pub fn apply(&mut self, name: &str, data: &Value, message: &str) {
        match name {
            "delta" => self.add_text(data["text"].as_str().unwrap_or("")),
            "tool_start" => self.items.push(Item::Tool {
                name: text_of(&data["name"], "tool"),
                arguments: shown_arguments(&data["arguments"]),
                result: None,
            }),
            "tool_end" => {
                let name = text_of(&data["name"], "tool");
                let preview = text_of(&data["preview"], "");
                let is_error = data["is_error"].as_bool().unwrap_or(false);
                let open = self.items.iter_mut().rev().find_map(|item| match item {
                    Item::Tool {
                        name: tool,
                        result: result @ None,
                        ..
                    } if *tool == name => Some(result),
                    _ => None,
                });
                if let Some(result) = open {
                    *result = Some((unwrap_output(&preview), is_error));
                }
            }
            "approval" => self.items.push(Item::Approval {
                id: text_of(&data["id"], ""),
                tool: text_of(&data["tool"], "tool"),
                arguments: shown_arguments(&data["arguments"]),
                state: ApprovalState::Waiting,
            }),
            "notice" => self
                .items
                .push(Item::Notice(safe(text_of(&data["text"], "").trim()))),
            "recall" => {
                let count = data["sources"].as_array().map_or(0, Vec::len);
                if count > 0 {
                    self.items.push(Item::Notice(format!(
                        "Recalled {count} note(s) from memory."
                    )));
                }
            }
            "done" => {
                if data["artifact"].is_string() {
                    self.items
                        .push(Item::Notice("Kept for the owner's review.".into()));
                }
                let input = data["usage"]["input_tokens"].as_u64().unwrap_or(0);
                let output = data["usage"]["output_tokens"].as_u64().unwrap_or(0);
                if input + output > 0 {
                    self.items
                        .push(Item::Notice(format!("{input} tokens in, {output} out")));
                }
            }
            "error" => {
                let retry = (data["code"] != "model_unavailable").then(|| message.to_owned());
                self.items.push(Item::Error {
                    message: safe(&text_of(&data["message"], "The turn failed.")),
                    retry,
                });
            }
            _ => {}
        }
    }

    /// Marks the approval `id` (answer sent, taken, or failed).
    pub fn set_approval(&mut self, id: &str, new_state: ApprovalState) {
        for item in &mut self.items {
            if let Item::Approval { id: own, state, .. } = item
                && own == id
            {
                *state = new_state.clone();
            }
        }
    }

    /// Approvals still waiting for an answer.
    pub fn waiting_approvals(&self) -> usize {
        self.items
            .iter()
            .filter(|item| {
                matches!(
                    item,
                    Item::Approval {
                        state: ApprovalState::Waiting,
                        ..
                    }
                )
            })
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_saved_conversation_pairs_calls_with_results() {
        let messages = json!([
            {"role": "user", "content": "where is the canoe"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Looking."},
                {"type": "toolCall", "id": "c1", "name": "memory_search", "arguments": {"query": "canoe"}}
            ]},
            {"role": "toolResult", "toolCallId": "c1", "content": [{"type": "text", "text": "<tool_output tool=\"memory_search\">\nboathouse\n</tool_output>"}], "isError": false},
            {"role": "assistant", "content": [{"type": "text", "text": "In the boathouse."}]}
        ]);
        let transcript = Transcript::from_messages(&messages);
        assert_eq!(transcript.items.len(), 4, "{:?}", transcript.items);
        assert_eq!(transcript.items[0], Item::User("where is the canoe".into()));
        match &transcript.items[2] {
            Item::Tool { result, .. } => {
                assert_eq!(result, &Some(("boathouse".to_owned(), false)));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn streamed_events_build_the_answer() {
        let mut transcript = Transcript::default();
        transcript.apply("delta", &json!({"text": "Hel"}), "hi");
        transcript.apply("delta", &json!({"text": "lo"}), "hi");
        transcript.apply(
            "approval",
            &json!({"id": "a1", "tool": "bash", "arguments": {"command": "ls"}}),
            "hi",
        );
        transcript.apply(
            "error",
            &json!({"code": "model_unavailable", "message": "no model"}),
            "hi",
        );
        assert_eq!(transcript.items[0], Item::Assistant("Hello".into()));
        assert_eq!(transcript.waiting_approvals(), 1);
        transcript.set_approval("a1", ApprovalState::Answered(false));
        assert_eq!(transcript.waiting_approvals(), 0);
        assert!(matches!(
            &transcript.items[2],
            Item::Error { retry: None, .. }
        ));
    }
}
