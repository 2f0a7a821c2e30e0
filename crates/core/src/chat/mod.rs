//! The seam between the agent and every chat model: plain message types, the streamed events a
//! model answers with, its errors, and the [`ChatModel`] trait that providers implement.
//!
//! The types are deliberately boring serde data so that front ends, sessions and tests can share
//! them. Providers (`localgpt-llm`) translate them to and from each wire format.
//!
//! A reply is a stream of [`ChatEvent`]s in this order: any number of text deltas and tool-call
//! events, then at most one [`ChatEvent::Usage`], then exactly one [`ChatEvent::Stop`], then the end
//! of the stream. A failure is a single `Err` item, after which the stream ends. Dropping the stream
//! cancels the request (the HTTP connection is closed, a child process is killed); to cancel from
//! elsewhere, wrap the stream with [`cancellable`] and a [`CancelToken`].

mod cancel;

use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;
use serde::{Deserialize, Serialize};

pub use cancel::{CancelToken, cancellable};

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions in the middle of a conversation (e.g. a compaction summary). The main system
    /// prompt goes in [`ChatRequest::system`].
    System,
    /// The person, and the results of tools the assistant asked for.
    User,
    /// The model.
    Assistant,
}

/// One piece of a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    /// Plain text.
    Text {
        /// The text.
        text: String,
    },
    /// The assistant asks for a tool to be run.
    ToolCall {
        /// Provider-assigned id that the result refers back to.
        id: String,
        /// Tool name.
        name: String,
        /// Arguments as a JSON value (an object for well-formed calls).
        arguments: serde_json::Value,
    },
    /// The output of a tool, sent back in a [`Role::User`] message.
    ToolResult {
        /// The [`ContentPart::ToolCall::id`] this answers.
        tool_call_id: String,
        /// What the tool returned (or the error it reported).
        content: String,
        /// Whether the tool failed.
        #[serde(default)]
        is_error: bool,
    },
}

/// A message of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who said it.
    pub role: Role,
    /// What was said, in order.
    pub content: Vec<ContentPart>,
}

impl ChatMessage {
    /// A user message of plain text.
    pub fn user(text: impl Into<String>) -> Self {
        Self::text(Role::User, text)
    }

    /// An assistant message of plain text.
    pub fn assistant(text: impl Into<String>) -> Self {
        Self::text(Role::Assistant, text)
    }

    /// A message with one text part.
    pub fn text(role: Role, text: impl Into<String>) -> Self {
        Self {
            role,
            content: vec![ContentPart::Text { text: text.into() }],
        }
    }

    /// All text parts joined, without tool calls and results.
    pub fn text_content(&self) -> String {
        self.content
            .iter()
            .filter_map(|part| match part {
                ContentPart::Text { text } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// Name the model uses to call it.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// JSON schema of its arguments (an `object` schema).
    pub parameters: serde_json::Value,
}

/// Everything a model needs for one reply.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The provider's model id. Empty means the model the [`ChatModel`] was created for.
    #[serde(default)]
    pub model: String,
    /// The system prompt.
    #[serde(default)]
    pub system: Option<String>,
    /// The conversation so far, oldest first.
    pub messages: Vec<ChatMessage>,
    /// Tools the model may call.
    #[serde(default)]
    pub tools: Vec<ToolSpec>,
    /// Most tokens to generate. Default: the provider's own (Anthropic requires one; 8192 is used).
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    #[serde(default)]
    pub temperature: Option<f32>,
    /// Nucleus sampling.
    #[serde(default)]
    pub top_p: Option<f32>,
    /// Sequences that end the reply.
    #[serde(default)]
    pub stop: Vec<String>,
    /// Random seed, for repeatable sampling where the provider supports it (local models do).
    #[serde(default)]
    pub seed: Option<u32>,
    /// Whether the model may answer in words or must call one of `tools`.
    #[serde(default, skip_serializing_if = "ToolChoice::is_auto")]
    pub tool_choice: ToolChoice,
    /// A GBNF grammar (start symbol `root`) that a reply in words must follow, for models that
    /// cannot call tools. Only the built-in engine honours it; other providers ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_grammar: Option<String>,
}

/// Whether a reply must be a tool call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolChoice {
    /// Words or tool calls, as the model likes.
    #[default]
    Auto,
    /// A call to one of the offered tools: OpenAI's `tool_choice: "required"`, Anthropic's
    /// `{"type": "any"}`, and for local models a grammar from the first token. Ollama and the
    /// `claude` CLI have no such setting; their models may still answer in words.
    Required,
}

impl ToolChoice {
    /// Whether the model may choose.
    pub fn is_auto(&self) -> bool {
        matches!(self, Self::Auto)
    }
}

impl ChatRequest {
    /// A request with these messages and everything else default.
    pub fn new(messages: Vec<ChatMessage>) -> Self {
        Self {
            messages,
            ..Self::default()
        }
    }
}

/// A complete tool call, as assembled from the streamed fragments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Provider-assigned id.
    pub id: String,
    /// Tool name.
    pub name: String,
    /// The arguments exactly as the model sent them.
    pub raw_arguments: String,
    /// The parsed arguments, or why they are not valid JSON (models do make mistakes).
    pub arguments: Result<serde_json::Value, String>,
}

impl ToolCall {
    /// The call as a message part; unparsable arguments are kept as a JSON string.
    pub fn to_part(&self) -> ContentPart {
        ContentPart::ToolCall {
            id: self.id.clone(),
            name: self.name.clone(),
            arguments: match &self.arguments {
                Ok(value) => value.clone(),
                Err(_) => serde_json::Value::String(self.raw_arguments.clone()),
            },
        }
    }
}

/// Tokens a reply cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens (not counting cache reads on providers that report them apart).
    pub input_tokens: u64,
    /// Generated tokens.
    pub output_tokens: u64,
    /// Prompt tokens read from the provider's cache, when reported.
    #[serde(default)]
    pub cache_read_tokens: Option<u64>,
    /// Prompt tokens written to the provider's cache, when reported.
    #[serde(default)]
    pub cache_write_tokens: Option<u64>,
}

/// Why a reply ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model finished.
    EndTurn,
    /// The model wants tools run.
    ToolUse,
    /// `max_tokens` was reached.
    MaxTokens,
    /// A stop sequence was produced.
    StopSequence,
    /// The caller cancelled.
    Cancelled,
    /// A provider-specific reason, as the provider named it.
    Other(String),
}

/// One step of a streamed reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatEvent {
    /// More text of the answer.
    TextDelta(String),
    /// A tool call begins. `index` counts tool calls within this reply from 0.
    ToolCallStart {
        /// Ordinal of the call in this reply.
        index: usize,
        /// Provider-assigned id.
        id: String,
        /// Tool name.
        name: String,
    },
    /// A fragment of a tool call's JSON arguments.
    ToolCallArgsDelta {
        /// Ordinal of the call in this reply.
        index: usize,
        /// The next characters of the arguments.
        fragment: String,
    },
    /// A tool call is complete.
    ToolCallEnd {
        /// Ordinal of the call in this reply.
        index: usize,
        /// The whole call with parsed arguments.
        call: ToolCall,
    },
    /// What the reply cost.
    Usage(Usage),
    /// The reply is over.
    Stop(StopReason),
}

/// Why a model call failed, naming the provider and what to do about it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChatError {
    /// The key is missing or was refused.
    #[error("{provider}: authentication failed: {message}. To fix: {hint}")]
    Auth {
        /// Provider name.
        provider: String,
        /// What the provider said.
        message: String,
        /// What the user should do.
        hint: String,
    },
    /// Too many requests, even after retrying.
    #[error("{provider}: rate limited: {message}{}", attempts_note(*.attempts))]
    RateLimited {
        /// Provider name.
        provider: String,
        /// What the provider said.
        message: String,
        /// How long the provider asked us to wait, if it said.
        retry_after: Option<Duration>,
        /// Requests made before giving up.
        attempts: u32,
    },
    /// The provider failed (5xx, overloaded), even after retrying.
    #[error("{provider}: server error (HTTP {status}): {message}{}", attempts_note(*.attempts))]
    Server {
        /// Provider name.
        provider: String,
        /// HTTP status.
        status: u16,
        /// What the provider said.
        message: String,
        /// Requests made before giving up.
        attempts: u32,
    },
    /// The provider rejected the request (unknown model, bad parameters, too long a prompt).
    #[error("{provider}: request rejected (HTTP {status}): {message}")]
    BadRequest {
        /// Provider name.
        provider: String,
        /// HTTP status.
        status: u16,
        /// What the provider said.
        message: String,
    },
    /// The provider could not be reached, or the connection broke.
    #[error("{provider}: network error: {message}{}", attempts_note(*.attempts))]
    Network {
        /// Provider name.
        provider: String,
        /// What went wrong.
        message: String,
        /// Requests made before giving up.
        attempts: u32,
    },
    /// The provider's answer did not follow its own format.
    #[error("{provider}: malformed response: {message}")]
    Protocol {
        /// Provider name.
        provider: String,
        /// What was wrong.
        message: String,
    },
    /// The provider reported a failure that fits none of the kinds above (e.g. the Claude CLI
    /// exiting with an error).
    #[error("{provider}: {message}")]
    Failed {
        /// Provider name.
        provider: String,
        /// What went wrong, in the provider's words.
        message: String,
    },
    /// The model reference or provider settings are unusable.
    #[error("model `{reference}`: {message}")]
    Config {
        /// The reference as given.
        reference: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The caller cancelled the request.
    #[error("cancelled")]
    Cancelled,
}

fn attempts_note(attempts: u32) -> String {
    if attempts > 1 {
        format!(" (gave up after {attempts} attempts)")
    } else {
        String::new()
    }
}

impl ChatError {
    /// Whether trying the same request again may succeed (rate limits, 5xx, broken connections).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Server { .. } | Self::Network { .. }
        )
    }

    /// How long the provider asked us to wait before trying again.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Records how many requests were made before this error was given up on.
    pub fn with_attempts(mut self, count: u32) -> Self {
        if let Self::RateLimited { attempts, .. }
        | Self::Server { attempts, .. }
        | Self::Network { attempts, .. } = &mut self
        {
            *attempts = count;
        }
        self
    }
}

/// A streamed reply.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<ChatEvent, ChatError>> + Send + 'static>>;

/// A chat model: a provider and a model id, ready to answer.
pub trait ChatModel: Send + Sync {
    /// `provider/model`, e.g. `anthropic/claude-sonnet-4-6`.
    fn name(&self) -> &str;

    /// Tokens the model can see at once, when known.
    fn context_window(&self) -> Option<u32>;

    /// Whether tools may be offered to this model. Small local models whose chat template has no
    /// tool support get none (and a compact system prompt).
    fn supports_tools(&self) -> bool {
        true
    }

    /// Tokens in `text` by the model's own tokenizer, when it is at hand (local models);
    /// `None` lets the caller estimate.
    fn count_tokens(&self, _text: &str) -> Option<usize> {
        None
    }

    /// Starts a reply. Nothing is sent until the stream is first polled; dropping the stream
    /// cancels the request. Requires a Tokio runtime for network and process providers.
    fn stream(&self, request: ChatRequest) -> ChatStream;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn messages_serialize_as_tagged_parts() {
        let message = ChatMessage {
            role: Role::User,
            content: vec![ContentPart::ToolResult {
                tool_call_id: "call_1".into(),
                content: "ok".into(),
                is_error: false,
            }],
        };
        let json = serde_json::to_value(&message).unwrap();
        assert_eq!(json["role"], "user");
        assert_eq!(json["content"][0]["type"], "tool_result");
        let back: ChatMessage = serde_json::from_value(json).unwrap();
        assert_eq!(back, message);
    }

    #[test]
    fn invalid_tool_arguments_become_a_string_part() {
        let call = ToolCall {
            id: "a".into(),
            name: "t".into(),
            raw_arguments: "{oops".into(),
            arguments: Err("expected value".into()),
        };
        assert!(matches!(
            call.to_part(),
            ContentPart::ToolCall { arguments: serde_json::Value::String(s), .. } if s == "{oops"
        ));
    }

    #[test]
    fn error_messages_name_provider_and_attempts() {
        let error = ChatError::Server {
            provider: "openai".into(),
            status: 500,
            message: "boom".into(),
            attempts: 1,
        }
        .with_attempts(3);
        assert_eq!(
            error.to_string(),
            "openai: server error (HTTP 500): boom (gave up after 3 attempts)"
        );
        assert!(error.is_retryable());
    }
}
