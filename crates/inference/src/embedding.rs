//! What configures and identifies a sentence-embedding model, shared by the engine
//! ([`crate::LlamaEmbedder`], feature `engine`) and the model that runs in a model process
//! ([`crate::LazyEmbedder`]).

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::InferenceError;

/// How to run an embedding model; `Default` gives the usual settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmbedderOptions {
    /// Threads to compute on (default: the physical cores, see [`crate::default_threads`]).
    pub threads: Option<usize>,
    /// Most tokens decoded together in one llama.cpp batch (default 256; never less than one
    /// whole input). Short texts share a batch; long ones go one or two at a time, because every
    /// token of a batch attends over the whole batch (masked), which costs the square of its size.
    pub batch_tokens: Option<usize>,
}

/// A stable id of the model file and the way it is used: file size plus a hash of its first
/// megabyte (header and vocabulary), and the input window.
pub(crate) fn model_fingerprint(path: &Path, max_tokens: usize) -> Result<String, InferenceError> {
    use std::io::Read;
    let io = |source| InferenceError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    let mut head = Vec::with_capacity(1 << 20);
    file.by_ref()
        .take(1 << 20)
        .read_to_end(&mut head)
        .map_err(io)?;
    let digest = hex::encode(&Sha256::digest(&head)[..8]);
    let name = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(format!("{name}:{size}:{digest}:{max_tokens}"))
}
