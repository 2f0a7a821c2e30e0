//! What the MCP server reads and writes: the memory index, the saved sessions, the workspace
//! (for appends to the daily log, confined like the agent's tools) and the redactor every
//! answer passes through.

use std::path::PathBuf;
use std::sync::Arc;

use localgpt_agent::sessions::SessionStore;
use localgpt_agent::tools::{AllowedRoots, ToolContext};
use localgpt_core::protected::ProtectedPaths;
use localgpt_core::redact::Redactor;
use localgpt_memory::MemoryHandle;

/// The owner's memory and sessions, as the MCP tools, resources and prompts see them.
#[derive(Debug, Clone)]
pub struct Backend {
    /// The memory index (search, and the only way files are read).
    pub memory: MemoryHandle,
    /// Saved conversations.
    pub sessions: SessionStore,
    /// Where `memory_append` writes: the workspace only, protected places refused.
    pub(crate) write_context: ToolContext,
    /// Scrubs known secrets from every text sent to a client.
    pub(crate) redactor: Arc<Redactor>,
}

impl Backend {
    /// A backend over `memory` and `sessions`, appending under `workspace` (its daily logs)
    /// with `protected` places refused, and scrubbing answers with `redactor`.
    pub fn new(
        memory: MemoryHandle,
        sessions: SessionStore,
        workspace: PathBuf,
        protected: ProtectedPaths,
        redactor: Redactor,
    ) -> Self {
        let workspace = workspace.canonicalize().unwrap_or(workspace);
        let roots = AllowedRoots::new(&workspace, &[]).with_protected(protected);
        Self {
            memory,
            sessions,
            write_context: ToolContext {
                workspace,
                roots: Arc::new(roots),
            },
            redactor: Arc::new(redactor),
        }
    }

    /// `text` with every known secret replaced.
    pub fn scrub(&self, text: &str) -> String {
        self.redactor.scrub(text).into_owned()
    }
}
