//! The binary's side of the agent host: the host of this home (`localgpt_agent::host`) with the
//! parts only the binary has — chat models from the providers (`localgpt-llm`) and the built-in
//! engine (`localgpt-inference`), the memory index opened with the local embedding model, and the
//! configured MCP servers as a tool source. `ask`, `chat`, the daemon and the desktop app's daemon
//! all get their agents from [`host`].

use std::sync::Arc;
use std::time::Duration;

use localgpt_agent::host::{Host, ModelSource, UnavailableModel};
use localgpt_core::chat::ChatModel;
use localgpt_memory::MemoryHandle;

pub use localgpt_agent::host::SessionChoice;

use crate::app::App;
use crate::commands::memory::{Vectors, open_index_with};

/// Creates the chat model `reference` names (or the configured default); a local model is
/// unloaded after `idle_unload` without use (the daemon's `providers.local.keep_alive`) and
/// loaded again when needed.
fn create_model_with(
    app: &App,
    reference: Option<&str>,
    idle_unload: Option<Duration>,
) -> anyhow::Result<Arc<dyn ChatModel>> {
    let reference = reference.unwrap_or(&app.config.agent.default_model);
    let target = localgpt_llm::ModelRef::resolve(reference, &app.config.agent.aliases)?;
    if target.provider == "local" {
        return crate::local_model::load(app, &target.model, idle_unload);
    }
    let model = localgpt_llm::ModelFactory::new(&app.config).create(reference)?;
    Ok(Arc::from(model))
}

/// The memory index of this home, shared by the memory tools (and the daemon's API). A local
/// embedding model is unloaded after `idle_unload` without use.
pub fn open_memory(app: &App, idle_unload: Option<Duration>) -> anyhow::Result<MemoryHandle> {
    Ok(MemoryHandle::new(open_index_with(
        app,
        true,
        Vectors::Configured {
            unload_after: idle_unload,
        },
    )?))
}

/// The host of this home, sharing `memory` (opened here when not given). The local chat and
/// embedding models it makes are unloaded after `idle_unload` without use.
pub fn host(
    app: &App,
    memory: Option<MemoryHandle>,
    idle_unload: Option<Duration>,
) -> anyhow::Result<Host> {
    let memory = match memory {
        Some(memory) => memory,
        None => open_memory(app, idle_unload)?,
    };
    let models = BinaryModels {
        app: app.clone(),
        idle_unload,
    };
    Ok(Host::new(
        app.config.clone(),
        app.paths.clone(),
        memory,
        Arc::new(models),
    )
    .with_tool_source(Arc::new(localgpt_mcp::client::McpTools::new(
        app.config.mcp.servers.clone(),
    )))
    .with_redactor(localgpt_llm::ModelFactory::new(&app.config).redactor()))
}

/// Models from the configured providers and the built-in engine.
struct BinaryModels {
    app: App,
    idle_unload: Option<Duration>,
}

impl ModelSource for BinaryModels {
    fn model(&self, reference: Option<&str>) -> Result<Arc<dyn ChatModel>, UnavailableModel> {
        create_model_with(&self.app, reference, self.idle_unload).map_err(|error| {
            UnavailableModel {
                name: reference
                    .unwrap_or(&self.app.config.agent.default_model)
                    .to_owned(),
                problem: format!("{error:#}"),
            }
        })
    }
}
