//! What can go wrong loading and running local models, in words a user can act on.

use std::path::PathBuf;

/// An inference-engine failure.
#[derive(Debug, thiserror::Error)]
pub enum InferenceError {
    /// File system failure.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a usable model.
    #[error("{path}: {reason}")]
    BadModelFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// llama.cpp could not load or run the model.
    #[error("llama.cpp: {0}")]
    Engine(String),
    /// No installed model has this name.
    #[error(
        "no model named `{name}` in {dir}; `localgpt models list` shows the installed ones, `localgpt models import PATH` adds one"
    )]
    UnknownModel {
        /// The name asked for.
        name: String,
        /// The models folder.
        dir: PathBuf,
    },
    /// A download failed or did not match its digest.
    #[error("downloading {url}: {reason}")]
    Download {
        /// What was fetched.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The model process could not be started, or stopped answering.
    #[error("model process: {0}")]
    Process(String),
    /// The model process could not load its model (its own error, in its words).
    #[error("{0}")]
    ProcessLoad(String),
    /// The source given to import is not a model.
    #[error("{path}: {reason}")]
    Import {
        /// The source.
        path: PathBuf,
        /// Why it cannot be imported.
        reason: String,
    },
}
