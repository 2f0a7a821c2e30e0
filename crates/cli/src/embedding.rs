//! Choosing the embedding model for the memory index from the configuration: the built-in
//! engine with an installed model, a remote endpoint, or none (keyword search only). When the
//! configured model cannot be used, memory still works by keywords and the user is told why.

use std::sync::Arc;

use localgpt_core::config::EmbeddingProvider;
use localgpt_core::embed::Embedder;

use crate::app::App;

/// The embedder to use, or `None` with the reason memory is keyword-only.
pub fn embedder_for(app: &App) -> (Option<Arc<dyn Embedder>>, Option<String>) {
    match app.config.memory.embedding {
        EmbeddingProvider::None => (None, None),
        other => (
            None,
            Some(format!(
                "memory.embedding = \"{}\" is not available in this build yet; searching keywords only",
                match other {
                    EmbeddingProvider::Local => "local",
                    EmbeddingProvider::Openai => "openai",
                    EmbeddingProvider::Ollama => "ollama",
                    EmbeddingProvider::None => "none",
                }
            )),
        ),
    }
}
