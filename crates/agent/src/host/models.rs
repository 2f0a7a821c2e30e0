//! Where the host's chat models come from. The host does not know providers or engines: the
//! binary hands it a [`ModelSource`] (remote providers through `localgpt-llm`, the built-in
//! model through `localgpt-inference`), and a test hands it a scripted one.

use std::sync::Arc;

use localgpt_core::chat::ChatModel;

/// Makes chat models by reference (`anthropic/claude-…`, `local/…`, an alias).
pub trait ModelSource: Send + Sync {
    /// The model `reference` names, or the configured default when `None`.
    fn model(&self, reference: Option<&str>) -> Result<Arc<dyn ChatModel>, UnavailableModel>;
}

/// A model that could not be set up: its name and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem}")]
pub struct UnavailableModel {
    /// The model's name, as configured or asked for.
    pub name: String,
    /// Why, with the command or variable that fixes it.
    pub problem: String,
}

/// The default model, or why it could not be set up (with the fix). Everything but a chat
/// works without it.
pub type DefaultModel = Result<Arc<dyn ChatModel>, UnavailableModel>;
