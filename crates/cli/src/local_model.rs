//! The `local/…` provider: GGUF chat models run inside the binary.

use std::sync::Arc;

use localgpt_core::chat::ChatModel;

use crate::app::App;

/// Loads the local chat model `name` (a name under `models/` or a `.gguf` path).
pub fn load(_app: &App, name: &str) -> anyhow::Result<Arc<dyn ChatModel>> {
    anyhow::bail!("the built-in model `local/{name}` is not available in this build yet")
}
