//! An embedder that reads only the model file's header until vectors or token counts are needed.
//! A keyword search, or a refresh that finds nothing changed, then never loads the model: the
//! index needs just the model's identity and dimension, which the GGUF header gives.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use localgpt_core::embed::{EmbedError, Embedder};

use crate::convert::MAX_SEQ_KEY;
use crate::embed::{EmbedderOptions, LlamaEmbedder, model_fingerprint};
use crate::error::InferenceError;
use crate::gguf;

/// A [`LlamaEmbedder`] loaded on first use.
pub struct LazyEmbedder {
    path: PathBuf,
    options: EmbedderOptions,
    id: String,
    dimension: usize,
    max_tokens: usize,
    loaded: OnceLock<Result<LlamaEmbedder, String>>,
}

impl std::fmt::Debug for LazyEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyEmbedder")
            .field("id", &self.id)
            .field("loaded", &self.loaded.get().is_some())
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
            loaded: OnceLock::new(),
        })
    }

    /// Whether the model has been loaded.
    pub fn is_loaded(&self) -> bool {
        self.loaded.get().is_some_and(Result::is_ok)
    }

    fn model(&self) -> Result<&LlamaEmbedder, EmbedError> {
        self.loaded
            .get_or_init(|| {
                LlamaEmbedder::load_with(&self.path, &self.options)
                    .map_err(|error| error.to_string())
            })
            .as_ref()
            .map_err(|message| EmbedError::Model {
                model: self.path.display().to_string(),
                message: message.clone(),
            })
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
        self.model()?.count_tokens(text)
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.model()?.embed(texts)
    }
}
