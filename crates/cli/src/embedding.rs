//! Choosing the embedding model for the memory index from the configuration. When the configured
//! model cannot be used, memory still works by keywords and the user is told why and what to do.

use std::sync::Arc;

use localgpt_core::config::EmbeddingProvider;
use localgpt_core::embed::Embedder;
use localgpt_inference::{InferenceError, LazyEmbedder, ModelStore};

use crate::app::App;

/// The embedder to use, or `None` with the reason memory is keyword-only.
pub fn embedder_for(app: &App) -> (Option<Arc<dyn Embedder>>, Option<String>) {
    let configured = &app.config.memory.embedding_model;
    match app.config.memory.embedding {
        EmbeddingProvider::None => (None, None),
        EmbeddingProvider::Local => {
            let store = ModelStore::new(app.paths.models_dir());
            let path = match store.resolve(configured) {
                Ok(path) => path,
                Err(InferenceError::UnknownModel { .. }) => {
                    return (
                        None,
                        Some(format!("embedding model `{configured}` is not installed, so memory search uses keywords only; run `localgpt models pull all-minilm-l6-v2` (or `models import PATH`)")),
                    );
                }
                Err(error) => return (None, Some(format!("embedding model `{configured}`: {error}; memory search uses keywords only"))),
            };
            let threads = app.config.providers.local.threads.map(|n| n as usize);
            // Loaded on first use: keyword searches and no-change refreshes never load the model.
            match LazyEmbedder::open(&path, threads) {
                Ok(embedder) => (Some(Arc::new(embedder)), None),
                Err(error) => (None, Some(format!("embedding model `{configured}` could not be loaded ({error}); memory search uses keywords only"))),
            }
        }
        EmbeddingProvider::Openai | EmbeddingProvider::Ollama => (
            None,
            Some("remote embedding endpoints (memory.embedding = \"openai\" / \"ollama\") are not available in this build yet; memory search uses keywords only".to_owned()),
        ),
    }
}
