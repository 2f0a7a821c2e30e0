//! What the scripted server answers: a queue of [`Turn`]s, one consumed per model request.
//!
//! A turn is either a reply (text pieces, tool calls whose arguments arrive in several deltas,
//! usage, a stop reason) possibly ending badly (truncated, malformed chunk, `error` event, never
//! ending), or an HTTP failure (429 with `retry-after`, 500, 401, …).

use std::time::Duration;

use crate::echo::Echo;

/// An ordered list of turns.
#[derive(Debug, Clone, Default)]
pub struct Script {
    pub(crate) turns: Vec<Turn>,
}

impl Script {
    /// An empty script.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a turn.
    pub fn turn(mut self, turn: Turn) -> Self {
        self.turns.push(turn);
        self
    }
}

impl From<Turn> for Script {
    fn from(turn: Turn) -> Self {
        Self::new().turn(turn)
    }
}

/// Why a scripted reply ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopKind {
    /// The model finished (`end_turn`, `stop`).
    EndTurn,
    /// The model wants tools run (`tool_use`, `tool_calls`).
    ToolUse,
    /// Out of tokens (`max_tokens`, `length`).
    MaxTokens,
    /// A stop sequence (`stop_sequence`).
    StopSequence,
}

/// How the body of a reply ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Properly, with stop reason, usage and the end marker.
    Complete,
    /// The connection is cut after the content, before the end.
    Truncated,
    /// A chunk that is not valid JSON follows the content.
    Malformed,
    /// A provider `error` event follows the content: `(kind, message)`, e.g.
    /// `("overloaded_error", "Overloaded")`.
    ErrorEvent(String, String),
    /// Keep-alives are sent forever after the content, until the client goes away.
    Hang,
}

/// A piece of a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// Text, streamed as these deltas.
    Text(Vec<String>),
    /// A tool call whose JSON arguments are streamed as these fragments.
    ToolCall {
        /// Call id; default `call_<request>_<n>`.
        id: Option<String>,
        /// Tool name.
        name: String,
        /// Argument fragments, concatenated by the client.
        arguments: Vec<String>,
    },
}

/// One scripted answer to one request.
#[derive(Debug, Clone)]
pub struct Turn {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) error_message: Option<String>,
    pub(crate) blocks: Vec<Block>,
    pub(crate) usage: (u64, u64),
    pub(crate) stop: Option<StopKind>,
    pub(crate) ending: Ending,
    pub(crate) delay: Duration,
    pub(crate) echo: Option<Echo>,
    pub(crate) plain_body: Option<String>,
}

impl Default for Turn {
    fn default() -> Self {
        Self {
            status: 200,
            headers: Vec::new(),
            error_message: None,
            blocks: Vec::new(),
            usage: (10, 5),
            stop: None,
            ending: Ending::Complete,
            delay: Duration::ZERO,
            echo: None,
            plain_body: None,
        }
    }
}

impl Turn {
    /// An empty reply, to build on.
    pub fn reply() -> Self {
        Self::default()
    }

    /// A text reply streamed as these pieces.
    pub fn text<I, S>(pieces: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::reply().and_text(pieces)
    }

    /// A reply that calls one tool, its arguments split into three fragments.
    pub fn tool_call(name: &str, arguments: &str) -> Self {
        Self::reply().and_tool_call(name, arguments)
    }

    /// An HTTP error answer with the provider's error body.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            ..Self::default()
        }
    }

    /// `429 Too Many Requests` with `retry-after: seconds`.
    pub fn rate_limited(retry_after_seconds: u64) -> Self {
        Self::status(429).header("retry-after", retry_after_seconds.to_string())
    }

    /// Adds a text block streamed as these pieces.
    pub fn and_text<I, S>(mut self, pieces: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.blocks
            .push(Block::Text(pieces.into_iter().map(Into::into).collect()));
        self
    }

    /// Adds a tool call with its arguments split into three fragments.
    pub fn and_tool_call(self, name: &str, arguments: &str) -> Self {
        self.and_tool_call_pieces(None, name, split_in_three(arguments))
    }

    /// Adds a tool call with this id (or a default) and these argument fragments.
    pub fn and_tool_call_pieces<I, S>(mut self, id: Option<&str>, name: &str, pieces: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.blocks.push(Block::ToolCall {
            id: id.map(str::to_owned),
            name: name.to_owned(),
            arguments: pieces.into_iter().map(Into::into).collect(),
        });
        self
    }

    /// Sets the reported input and output tokens (default 10 and 5).
    pub fn usage(mut self, input_tokens: u64, output_tokens: u64) -> Self {
        self.usage = (input_tokens, output_tokens);
        self
    }

    /// Sets the stop reason (default: tool use when the reply calls tools, else end of turn).
    pub fn stop(mut self, stop: StopKind) -> Self {
        self.stop = Some(stop);
        self
    }

    /// An HTTP error answer (`status`) whose message echoes the request's credentials
    /// (`authorization`, `x-api-key`, the query) raw, percent-encoded and JSON-escaped, and the
    /// URL it was sent to — a hostile or careless provider, for leak tests.
    pub fn echo_credentials(status: u16, shape: Echo) -> Self {
        Self {
            echo: Some(shape),
            ..Self::status(status)
        }
    }

    /// An HTTP error answer with this plain-text body instead of the provider's JSON (what a
    /// proxy in front of the provider might say).
    pub fn plain(status: u16, body: &str) -> Self {
        Self {
            plain_body: Some(body.to_owned()),
            ..Self::status(status)
        }
    }

    /// Adds a response header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Sets the message of an error answer or error event.
    pub fn message(mut self, message: &str) -> Self {
        self.error_message = Some(message.to_owned());
        self
    }

    /// Cuts the connection after the content.
    pub fn truncated(mut self) -> Self {
        self.ending = Ending::Truncated;
        self
    }

    /// Sends a chunk of broken JSON after the content.
    pub fn malformed(mut self) -> Self {
        self.ending = Ending::Malformed;
        self
    }

    /// Sends a provider error event after the content.
    pub fn error_event(mut self, kind: &str, message: &str) -> Self {
        self.ending = Ending::ErrorEvent(kind.to_owned(), message.to_owned());
        self
    }

    /// Never finishes: sends keep-alives until the client disconnects.
    pub fn hang(mut self) -> Self {
        self.ending = Ending::Hang;
        self
    }

    /// Waits this long before each chunk.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    pub(crate) fn stop_kind(&self) -> StopKind {
        self.stop.unwrap_or_else(|| {
            if self
                .blocks
                .iter()
                .any(|b| matches!(b, Block::ToolCall { .. }))
            {
                StopKind::ToolUse
            } else {
                StopKind::EndTurn
            }
        })
    }

    /// The whole text of the reply.
    pub(crate) fn full_text(&self) -> String {
        self.blocks
            .iter()
            .filter_map(|block| match block {
                Block::Text(pieces) => Some(pieces.concat()),
                Block::ToolCall { .. } => None,
            })
            .collect()
    }
}

/// Splits text into three pieces at character boundaries (fewer when it is very short).
pub fn split_in_three(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() < 3 {
        return vec![text.to_owned()];
    }
    let third = chars.len() / 3;
    vec![
        chars[..third].iter().collect(),
        chars[third..2 * third].iter().collect(),
        chars[2 * third..].iter().collect(),
    ]
}
