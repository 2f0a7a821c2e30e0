//! Chat models inside the binary: a GGUF model on llama.cpp, streaming through the same
//! [`ChatModel`] trait as the remote providers. The file is checked before llama.cpp sees it.
//! [`KeepAliveModel`] is what LocalGPT uses: it runs the model in a model process of its own
//! while it is used; [`LocalChatModel`] (feature `engine`) is the model on llama.cpp in this
//! process, which the model process runs.

#[cfg(feature = "engine")]
mod grammar;
mod keep_alive;
#[cfg(feature = "engine")]
mod model;
mod template;
#[cfg(feature = "engine")]
mod text_stream;
#[cfg(feature = "engine")]
mod tool_parse;
#[cfg(feature = "engine")]
pub(crate) mod worker;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_channel::mpsc::UnboundedSender;
use localgpt_core::chat::{ChatError, ChatEvent, ChatRequest};

pub use keep_alive::KeepAliveModel;
#[cfg(feature = "engine")]
pub use model::LocalChatModel;
pub use template::ChatTemplate;
#[cfg(feature = "engine")]
pub use tool_parse::{ParsedCall, extract as extract_tool_calls};
#[cfg(feature = "engine")]
pub use worker::ReplyStats;

use crate::error::InferenceError;
use crate::gguf;

/// Context size used when neither the configuration nor a smaller model window says otherwise.
pub const DEFAULT_CONTEXT_CAP: u32 = 8_192;

/// How to run a local chat model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalChatOptions {
    /// Threads (default: the physical cores).
    pub threads: Option<usize>,
    /// Context size in tokens (default: the model's own, capped at 8192).
    pub context_size: Option<u32>,
    /// A Jinja chat template to use instead of the one in the model file.
    pub chat_template: Option<String>,
}

/// Refuses a sentence-embedding model (it has a pooling type, or is BERT) offered as a chat model.
fn refuse_embedding_model(
    info: &gguf::GgufInfo,
    architecture: &str,
    path: &Path,
) -> Result<(), InferenceError> {
    if info
        .integer(&format!("{architecture}.pooling_type"))
        .is_some_and(|kind| kind > 0)
        || architecture == "bert"
    {
        return Err(InferenceError::BadModelFile {
            path: path.to_owned(),
            reason: format!("`{architecture}` is an embedding model, not a chat model"),
        });
    }
    Ok(())
}

/// One request for a chat model: its events go to `events`; `cancel` stops generation.
pub(crate) struct Job {
    pub request: ChatRequest,
    pub events: UnboundedSender<Result<ChatEvent, ChatError>>,
    pub cancel: Arc<AtomicBool>,
}

/// A job for `request` and the stream its reply arrives on.
fn new_job(request: ChatRequest) -> (Job, CancelOnDrop) {
    let (events, receiver) = futures_channel::mpsc::unbounded();
    let cancel = Arc::new(AtomicBool::new(false));
    let job = Job {
        request,
        events,
        cancel: Arc::clone(&cancel),
    };
    (job, CancelOnDrop { receiver, cancel })
}

/// The reply stream; dropping it stops generation at the next token.
struct CancelOnDrop {
    receiver: futures_channel::mpsc::UnboundedReceiver<Result<ChatEvent, ChatError>>,
    cancel: Arc<AtomicBool>,
}

impl futures_core::Stream for CancelOnDrop {
    type Item = Result<ChatEvent, ChatError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::pin::Pin::new(&mut self.receiver).poll_next(cx)
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::SeqCst);
    }
}
