//! `localgpt tools list|test`: the script tools of `workspace/tools/` and of skills' `tools/`
//! folders — what each may use, what is wrong with the manifests that could not be loaded (file
//! and fix) — and running one with JSON arguments under its policy, exactly as the model would.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use localgpt_agent::tools::script::ScriptToolRunner;
use localgpt_agent::tools::{AllowedRoots, Tool, ToolContext, cap_output};
use localgpt_core::protected::ProtectedPaths;
use localgpt_core::text::{display_path, terminal_safe, terminal_safe_line};
use localgpt_scripts::{Catalog, TOOL_PREFIX};

use crate::app::App;
use crate::cli::ToolsCommand;

/// Where script tools live: the workspace's `tools/`, then each usable skill's `tools/`.
pub fn folders(app: &App) -> Vec<PathBuf> {
    localgpt_agent::host::setup::script_folders(&app.paths, &app.config)
}

/// Credential stores and LocalGPT's own config, state and models.
fn protected(app: &App) -> ProtectedPaths {
    localgpt_agent::host::setup::protected_paths(&app.paths)
}

/// Runs one `tools` subcommand; returns the exit status to leave with.
pub fn run(command: ToolsCommand, app: &App) -> anyhow::Result<i32> {
    match command {
        ToolsCommand::List { json } => {
            list(app, json)?;
            Ok(0)
        }
        ToolsCommand::Test { name, args, json } => test(app, &name, &args, json),
    }
}

fn list(app: &App, json: bool) -> anyhow::Result<()> {
    let catalog = Catalog::discover(&folders(app));
    if json {
        let tools: Vec<_> = catalog
            .tools
            .iter()
            .map(|tool| {
                serde_json::json!({
                    "name": tool.tool_name(),
                    "description": tool.description,
                    "parameters": tool.parameters,
                    "permissions": tool.permissions.describe(),
                    "manifest": tool.manifest_path,
                })
            })
            .collect();
        let problems: Vec<_> = catalog
            .problems
            .iter()
            .map(|problem| {
                serde_json::json!({
                    "file": problem.file,
                    "problem": problem.message,
                    "fix": problem.fix,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "tools": tools,
                "problems": problems,
            }))?
        );
        return Ok(());
    }
    if catalog.tools.is_empty() {
        println!(
            "No script tools. Put NAME.js (defining function run(args)) and NAME.toml (its \
             manifest) in {}",
            display_path(&app.paths.workspace(&app.config).join("tools"))
        );
    }
    for tool in &catalog.tools {
        println!(
            "{}  {}",
            tool.tool_name(),
            terminal_safe_line(&tool.description)
        );
        for line in tool.permissions.describe() {
            println!("    {}", terminal_safe_line(&line));
        }
        println!("    from {}", display_path(&tool.manifest_path));
    }
    if !catalog.problems.is_empty() {
        println!("\nProblems ({} not offered):", catalog.problems.len());
        for problem in &catalog.problems {
            println!(
                "  {}: {}",
                display_path(&problem.file),
                terminal_safe_line(&problem.message)
            );
            println!("    fix: {}", terminal_safe_line(&problem.fix));
        }
    }
    Ok(())
}

fn test(app: &App, name: &str, args: &str, json: bool) -> anyhow::Result<i32> {
    let catalog = Catalog::discover(&folders(app));
    let Some(tool) = catalog.get(name).cloned() else {
        let known: Vec<_> = catalog.tools.iter().map(|tool| tool.tool_name()).collect();
        anyhow::bail!(
            "there is no script tool `{}` (known: {}); `localgpt tools list` shows the problems \
             of those that could not be loaded",
            terminal_safe_line(name),
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        );
    };
    let arguments: serde_json::Value = serde_json::from_str(args)
        .with_context(|| format!("ARGS_JSON is not JSON: {}", terminal_safe_line(args)))?;
    let workspace = app.paths.workspace(&app.config);
    std::fs::create_dir_all(&workspace)
        .with_context(|| format!("creating the workspace {}", workspace.display()))?;
    let workspace = workspace.canonicalize()?;
    let protected = protected(app);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(async {
        let memory = match tool.permissions.memory {
            true => Some(crate::assistant::open_memory(app, None)?),
            false => None,
        };
        let context = ToolContext {
            roots: Arc::new(AllowedRoots::new(&workspace, &[]).with_protected(protected.clone())),
            workspace: workspace.clone(),
        };
        let runner = ScriptToolRunner::new(tool.clone(), protected, memory);
        anyhow::Ok(runner.run(arguments, &context).await)
    })?;
    let tool_name = format!("{TOOL_PREFIX}{}", tool.name);
    let (ok, text) = match outcome {
        Ok(output) => (
            true,
            cap_output(&output, localgpt_agent::tools::DEFAULT_OUTPUT_CAP),
        ),
        Err(error) => (false, error.to_string()),
    };
    if json {
        let key = if ok { "output" } else { "error" };
        println!(
            "{}",
            serde_json::json!({"tool": tool_name, "ok": ok, key: text})
        );
    } else if ok {
        println!("{}", terminal_safe(&text));
    } else {
        eprintln!("{tool_name} failed: {}", terminal_safe(&text));
    }
    Ok(if ok { 0 } else { 1 })
}
