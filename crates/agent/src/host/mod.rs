//! One host for every front end. `ask`, `chat`, the daemon and the desktop app get their agents
//! and their control plane here, from a home's configuration and paths, its memory index and a
//! [`ModelSource`]: the owner's tools confined to the workspace (files, memory, sandboxed `bash`,
//! `web_fetch`, script tools, and what a [`ToolSource`] such as MCP adds), the persona's scope,
//! the system prompt with skills, recall, and the session transcript.
//!
//! The host knows no provider, engine or protocol: the binary plugs those in (models through
//! [`ModelSource`], MCP tools through [`ToolSource`]), so tests can build a real host with a
//! scripted model.

mod error;
mod models;
mod runner;
mod session;
pub mod setup;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use localgpt_core::chat::ChatModel;
use localgpt_core::config::Config;
use localgpt_core::ingress::ToolScope;
use localgpt_core::paths::Paths;
use localgpt_core::redact::Redactor;
use localgpt_memory::{MemoryHandle, WriteSource};
use localgpt_sandbox::Policy;

use crate::control::{ArtifactStore, ControlPlane, Persona, TrustPolicy};
use crate::recall::{RecallSettings, Recaller};
use crate::runtime::system_prompt::{self, PromptInputs};
use crate::runtime::{Agent, AgentSettings, Approver};
use crate::sessions::SessionStore;
use crate::skills::prompt_listing;
use crate::tools::bash::SandboxedBash;
use crate::tools::files::{EditFile, ListDir, ReadFile, WriteFile};
use crate::tools::memory::{MemoryAppend, MemoryGet, MemorySearch};
use crate::tools::web_fetch::WebFetch;
use crate::tools::{AllowedRoots, ToolBox, ToolContext, script};

pub use error::HostError;
pub use models::{DefaultModel, ModelSource, UnavailableModel};
pub use runner::{Approvals, HostRunner};
pub use session::SessionChoice;

/// Longest a turn may run.
pub const TURN_DEADLINE: Duration = Duration::from_secs(600);

/// Adds tools from outside the agent crate (MCP servers) to a persona's tool box.
pub trait ToolSource: Send + Sync {
    /// Adds the tools `scope` may use to `tools`; commands it starts run under `sandbox`.
    fn add_tools(&self, tools: &mut ToolBox, scope: &ToolScope, sandbox: &Policy);
}

/// A home's configuration, paths, memory and models, assembled into agents and a control plane.
#[derive(Clone)]
pub struct Host {
    config: Arc<Config>,
    paths: Paths,
    memory: MemoryHandle,
    models: Arc<dyn ModelSource>,
    tool_sources: Vec<Arc<dyn ToolSource>>,
    redactor: Redactor,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("home", &self.paths.home)
            .finish_non_exhaustive()
    }
}

/// What [`Host::plane`] sets up.
pub struct PlaneParts {
    /// The control plane.
    pub plane: Arc<ControlPlane>,
    /// The default model's name.
    pub model_name: String,
    /// Why the default model cannot answer (with the fix), when it cannot.
    pub model_problem: Option<String>,
}

impl PlaneParts {
    /// The parts, or the model's problem as an error: for `ask` and `chat`, which exist to talk
    /// to the model.
    pub fn require_model(self) -> Result<Self, UnavailableModel> {
        match &self.model_problem {
            Some(problem) => Err(UnavailableModel {
                name: self.model_name.clone(),
                problem: problem.clone(),
            }),
            None => Ok(self),
        }
    }
}

impl Host {
    /// A host for the home `paths` with `config`, sharing `memory`, making models with `models`.
    pub fn new(
        config: Config,
        paths: Paths,
        memory: MemoryHandle,
        models: Arc<dyn ModelSource>,
    ) -> Self {
        Self {
            config: Arc::new(config),
            paths,
            memory,
            models,
            tool_sources: Vec::new(),
            redactor: Redactor::default(),
        }
    }

    /// Adds the tools of `source` to every agent (within each persona's scope).
    pub fn with_tool_source(mut self, source: Arc<dyn ToolSource>) -> Self {
        self.tool_sources.push(source);
        self
    }

    /// Scrubs failed turns' text with `redactor` (the configuration's secrets).
    pub fn with_redactor(mut self, redactor: Redactor) -> Self {
        self.redactor = redactor;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The home's paths.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// The memory index shared by every agent of this host.
    pub fn memory(&self) -> &MemoryHandle {
        &self.memory
    }

    /// The model `reference` names, or the configured default.
    pub fn model(&self, reference: Option<&str>) -> Result<Arc<dyn ChatModel>, UnavailableModel> {
        self.models.model(reference)
    }

    /// The workspace folder, created when missing, as a real path.
    pub fn workspace(&self) -> Result<PathBuf, HostError> {
        let workspace = self.paths.workspace(&self.config);
        let failed = |source| HostError::Workspace {
            path: workspace.clone(),
            source,
        };
        std::fs::create_dir_all(&workspace).map_err(failed)?;
        workspace.canonicalize().map_err(failed)
    }

    /// The `[sandbox]` policy for commands run in `workspace`.
    pub fn sandbox_policy(&self, workspace: &std::path::Path) -> Policy {
        setup::sandbox_policy(&self.paths, &self.config, workspace)
    }

    /// Every tool of the owner, working in the workspace, with `memory` (this host's, or a view
    /// of it that records another write source): files, memory, sandboxed `bash`, `web_fetch`
    /// and script tools. Tool sources are not included (see [`Host::agent`]).
    pub fn owner_tools(&self, memory: &MemoryHandle) -> Result<ToolBox, HostError> {
        let workspace = self.workspace()?;
        let mut extra = self.paths.extra_paths(&self.config);
        extra.extend(
            self.config
                .sandbox
                .allow_write
                .iter()
                .map(|path| self.paths.expand(path)),
        );
        // Credential stores and LocalGPT's own config, state and models stay out of reach even
        // when a root contains them.
        let protected = setup::protected_paths(&self.paths);
        let context = ToolContext {
            roots: Arc::new(
                AllowedRoots::new(&workspace, &extra).with_protected(protected.clone()),
            ),
            workspace: workspace.clone(),
        };
        let mut tools = ToolBox::new(context)
            .with(MemorySearch(memory.clone()))
            .with(MemoryGet)
            .with(MemoryAppend(memory.clone()))
            .with(ReadFile)
            .with(WriteFile)
            .with(EditFile)
            .with(ListDir)
            .with(SandboxedBash::new(self.sandbox_policy(&workspace)))
            .with(WebFetch::default());
        let folders = setup::script_folders(&self.paths, &self.config);
        let (runners, problems) = script::load(&folders, &protected, Some(memory));
        for problem in problems {
            tracing::warn!(
                file = %problem.file.display(),
                "script tool not offered: {} (fix: {})",
                problem.message,
                problem.fix
            );
        }
        for runner in runners {
            tools.add(Arc::new(runner));
        }
        Ok(tools)
    }

    /// An agent for `persona`: its tools limited to the persona's scope, the persona's own
    /// system prompt where it has one (the sanitizer sees no workspace files and recalls
    /// nothing), its memory writes recording where `session` came from, and the session's
    /// transcript opened (new or resumed).
    pub fn agent(
        &self,
        model: Arc<dyn ChatModel>,
        session: &SessionChoice,
        approver: Arc<dyn Approver>,
        persona: &Persona,
    ) -> Result<Agent, HostError> {
        let agent_config = &self.config.agent;
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
        // What this session appends to memory records where the session came from.
        let origin = match session {
            SessionChoice::NewFrom(origin) => Some(origin.as_str()),
            _ => None,
        };
        let memory = self.memory.with_source(WriteSource::from_origin(origin));
        let mut tools = self.owner_tools(&memory)?;
        if !matches!(scope, ToolScope::None) {
            let policy = self.sandbox_policy(&tools.context().workspace);
            for source in &self.tool_sources {
                source.add_tools(&mut tools, &scope, &policy);
            }
        }
        let tools = tools.with_scope(scope);
        let skills = setup::find_skills(&self.paths, &self.config);
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
        let recalls =
            agent_config.recall.applies(!compact) && persona.fixed_system_prompt().is_none();
        let mut agent = Agent::new(model, tools, approver, settings, system);
        if recalls {
            agent = agent.with_recall(Recaller::new(
                memory,
                RecallSettings::for_context_window(context_window),
            ));
        }
        let store = SessionStore::new(self.paths.sessions_dir());
        let (writer, history) = session.open(&store, &workspace)?;
        Ok(agent.with_session(writer, history))
    }

    /// The control plane of this home: trust policy from the configuration, the default model
    /// (`model` or the configured one) made once, tools asking `approvals`, artifacts in
    /// `state/artifacts/`. A default model that cannot be set up does not stop the plane:
    /// everything else works, and a chat says what to do.
    pub fn plane(&self, model: Option<&str>, approvals: Approvals) -> PlaneParts {
        let default_model = self.models.model(model);
        let (model_name, model_problem) = match &default_model {
            Ok(model) => (model.name().to_owned(), None),
            Err(unavailable) => (unavailable.name.clone(), Some(unavailable.problem.clone())),
        };
        let runner = Arc::new(HostRunner::new(self.clone(), default_model, approvals));
        let plane = ControlPlane::new(
            TrustPolicy::from_config(&self.config),
            runner,
            TURN_DEADLINE,
        )
        .with_artifacts(ArtifactStore::new(self.paths.state_dir().join("artifacts")))
        .with_redactor(self.redactor.clone());
        PlaneParts {
            plane: Arc::new(plane),
            model_name,
            model_problem,
        }
    }
}
