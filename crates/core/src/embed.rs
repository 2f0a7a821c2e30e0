//! The seam between the memory index and whatever turns text into vectors.
//!
//! The memory engine only knows this trait; the built-in llama.cpp engine (`localgpt-inference`)
//! and the OpenAI/Ollama embedding endpoints implement it. Calls are blocking: callers run them on a
//! blocking thread, next to the SQLite work they feed.

/// Why an embedding call failed, in words a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The model could not be loaded or is not an embedding model.
    #[error("embedding model {model}: {message}")]
    Model { model: String, message: String },
    /// The text could not be tokenized or embedded.
    #[error("embedding failed: {0}")]
    Inference(String),
    /// A remote embedding endpoint failed.
    #[error("embedding endpoint {endpoint}: {message}")]
    Remote { endpoint: String, message: String },
}

/// Turns text into fixed-size vectors, and counts tokens the way the model does.
pub trait Embedder: Send + Sync {
    /// A stable identifier of the model and its settings; cached vectors are keyed by it, so two
    /// embedders that give different vectors must never share an id.
    fn model_id(&self) -> &str;

    /// Length of every vector this embedder returns.
    fn dimension(&self) -> usize;

    /// Longest input, in the model's tokens, that is embedded whole; longer input is truncated.
    fn max_tokens(&self) -> usize;

    /// Number of tokens the model sees for `text` (special tokens excluded).
    fn count_tokens(&self, text: &str) -> Result<usize, EmbedError>;

    /// One L2-normalised vector per input text, in order.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError>;
}
