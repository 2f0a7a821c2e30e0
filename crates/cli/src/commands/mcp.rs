//! `localgpt mcp-server`: LocalGPT's memory and sessions as a Model Context Protocol server on
//! stdio, for Claude Desktop, Claude Code, Codex and editors (the owner's own tools start it).
//! The daemon serves the same server on `/mcp`; [`backend`] builds what both read.

use anyhow::Context;
use localgpt_agent::sessions::SessionStore;
use localgpt_agent::tools::memory::MemoryHandle;
use localgpt_mcp::{Backend, McpServer};

use crate::app::App;
use crate::assistant::open_memory;

/// What the MCP server reads and writes for this home: `memory`, the saved sessions, today's
/// daily log in the workspace (LocalGPT's own files and credential stores protected), and the
/// configuration's secrets scrubbed from every answer.
pub fn backend(app: &App, memory: MemoryHandle) -> anyhow::Result<Backend> {
    let workspace = app.paths.workspace(&app.config);
    std::fs::create_dir_all(&workspace)
        .with_context(|| format!("creating the workspace {}", workspace.display()))?;
    let protected = localgpt_core::protected::ProtectedPaths::for_current_user(&[
        app.paths.config_file.clone(),
        app.paths.state_dir(),
        app.paths.models_dir(),
    ]);
    Ok(Backend::new(
        memory,
        SessionStore::new(app.paths.sessions_dir()),
        workspace,
        protected,
        localgpt_llm::ModelFactory::new(&app.config).redactor(),
    ))
}

/// Serves MCP on standard input and output until the client closes it.
pub fn serve_stdio(app: &App) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let memory = open_memory(app)?;
    let server = McpServer::new(backend(app, memory)?);
    runtime
        .block_on(localgpt_mcp::stdio::serve_stdio(&server))
        .context("serving MCP on stdio")
}
