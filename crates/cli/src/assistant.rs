//! Builds the assistant that `ask` and `chat` talk to: the model named on the command line or in
//! the configuration, every tool confined to the workspace, the memory index, the skills
//! catalogue, the system prompt and a session transcript (new or resumed).

use std::sync::Arc;

use anyhow::Context;
use localgpt_agent::control::Persona;
use localgpt_agent::recall::{RecallSettings, Recaller};
use localgpt_agent::runtime::system_prompt::{self, PromptInputs};
use localgpt_agent::runtime::{Agent, AgentSettings, Approver, transcript};
use localgpt_agent::sessions::SessionStore;
use localgpt_agent::skills::prompt_listing;
use localgpt_agent::tools::bash::SandboxedBash;
use localgpt_agent::tools::files::{EditFile, ListDir, ReadFile, WriteFile};
use localgpt_agent::tools::memory::{MemoryAppend, MemoryGet, MemorySearch};
use localgpt_agent::tools::web_fetch::WebFetch;
use localgpt_agent::tools::{AllowedRoots, ToolBox, ToolContext};
use localgpt_core::chat::ChatModel;
use localgpt_core::ingress::ToolScope;
use localgpt_memory::{MemoryHandle, WriteSource};

use crate::app::App;
use crate::commands::memory::open_index;
use crate::commands::skills;

/// Which conversation to continue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionChoice {
    /// A new session.
    New,
    /// A new session that records where its input came from (`heartbeat`, `telegram`, …).
    NewFrom(String),
    /// The session with this id (or unique prefix).
    Resume(String),
    /// The most recent session.
    Latest,
}

/// Creates the chat model `reference` names (or the configured default).
pub fn create_model(app: &App, reference: Option<&str>) -> anyhow::Result<Arc<dyn ChatModel>> {
    create_model_with(app, reference, None)
}

/// Like [`create_model`]; a local model is unloaded after `idle_unload` without use (the
/// daemon's `providers.local.keep_alive`) and loaded again when needed.
pub fn create_model_with(
    app: &App,
    reference: Option<&str>,
    idle_unload: Option<std::time::Duration>,
) -> anyhow::Result<Arc<dyn ChatModel>> {
    let reference = reference.unwrap_or(&app.config.agent.default_model);
    let target = localgpt_llm::ModelRef::resolve(reference, &app.config.agent.aliases)?;
    if target.provider == "local" {
        return crate::local_model::load(app, &target.model, idle_unload);
    }
    let model = localgpt_llm::ModelFactory::new(&app.config).create(reference)?;
    Ok(Arc::from(model))
}

/// The memory index of this home, shared by the memory tools (and the daemon's API).
pub fn open_memory(app: &App) -> anyhow::Result<MemoryHandle> {
    Ok(MemoryHandle::new(open_index(app, true, true)?))
}

/// The tools of an owner's session, working in the workspace, with `memory` (opened here when
/// not given).
pub fn owner_tools(app: &App, memory: Option<&MemoryHandle>) -> anyhow::Result<ToolBox> {
    let workspace = app.paths.workspace(&app.config);
    std::fs::create_dir_all(&workspace)
        .with_context(|| format!("creating the workspace {}", workspace.display()))?;
    let workspace = workspace.canonicalize()?;
    let mut extra = app.paths.extra_paths(&app.config);
    extra.extend(
        app.config
            .sandbox
            .allow_write
            .iter()
            .map(|path| app.paths.expand(path)),
    );
    let memory = match memory {
        Some(memory) => memory.clone(),
        None => open_memory(app)?,
    };
    // Credential stores and LocalGPT's own config, state and models stay out of reach even when
    // a root contains them.
    let protected = localgpt_core::protected::ProtectedPaths::for_current_user(&[
        app.paths.config_file.clone(),
        app.paths.state_dir(),
        app.paths.models_dir(),
    ]);
    let workspace_for_bash = workspace.clone();
    let protected_for_scripts = protected.clone();
    let context = ToolContext {
        roots: Arc::new(AllowedRoots::new(&workspace, &extra).with_protected(protected)),
        workspace,
    };
    let mut tools = ToolBox::new(context)
        .with(MemorySearch(memory.clone()))
        .with(MemoryGet)
        .with(MemoryAppend(memory.clone()))
        .with(ReadFile)
        .with(WriteFile)
        .with(EditFile)
        .with(ListDir)
        .with(SandboxedBash::new(crate::commands::sandbox::policy(
            app,
            &workspace_for_bash,
        )))
        .with(WebFetch::default());
    crate::commands::tools::add_script_tools(app, &mut tools, &protected_for_scripts, &memory);
    Ok(tools)
}

/// Adds the tools of the `[[mcp.servers]]` that `scope` may use (`SERVER__TOOL`), starting
/// those servers: every server for the owner, for a job only the servers whose tools its `tools`
/// list names, none for the sanitizer or a model without tools. Servers run under the `[sandbox]`
/// policy of `bash`. A server that fails to start is reported in the log and offers nothing this
/// turn.
pub fn add_mcp_tools(app: &App, tools: &mut ToolBox, scope: &ToolScope) {
    let wanted: Vec<_> = app
        .config
        .mcp
        .servers
        .iter()
        .filter(|server| match scope {
            ToolScope::All => true,
            ToolScope::Only(names) => {
                let prefix = format!("{}{}", server.name, localgpt_mcp::client::tool::SEPARATOR);
                names.iter().any(|name| name.starts_with(&prefix))
            }
            ToolScope::None => false,
        })
        .cloned()
        .collect();
    if wanted.is_empty() {
        return;
    }
    let workspace = tools.context().workspace.clone();
    let policy = crate::commands::sandbox::policy(app, &workspace);
    let discover = || localgpt_mcp::client::discover(&wanted, &workspace, Some(&policy));
    // Starting servers blocks; on the daemon's runtime, let its other tasks move meanwhile.
    let found = match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(discover)
        }
        _ => discover(),
    };
    for server in found {
        match server.tools {
            Ok(found) => {
                for tool in found {
                    tools.add(Arc::new(tool));
                }
            }
            Err(error) => {
                tracing::warn!(server = %server.name, "MCP server offers no tools: {error}")
            }
        }
    }
}

/// An agent for the owner, with its transcript.
pub fn build_agent(
    app: &App,
    model: Arc<dyn ChatModel>,
    session: &SessionChoice,
    approver: Arc<dyn Approver>,
) -> anyhow::Result<Agent> {
    build_scoped_agent(app, model, session, approver, &Persona::Root, None)
}

/// An agent for `persona` (for inputs from the bus): its tools limited to the persona's scope,
/// and the persona's own system prompt where it has one (the sanitizer sees no workspace files).
pub fn build_scoped_agent(
    app: &App,
    model: Arc<dyn ChatModel>,
    session: &SessionChoice,
    approver: Arc<dyn Approver>,
    persona: &Persona,
    memory: Option<&MemoryHandle>,
) -> anyhow::Result<Agent> {
    let agent_config = &app.config.agent;
    let context_window = model
        .context_window()
        .map_or(agent_config.context_window, |own| {
            own.min(agent_config.context_window)
        });
    // Models that cannot call tools get none, and a compact prompt they can follow.
    let compact = !model.supports_tools();
    let scope = if compact {
        ToolScope::None
    } else {
        persona.tool_scope()
    };
    let memory = match memory {
        Some(memory) => memory.clone(),
        None => open_memory(app)?,
    };
    // What this session appends to memory records where the session came from.
    let origin = match session {
        SessionChoice::NewFrom(origin) => Some(origin.as_str()),
        _ => None,
    };
    let memory = memory.with_source(WriteSource::from_origin(origin));
    let mut tools = owner_tools(app, Some(&memory))?;
    add_mcp_tools(app, &mut tools, &scope);
    let tools = tools.with_scope(scope);
    let skills = skills::find(app);
    let listing = prompt_listing(&skills);
    let system = match persona.fixed_system_prompt() {
        Some(fixed) => fixed.to_owned(),
        None => system_prompt::build(&PromptInputs {
            workspace: &tools.context().workspace,
            tools: &tools.specs(),
            skills: listing.as_deref(),
            model: model.name(),
            context_window,
            now: jiff::Zoned::now(),
            compact,
        }),
    };
    let settings = AgentSettings {
        max_tool_rounds: agent_config.max_tool_rounds,
        require_approval: agent_config.require_approval.clone(),
        context_window: agent_config.context_window,
        reserve_tokens: agent_config.reserve_tokens,
        max_tokens: if compact { Some(512) } else { None },
        guard_after_untrusted: agent_config.guard_after_untrusted,
        protected_paths: agent_config.protected_paths.clone(),
    };
    let workspace = tools.context().workspace.clone();
    // The sanitizer reads a stranger's text: nothing of the owner's memory goes near it.
    let recalls = agent_config.recall.applies(!compact) && persona.fixed_system_prompt().is_none();
    let mut agent = Agent::new(model, tools, approver, settings, system);
    if recalls {
        agent = agent.with_recall(Recaller::new(
            memory,
            RecallSettings::for_context_window(context_window),
        ));
    }
    let store = SessionStore::new(app.paths.sessions_dir());
    let (writer, history) = match session {
        SessionChoice::New => (store.create(&workspace)?, Vec::new()),
        SessionChoice::NewFrom(origin) => {
            let mut writer = store.create(&workspace)?;
            writer.append_origin(origin)?;
            (writer, Vec::new())
        }
        SessionChoice::Resume(id) => {
            let (writer, saved) = store.resume(id)?;
            (writer, transcript::conversation(&saved))
        }
        SessionChoice::Latest => match store.latest()? {
            Some(id) => {
                let (writer, saved) = store.resume(&id)?;
                (writer, transcript::conversation(&saved))
            }
            None => (store.create(&workspace)?, Vec::new()),
        },
    };
    Ok(agent.with_session(writer, history))
}
