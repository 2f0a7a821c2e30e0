//! The `local/…` provider: GGUF chat models run inside the binary. `local/NAME` loads an installed
//! model by name (or unique prefix) from `models/`; `[providers.local] model` may also be a path
//! to any `.gguf` file and is used for the built-in default.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use localgpt_core::chat::ChatModel;
use localgpt_core::config::BUILTIN_MODEL;
use localgpt_inference::{KeepAliveModel, LocalChatModel, LocalChatOptions, ModelStore};

use crate::app::App;
use crate::progress::Progress;

/// Loads the local chat model `name`, showing a spinner on a terminal while it loads. With
/// `idle_unload`, the model runs in a model process of its own while it is used, and that process
/// ends after `idle_unload` without a request.
pub fn load(
    app: &App,
    name: &str,
    idle_unload: Option<Duration>,
) -> anyhow::Result<Arc<dyn ChatModel>> {
    let settings = &app.config.providers.local;
    // The built-in default follows `[providers.local] model`, which may be a path.
    let wanted = if BUILTIN_MODEL.strip_prefix("local/") == Some(name) {
        settings.model.as_str()
    } else {
        name
    };
    let store = ModelStore::new(app.paths.models_dir());
    let target = if wanted.ends_with(".gguf") {
        app.paths.expand(wanted).to_string_lossy().into_owned()
    } else {
        wanted.to_owned()
    };
    let path = store.resolve(&target).with_context(|| {
        match crate::commands::models::only_installed_alternative(
            app,
            localgpt_inference::ModelKind::Chat,
        ) {
            Some(alternative) => {
                format!("the local model `{wanted}` is not installed; {alternative}")
            }
            None => format!(
                "the local model `{wanted}` is not installed; run `localgpt models pull \
                 smollm2-135m` (or `localgpt models import FILE.gguf`), or set \
                 agent.default_model to another provider"
            ),
        }
    })?;
    let options = LocalChatOptions {
        threads: settings.threads.map(|threads| threads as usize),
        context_size: settings.context_size,
        chat_template: None,
    };
    let spinner = Progress::spinner(&format!("loading {wanted}"), false);
    let model: anyhow::Result<Arc<dyn ChatModel>> = match idle_unload {
        Some(keep_alive) => KeepAliveModel::open(name, &path, &options, keep_alive)
            .map_err(anyhow::Error::from)
            .and_then(|model| Ok(model.in_model_process(crate::model_process::command()?)))
            .map(|model| Arc::new(model) as Arc<dyn ChatModel>),
        None => LocalChatModel::load(name, &path, &options)
            .map(|model| Arc::new(model) as Arc<dyn ChatModel>)
            .map_err(Into::into),
    };
    spinner.finish();
    model
}
