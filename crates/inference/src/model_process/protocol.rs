//! What LocalGPT and its model process say to each other: one JSON object per line on the
//! process's standard input (requests) and standard output (replies). The first request names
//! the model to load; every later one carries an id that its replies repeat.

use std::path::PathBuf;

use localgpt_core::chat::{ChatEvent, ChatRequest};
use serde::{Deserialize, Serialize};

/// The model a process loads first, and how to run it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelSpec {
    /// A sentence-embedding model (`LlamaEmbedder`).
    Embedding {
        /// The GGUF file.
        path: PathBuf,
        /// Threads to compute on.
        threads: Option<usize>,
        /// Most tokens decoded together.
        batch_tokens: Option<usize>,
    },
    /// A chat model (`LocalChatModel`).
    Chat {
        /// Its name (`local/NAME`).
        name: String,
        /// The GGUF file.
        path: PathBuf,
        /// Threads to compute on.
        threads: Option<usize>,
        /// Context size in tokens.
        context_size: Option<u32>,
        /// A Jinja chat template instead of the file's own.
        chat_template: Option<String>,
    },
}

impl ModelSpec {
    /// The model file.
    pub fn path(&self) -> &std::path::Path {
        match self {
            Self::Embedding { path, .. } | Self::Chat { path, .. } => path,
        }
    }
}

/// A request to the model process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Load this model (the first request, and only then).
    Load {
        /// The model.
        model: ModelSpec,
    },
    /// Embed texts (embedding models).
    Embed {
        /// Repeated in the reply.
        id: u64,
        /// The texts, in order.
        texts: Vec<String>,
    },
    /// Count a text's tokens.
    CountTokens {
        /// Repeated in the reply.
        id: u64,
        /// The text.
        text: String,
    },
    /// Stream a reply (chat models).
    Chat {
        /// Repeated in every event of the reply.
        id: u64,
        /// The request.
        request: ChatRequest,
    },
    /// Stop generating reply `id`.
    Cancel {
        /// The reply to stop.
        id: u64,
    },
}

/// A reply from the model process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// The model is loaded and requests may follow.
    Loaded,
    /// The model could not be loaded; the process ends.
    LoadFailed {
        /// Why, in words for the user.
        message: String,
    },
    /// One vector per text of an `Embed` request.
    Vectors {
        /// The request's id.
        id: u64,
        /// The vectors, in order.
        vectors: Vec<Vec<f32>>,
    },
    /// The token count of a `CountTokens` request.
    Tokens {
        /// The request's id.
        id: u64,
        /// Tokens in the text.
        count: usize,
    },
    /// One event of a streamed reply.
    Event {
        /// The `Chat` request's id.
        id: u64,
        /// The event.
        event: ChatEvent,
    },
    /// A request failed (for `Chat`, this ends the reply).
    Failed {
        /// The request's id.
        id: u64,
        /// Why, in words for the user.
        message: String,
    },
    /// The streamed reply `id` is complete.
    Done {
        /// The `Chat` request's id.
        id: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use localgpt_core::chat::{ChatMessage, StopReason, ToolCall};

    fn round_trip_request(request: &Request) -> Request {
        let line = serde_json::to_string(request).unwrap();
        assert!(!line.contains('\n'), "a request must fit one line: {line}");
        serde_json::from_str(&line).unwrap()
    }

    fn round_trip_reply(reply: &Reply) -> Reply {
        let line = serde_json::to_string(reply).unwrap();
        assert!(!line.contains('\n'), "a reply must fit one line: {line}");
        serde_json::from_str(&line).unwrap()
    }

    #[test]
    fn requests_with_line_breaks_stay_one_line_and_come_back_equal() {
        let requests = [
            Request::Load {
                model: ModelSpec::Chat {
                    name: "smollm2".to_owned(),
                    path: PathBuf::from("/models/a\nb.gguf"),
                    threads: Some(2),
                    context_size: None,
                    chat_template: Some("{% for m in messages %}\n{{ m }}{% endfor %}".to_owned()),
                },
            },
            Request::Embed {
                id: 3,
                texts: vec!["first\nline".to_owned(), "\u{2028}\"quoted\"".to_owned()],
            },
            Request::Chat {
                id: 4,
                request: ChatRequest::new(vec![ChatMessage::user("hi\r\nthere")]),
            },
            Request::Cancel { id: 4 },
        ];
        for request in &requests {
            assert_eq!(&round_trip_request(request), request);
        }
    }

    #[test]
    fn vectors_and_events_come_back_exactly() {
        let vectors = Reply::Vectors {
            id: 1,
            vectors: vec![vec![
                0.1,
                -1.0e-30,
                f32::MIN_POSITIVE,
                0.333_333_34,
                f32::MAX,
            ]],
        };
        assert_eq!(round_trip_reply(&vectors), vectors);
        let events = [
            ChatEvent::TextDelta("multi\nline".to_owned()),
            ChatEvent::ToolCallEnd {
                index: 0,
                call: ToolCall {
                    id: "call_0".to_owned(),
                    name: "memory_search".to_owned(),
                    raw_arguments: "{not json".to_owned(),
                    arguments: Err("expected value".to_owned()),
                },
            },
            ChatEvent::Stop(StopReason::Other("why\nnot".to_owned())),
        ];
        for event in events {
            let reply = Reply::Event { id: 9, event };
            assert_eq!(round_trip_reply(&reply), reply);
        }
    }
}
