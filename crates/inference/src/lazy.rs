//! An embedder that reads only the model file's header until vectors or token counts are needed.
//! A keyword search, or a refresh that finds nothing changed, then never loads the model: the
//! index needs just the model's identity and dimension, which the GGUF header gives. With a
//! keep-alive (the daemon's `providers.local.keep_alive`) the model leaves memory again after
//! that long without use and loads again on the next call (see [`crate::idle`]). It may run in a
//! model process of its own ([`LazyEmbedder::in_model_process`], see [`crate::model_process`]).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use localgpt_core::embed::{EmbedError, Embedder};

use crate::convert::MAX_SEQ_KEY;
#[cfg(feature = "engine")]
use crate::embed::LlamaEmbedder;
use crate::embedding::{EmbedderOptions, model_fingerprint};
use crate::error::InferenceError;
use crate::gguf;
use crate::idle::IdleSlot;
use crate::model_process::protocol::ModelSpec;
use crate::model_process::{ModelProcess, ProcessCommand};

/// A sentence-embedding model loaded on first use.
pub struct LazyEmbedder {
    path: PathBuf,
    options: EmbedderOptions,
    id: String,
    dimension: usize,
    max_tokens: usize,
    slot: IdleSlot<Engine>,
    /// Why loading failed, once it has: a broken file is not loaded again on every call.
    failed: OnceLock<String>,
    /// Where the model runs: here, or in a model process started with this command.
    process: Option<ProcessCommand>,
}

/// A loaded model, in this process or in a model process.
enum Engine {
    #[cfg(feature = "engine")]
    Here(LlamaEmbedder),
    Process(ModelProcess),
}

impl Engine {
    /// Whether it can take calls (a model process may have died).
    fn is_usable(&self) -> bool {
        match self {
            #[cfg(feature = "engine")]
            Self::Here(_) => true,
            Self::Process(process) => process.is_alive(),
        }
    }
}

impl std::fmt::Debug for LazyEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyEmbedder")
            .field("id", &self.id)
            .field("loaded", &self.slot.is_loaded())
            .finish()
    }
}

impl LazyEmbedder {
    /// Checks the file and reads what the index needs from its header.
    pub fn open(path: &Path, threads: Option<usize>) -> Result<Self, InferenceError> {
        Self::open_with(
            path,
            EmbedderOptions {
                threads,
                ..EmbedderOptions::default()
            },
        )
    }

    /// Like [`LazyEmbedder::open`], with all of [`EmbedderOptions`].
    pub fn open_with(path: &Path, options: EmbedderOptions) -> Result<Self, InferenceError> {
        Self::open_unloading(path, options, None)
    }

    /// Like [`LazyEmbedder::open_with`]; with `keep_alive`, the model is unloaded after that long
    /// without a call.
    pub fn open_unloading(
        path: &Path,
        options: EmbedderOptions,
        keep_alive: Option<Duration>,
    ) -> Result<Self, InferenceError> {
        let info = gguf::read_info(path)?;
        let architecture = info.architecture().unwrap_or("bert").to_owned();
        let not_embedding = || InferenceError::BadModelFile {
            path: path.to_owned(),
            reason: "the model has no pooling type, so it is not a sentence-embedding model"
                .to_owned(),
        };
        if info
            .integer(&format!("{architecture}.pooling_type"))
            .unwrap_or(0)
            == 0
        {
            return Err(not_embedding());
        }
        let dimension = info
            .integer(&format!("{architecture}.embedding_length"))
            .ok_or_else(not_embedding)? as usize;
        let window = info
            .integer(&format!("{architecture}.context_length"))
            .unwrap_or(512) as usize;
        let max_tokens = info
            .integer(MAX_SEQ_KEY)
            .map_or(window, |n| n as usize)
            .min(window)
            .max(8);
        let id = model_fingerprint(path, max_tokens)?;
        Ok(Self {
            path: path.to_owned(),
            options,
            id,
            dimension,
            max_tokens,
            slot: IdleSlot::new("embedding", keep_alive).map_err(|error| {
                InferenceError::Engine(format!("starting the idle timer: {error}"))
            })?,
            failed: OnceLock::new(),
            process: None,
        })
    }

    /// Runs the model in a model process started with `command` whenever it is loaded; the
    /// process ends when the model is unloaded.
    pub fn in_model_process(mut self, command: ProcessCommand) -> Self {
        self.process = Some(command);
        self
    }

    fn load(&self) -> Result<Engine, InferenceError> {
        match &self.process {
            #[cfg(feature = "engine")]
            None => LlamaEmbedder::load_with(&self.path, &self.options).map(Engine::Here),
            #[cfg(not(feature = "engine"))]
            None => Err(crate::model_process::needs_process()),
            Some(command) => ModelProcess::start(
                command,
                &ModelSpec::Embedding {
                    path: self.path.clone(),
                    threads: self.options.threads,
                    batch_tokens: self.options.batch_tokens,
                },
            )
            .map(Engine::Process),
        }
    }

    /// The loaded model, loading it when needed (and again when its process died). A model
    /// that cannot be loaded is remembered as failed; a process that could not start is not.
    fn engine(&self) -> Result<std::sync::Arc<Engine>, String> {
        let load = || {
            self.slot
                .get_or_load(|| self.load())
                .map_err(|error| match error {
                    InferenceError::Process(_) => error.to_string(),
                    _ => self.failed.get_or_init(|| error.to_string()).clone(),
                })
        };
        let engine = load()?;
        if engine.is_usable() {
            return Ok(engine);
        }
        self.slot.discard(&engine);
        load()
    }

    /// Whether the model has been loaded.
    pub fn is_loaded(&self) -> bool {
        self.slot.is_loaded()
    }

    /// Runs `work` with the model, loading it first when it is not in memory.
    fn with_model<R>(
        &self,
        work: impl FnOnce(&Engine, &dyn Fn(&str) -> EmbedError) -> Result<R, EmbedError>,
    ) -> Result<R, EmbedError> {
        let failure = |message: &str| EmbedError::Model {
            model: self.path.display().to_string(),
            message: message.to_owned(),
        };
        if let Some(message) = self.failed.get() {
            return Err(failure(message));
        }
        // Taken before the model is looked up, so it cannot be unloaded in between.
        let _lease = self.slot.lease();
        let engine = self.engine().map_err(|message| failure(&message))?;
        work(&engine, &failure)
    }
}

impl Embedder for LazyEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    fn count_tokens(&self, text: &str) -> Result<usize, EmbedError> {
        self.with_model(|engine, failure| match engine {
            #[cfg(feature = "engine")]
            Engine::Here(model) => model.count_tokens(text),
            Engine::Process(process) => process
                .count_tokens(text, None)
                .map_err(|message| failure(&message)),
        })
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.with_model(|engine, failure| match engine {
            #[cfg(feature = "engine")]
            Engine::Here(model) => model.embed(texts),
            Engine::Process(process) => process.embed(texts).map_err(|message| failure(&message)),
        })
    }
}
