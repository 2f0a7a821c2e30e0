//! LocalGPT's in-process model engine, on llama.cpp (through `llama-cpp-2`): sentence embeddings
//! for the memory index, the local models folder with import from GGUF files, sentence-transformers
//! folders, zips and Python wheels, and a GGUF reader/writer for checking and converting models.
//! It also speaks to embedding servers (OpenAI-compatible and Ollama) through the same
//! `Embedder` seam. Chat models join in the built-in model issue.

mod backend;
pub mod convert;
pub mod download;
#[cfg(feature = "engine")]
mod embed;
mod embedding;
mod error;
pub mod gguf;
pub mod idle;
mod lazy;
pub mod local_chat;
pub mod model_process;
pub mod process_memory;
pub mod quantize;
pub mod registry;
mod remote;
pub mod store;

pub use backend::{LIBRARY_DIR_VAR, default_threads, library_dir};
pub use convert::{Precision, UnknownPrecision};
#[cfg(feature = "engine")]
pub use embed::LlamaEmbedder;
pub use embedding::EmbedderOptions;
pub use error::InferenceError;
pub use lazy::LazyEmbedder;
#[cfg(feature = "engine")]
pub use local_chat::LocalChatModel;
pub use local_chat::{KeepAliveModel, LocalChatOptions};
pub use registry::{KNOWN_MODELS, KnownModel, known_model, pull};
pub use remote::{RemoteEmbedder, RemoteKind};
pub use store::{ImportOptions, InstalledModel, ModelKind, ModelStore};
