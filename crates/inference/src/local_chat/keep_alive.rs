//! A local chat model that is in memory only while it is used. [`KeepAliveModel::open`] reads
//! just the file's header (what the agent needs to know before the first reply: context window,
//! tool support); the weights load on the first request, on a thread of their own so an async
//! caller never blocks on the load, and leave memory `keep_alive` after the last reply ends,
//! together with the key/value cache (see [`crate::idle`]). It may run in a model process of its
//! own ([`KeepAliveModel::in_model_process`], see [`crate::model_process`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use localgpt_core::chat::{ChatError, ChatEvent, ChatModel, ChatRequest, ChatStream};

#[cfg(feature = "engine")]
use super::LocalChatModel;
use super::template::ChatTemplate;
use super::{CancelOnDrop, DEFAULT_CONTEXT_CAP, Job, LocalChatOptions, new_job};
use crate::error::InferenceError;
use crate::gguf;
use crate::idle::{IdleSlot, Lease};
use crate::model_process::protocol::ModelSpec;
use crate::model_process::{ModelProcess, ProcessCommand};

/// How long a token count may wait for a busy model process before the caller estimates instead.
const COUNT_TIMEOUT: Duration = Duration::from_secs(2);

/// A local chat model loaded on demand and unloaded after `keep_alive` without use.
pub struct KeepAliveModel {
    slot: Arc<IdleSlot<Engine>>,
    /// Where and how to load it.
    source: Arc<Source>,
    name: String,
    context_size: u32,
    supports_tools: bool,
}

struct Source {
    name: String,
    path: PathBuf,
    options: LocalChatOptions,
    /// Where the model runs: here, or in a model process started with this command.
    process: Option<ProcessCommand>,
}

/// A loaded model, in this process or in a model process.
enum Engine {
    #[cfg(feature = "engine")]
    Here(LocalChatModel),
    Process(ModelProcess),
}

impl Engine {
    /// Whether it can take requests (a model process may have died).
    fn is_usable(&self) -> bool {
        match self {
            #[cfg(feature = "engine")]
            Self::Here(_) => true,
            Self::Process(process) => process.is_alive(),
        }
    }

    fn submit(&self, job: Job) {
        match self {
            #[cfg(feature = "engine")]
            Self::Here(model) => model.submit(job),
            Self::Process(process) => process.chat(job.request, job.events, job.cancel),
        }
    }

    fn count_tokens(&self, text: &str) -> Option<usize> {
        match self {
            #[cfg(feature = "engine")]
            Self::Here(model) => Some(model.count_tokens(text)),
            Self::Process(process) => process.count_tokens(text, Some(COUNT_TIMEOUT)).ok(),
        }
    }
}

impl std::fmt::Debug for KeepAliveModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeepAliveModel")
            .field("name", &self.name)
            .field("loaded", &self.is_loaded())
            .finish_non_exhaustive()
    }
}

impl KeepAliveModel {
    /// Checks the file's header (a missing, truncated or non-GGUF file, or an embedding model, is
    /// an error now) without loading the weights; they load on the first request and leave
    /// memory after `keep_alive` without one (never, without a `keep_alive`).
    pub fn open(
        name: &str,
        path: &Path,
        options: &LocalChatOptions,
        keep_alive: Option<Duration>,
    ) -> Result<Self, InferenceError> {
        let info = gguf::read_info(path)?;
        let architecture = info.architecture().unwrap_or("unknown").to_owned();
        super::refuse_embedding_model(&info, &architecture, path)?;
        // The same figures `LocalChatModel::load` derives from the loaded model.
        let trained = info
            .integer(&format!("{architecture}.context_length"))
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(DEFAULT_CONTEXT_CAP)
            .max(256);
        let context_size = options
            .context_size
            .unwrap_or(DEFAULT_CONTEXT_CAP)
            .clamp(256, trained);
        let template_source = options
            .chat_template
            .clone()
            .or_else(|| info.string("tokenizer.chat_template").map(str::to_owned));
        let supports_tools = ChatTemplate::new(template_source, "", "").supports_tools();
        let slot = IdleSlot::new("local-chat", keep_alive)
            .map_err(|error| InferenceError::Engine(format!("starting the idle timer: {error}")))?;
        Ok(Self {
            slot: Arc::new(slot),
            source: Arc::new(Source {
                name: name.to_owned(),
                path: path.to_owned(),
                options: options.clone(),
                process: None,
            }),
            name: format!("local/{name}"),
            context_size,
            supports_tools,
        })
    }

    /// Like [`KeepAliveModel::open`], then loads the weights now (so a file llama.cpp cannot
    /// load is reported at once).
    pub fn load(
        name: &str,
        path: &Path,
        options: &LocalChatOptions,
        keep_alive: Option<Duration>,
    ) -> Result<Self, InferenceError> {
        let this = Self::open(name, path, options, keep_alive)?;
        this.preload()?;
        Ok(this)
    }

    /// Loads the weights now, if they are not in memory (so a file llama.cpp cannot load is
    /// reported at once).
    pub fn preload(&self) -> Result<(), InferenceError> {
        let _lease = self.slot.lease();
        if self.usable().is_none() {
            self.slot.get_or_load(|| self.source.load())?;
        }
        Ok(())
    }

    /// Runs the model in a model process started with `command` whenever it is loaded; the
    /// process ends when the model is unloaded. Call before the first request.
    pub fn in_model_process(mut self, command: ProcessCommand) -> Self {
        let source = Source {
            name: self.source.name.clone(),
            path: self.source.path.clone(),
            options: self.source.options.clone(),
            process: Some(command),
        };
        self.source = Arc::new(source);
        self
    }

    /// Whether the weights are in memory now.
    pub fn is_loaded(&self) -> bool {
        self.slot.is_loaded()
    }

    /// The loaded model if it is in memory and usable; a model process found dead is dropped.
    fn usable(&self) -> Option<Arc<Engine>> {
        let engine = self.slot.current()?;
        if engine.is_usable() {
            return Some(engine);
        }
        self.slot.discard(&engine);
        None
    }
}

impl Source {
    fn load(&self) -> Result<Engine, InferenceError> {
        match &self.process {
            #[cfg(feature = "engine")]
            None => LocalChatModel::load(&self.name, &self.path, &self.options).map(Engine::Here),
            #[cfg(not(feature = "engine"))]
            None => Err(crate::model_process::needs_process()),
            Some(command) => ModelProcess::start(
                command,
                &ModelSpec::Chat {
                    name: self.name.clone(),
                    path: self.path.clone(),
                    threads: self.options.threads,
                    context_size: self.options.context_size,
                    chat_template: self.options.chat_template.clone(),
                },
            )
            .map(Engine::Process),
        }
    }
}

impl ChatModel for KeepAliveModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn context_window(&self) -> Option<u32> {
        Some(self.context_size)
    }

    fn supports_tools(&self) -> bool {
        self.supports_tools
    }

    fn count_tokens(&self, text: &str) -> Option<usize> {
        self.usable().and_then(|model| model.count_tokens(text))
    }

    fn stream(&self, request: ChatRequest) -> ChatStream {
        let (job, stream) = new_job(request);
        // Taken before the model is looked up, so it cannot be unloaded in between.
        let lease = self.slot.lease();
        match self.usable() {
            Some(model) => model.submit(job),
            None => {
                let slot = Arc::clone(&self.slot);
                let source = Arc::clone(&self.source);
                let spawned = std::thread::Builder::new()
                    .name("local-chat-load".to_owned())
                    .spawn(move || match slot.get_or_load(|| source.load()) {
                        Ok(model) => model.submit(job),
                        Err(error) => {
                            let _ = job.events.unbounded_send(Err(ChatError::Failed {
                                provider: "local".to_owned(),
                                message: error.to_string(),
                            }));
                        }
                    });
                if let Err(error) = spawned {
                    tracing::warn!("could not start loading the model: {error}");
                }
            }
        }
        Box::pin(LeasedStream {
            stream,
            _lease: lease,
        })
    }
}

/// A reply stream that keeps the model loaded until it is dropped.
struct LeasedStream {
    stream: CancelOnDrop,
    _lease: Lease<Engine>,
}

impl futures_core::Stream for LeasedStream {
    type Item = Result<ChatEvent, ChatError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::pin::Pin::new(&mut self.stream).poll_next(cx)
    }
}
