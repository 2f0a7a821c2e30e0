//! Choosing the embedding model for the memory index from the configuration. When the configured
//! model cannot be used, memory still works by keywords and the user is told why and what to do.

use std::sync::Arc;
use std::time::Duration;

use localgpt_core::config::EmbeddingProvider;
use localgpt_core::embed::Embedder;
use localgpt_inference::{
    EmbedderOptions, InferenceError, LazyEmbedder, ModelStore, RemoteEmbedder, RemoteKind,
};

use crate::app::App;

/// The embedder to use, or `None` with the reason memory is keyword-only. A local model runs in a
/// model process of its own while it is used; with `keep_alive`, that process ends after
/// `keep_alive` without use.
pub fn embedder_for(
    app: &App,
    keep_alive: Option<Duration>,
) -> (Option<Arc<dyn Embedder>>, Option<String>) {
    let configured = &app.config.memory.embedding_model;
    match app.config.memory.embedding {
        EmbeddingProvider::None => (None, None),
        EmbeddingProvider::Local => {
            let store = ModelStore::new(app.paths.models_dir());
            let path = match store.resolve(configured) {
                Ok(path) => path,
                Err(InferenceError::UnknownModel { .. }) => {
                    let fix = crate::commands::models::only_installed_alternative(
                        app,
                        localgpt_inference::ModelKind::Embedding,
                    )
                    .unwrap_or_else(|| {
                        "run `localgpt models pull all-minilm-l6-v2` (or `models import PATH`)"
                            .to_owned()
                    });
                    return (
                        None,
                        Some(format!(
                            "embedding model `{configured}` is not installed, so memory search uses keywords only; {fix}"
                        )),
                    );
                }
                Err(error) => {
                    return (
                        None,
                        Some(format!(
                            "embedding model `{configured}`: {error}; memory search uses keywords only"
                        )),
                    );
                }
            };
            let options = EmbedderOptions {
                threads: app.config.providers.local.threads.map(|n| n as usize),
                ..EmbedderOptions::default()
            };
            // Loaded on first use: keyword searches and no-change refreshes never load the model.
            let opened = LazyEmbedder::open_unloading(&path, options, keep_alive)
                .map_err(anyhow::Error::from)
                .and_then(|embedder| {
                    Ok(embedder.in_model_process(crate::model_process::command()?))
                });
            match opened {
                Ok(embedder) => (Some(Arc::new(embedder)), None),
                Err(error) => (
                    None,
                    Some(format!(
                        "embedding model `{configured}` could not be loaded ({error}); memory search uses keywords only"
                    )),
                ),
            }
        }
        EmbeddingProvider::Openai | EmbeddingProvider::Ollama => remote_embedder(app),
    }
}

/// The local default model name means "the provider's usual embedding model" for remote ones.
const LOCAL_DEFAULT_MODEL: &str = "all-minilm-l6-v2";

fn remote_embedder(app: &App) -> (Option<Arc<dyn Embedder>>, Option<String>) {
    let config = &app.config;
    let configured = (config.memory.embedding_model != LOCAL_DEFAULT_MODEL)
        .then(|| config.memory.embedding_model.clone());
    let max_tokens = config.memory.chunk_tokens as usize;
    let (kind, base, model, key, label) = match config.memory.embedding {
        EmbeddingProvider::Ollama => (
            RemoteKind::Ollama,
            config.providers.ollama.endpoint.clone(),
            configured.unwrap_or_else(|| "nomic-embed-text".to_owned()),
            None,
            "Ollama",
        ),
        _ => {
            let key = config
                .providers
                .openai
                .api_key
                .as_ref()
                .map(|key| key.expose().to_owned())
                .or_else(|| std::env::var("OPENAI_API_KEY").ok());
            if key.is_none() && config.providers.openai.base_url.is_none() {
                return (None, Some("memory.embedding = \"openai\" needs a key: set OPENAI_API_KEY or `localgpt config set providers.openai.api_key …`; memory search uses keywords only".to_owned()));
            }
            let base = config
                .providers
                .openai
                .base_url
                .clone()
                .unwrap_or_else(|| "https://api.openai.com/v1".to_owned());
            (
                RemoteKind::OpenAi,
                base,
                configured.unwrap_or_else(|| "text-embedding-3-small".to_owned()),
                key,
                "OpenAI",
            )
        }
    };
    match RemoteEmbedder::connect(kind, &base, &model, key, max_tokens) {
        Ok(embedder) => (Some(Arc::new(embedder)), None),
        Err(error) => (
            None,
            Some(format!(
                "{label} embeddings are not available ({error}); memory search uses keywords only"
            )),
        ),
    }
}
