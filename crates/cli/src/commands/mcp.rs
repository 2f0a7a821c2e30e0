//! `localgpt mcp-server`: LocalGPT's memory and sessions as a Model Context Protocol server on
//! stdio, for Claude Desktop, Claude Code, Codex and editors (the owner's own tools start it).
//! The daemon serves the same server on `/mcp`; [`backend`] builds what both read.
//! `localgpt mcp list` starts the other servers of `[[mcp.servers]]` and shows their tools.

use anyhow::Context;
use localgpt_agent::sessions::SessionStore;
use localgpt_mcp::{Backend, McpServer};
use localgpt_memory::MemoryHandle;

use crate::app::App;
use crate::assistant::open_memory;
use crate::cli::McpCommand;

/// What the MCP server reads and writes for this home: `memory`, the saved sessions, today's
/// daily log in the workspace (LocalGPT's own files and credential stores protected), and the
/// configuration's secrets scrubbed from every answer.
pub fn backend(app: &App, memory: MemoryHandle) -> anyhow::Result<Backend> {
    let workspace = app.paths.workspace(&app.config);
    std::fs::create_dir_all(&workspace)
        .with_context(|| format!("creating the workspace {}", workspace.display()))?;
    let protected = localgpt_agent::host::setup::protected_paths(&app.paths);
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
    // A long-lived server: the embedding model leaves memory when idle, as in the daemon.
    let memory = open_memory(app, Some(app.config.providers.local.keep_alive.0))?;
    let server = McpServer::new(backend(app, memory)?);
    runtime
        .block_on(localgpt_mcp::stdio::serve_stdio(&server))
        .context("serving MCP on stdio")
}

/// Runs `localgpt mcp …`.
pub fn run(command: McpCommand, app: &App) -> anyhow::Result<()> {
    match command {
        McpCommand::List { json } => list(app, json),
    }
}

/// Starts every configured server and prints its tools as the model is offered them. Text from
/// the servers is printed with terminal control sequences escaped.
fn list(app: &App, json: bool) -> anyhow::Result<()> {
    use localgpt_agent::tools::Tool;
    use localgpt_core::text::terminal_safe_line;

    let servers = &app.config.mcp.servers;
    let workspace = app.paths.workspace(&app.config);
    std::fs::create_dir_all(&workspace)
        .with_context(|| format!("creating the workspace {}", workspace.display()))?;
    let workspace = workspace
        .canonicalize()
        .with_context(|| format!("resolving the workspace {}", workspace.display()))?;
    let policy = crate::commands::sandbox::policy(app, &workspace);
    let found = localgpt_mcp::client::discover(servers, &workspace, Some(&policy));
    if json {
        let listing: Vec<_> = found
            .iter()
            .zip(servers)
            .map(|(server, config)| match &server.tools {
                Ok(tools) => serde_json::json!({
                    "name": server.name,
                    "command": config.command,
                    "tools": tools.iter().map(|tool| {
                        let spec = tool.spec();
                        serde_json::json!({"name": spec.name, "remote_name": tool.remote_name(),
                            "description": spec.description})
                    }).collect::<Vec<_>>(),
                }),
                Err(error) => serde_json::json!({
                    "name": server.name, "command": config.command, "error": error.to_string(),
                }),
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&listing)?);
        return Ok(());
    }
    if servers.is_empty() {
        println!("No MCP servers configured: add [[mcp.servers]] to config.toml.");
        return Ok(());
    }
    for (server, config) in found.iter().zip(servers) {
        println!(
            "{} ({})",
            terminal_safe_line(&server.name),
            terminal_safe_line(&config.command)
        );
        match &server.tools {
            Ok(tools) if tools.is_empty() => println!("  no tools"),
            Ok(tools) => {
                for tool in tools {
                    let spec = tool.spec();
                    println!(
                        "  {}  {}",
                        terminal_safe_line(&spec.name),
                        terminal_safe_line(&spec.description)
                    );
                }
            }
            Err(error) => println!("  error: {}", terminal_safe_line(&error.to_string())),
        }
    }
    Ok(())
}
