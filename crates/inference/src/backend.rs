//! The one llama.cpp backend of the process, started on first use, with llama.cpp's log lines
//! routed into `tracing` (they never reach the user's terminal directly).

use std::sync::OnceLock;

use llama_cpp_2::llama_backend::LlamaBackend;

use crate::error::InferenceError;

static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();

/// The process-wide llama.cpp backend.
pub fn backend() -> Result<&'static LlamaBackend, InferenceError> {
    BACKEND
        .get_or_init(|| {
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init().map_err(|error| error.to_string())
        })
        .as_ref()
        .map_err(|error| InferenceError::Engine(error.clone()))
}

/// Threads to run on by default: the cores this process may use.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}
