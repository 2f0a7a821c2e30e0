//! The `local/…` provider: GGUF chat models run inside the binary. `local/NAME` loads an installed
//! model by name (or unique prefix) from `models/`; `[providers.local] model` may also be a path
//! to any `.gguf` file and is used for the built-in default.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use localgpt_core::chat::ChatModel;
use localgpt_core::config::BUILTIN_MODEL;
use localgpt_inference::{KeepAliveModel, LocalChatOptions, ModelStore};

use crate::app::App;
use crate::progress::Progress;

/// Loads the local chat model `name` in a model process of its own. With `idle_unload` (the
/// daemon) the model loads on the first request and its process ends after `idle_unload`
/// without one; without it (a command) it loads now, with a spinner on a terminal, and its
/// process ends with the model.
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
    let model = KeepAliveModel::open(name, &path, &options, idle_unload)?
        .in_model_process(crate::model_process::command()?);
    if idle_unload.is_none() {
        let spinner = Progress::spinner(&format!("loading {wanted}"), false);
        let loaded = model.preload();
        spinner.finish();
        loaded?;
    }
    Ok(Arc::new(model))
}
