//! Script tools as agent tools: each `workspace/tools/NAME.js` (or a skill's `tools/NAME.js`)
//! with its manifest is offered to the model as `js_NAME`, like a built-in tool — under the
//! persona's scope, `agent.require_approval` and the taint guard (which treats it like `bash`).
//! A call runs the script on a blocking thread in [`localgpt_scripts`]'s engine with only the
//! host functions its manifest grants, checked by [`PolicyHost`]; `memory.search` goes to the
//! memory index through [`MemoryHandle`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use localgpt_core::chat::ToolSpec;
use localgpt_core::protected::ProtectedPaths;
use localgpt_memory::SearchOptions;
use localgpt_scripts::{Catalog, MemorySearcher, PolicyHost, Problem, ScriptTool};
use serde_json::Value;

use super::safe_io::run_blocking;
use super::{Tool, ToolContext, ToolError, ToolFuture};
use localgpt_memory::MemoryHandle;

/// Time allowed beyond a script's own limit before the call is abandoned (its engine has
/// already been interrupted by then; this only guards a stuck host call).
const GRACE: Duration = Duration::from_secs(5);

/// One script tool, ready for the tool box.
#[derive(Clone)]
pub struct ScriptToolRunner {
    tool: Arc<ScriptTool>,
    protected: ProtectedPaths,
    memory: Option<MemoryHandle>,
}

impl std::fmt::Debug for ScriptToolRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptToolRunner")
            .field("tool", &self.tool.name)
            .finish_non_exhaustive()
    }
}

impl ScriptToolRunner {
    /// `tool`, refusing `protected` places, with `memory` for `memory.search`.
    pub fn new(tool: ScriptTool, protected: ProtectedPaths, memory: Option<MemoryHandle>) -> Self {
        Self {
            tool: Arc::new(tool),
            protected,
            memory,
        }
    }
}

/// The script tools in `folders` (the workspace's `tools/` first, then skills'), and the
/// problems of those that could not be loaded.
pub fn load(
    folders: &[PathBuf],
    protected: &ProtectedPaths,
    memory: Option<&MemoryHandle>,
) -> (Vec<ScriptToolRunner>, Vec<Problem>) {
    let catalog = Catalog::discover(folders);
    let runners = catalog
        .tools
        .into_iter()
        .map(|tool| ScriptToolRunner::new(tool, protected.clone(), memory.cloned()))
        .collect();
    (runners, catalog.problems)
}

/// `memory.search` for scripts: the index searched on the caller's runtime.
struct MemoryBridge {
    memory: MemoryHandle,
    runtime: tokio::runtime::Handle,
}

impl MemorySearcher for MemoryBridge {
    fn search(&self, query: &str, limit: usize) -> Result<Value, String> {
        let options = SearchOptions {
            limit,
            ..SearchOptions::default()
        };
        let found = self
            .runtime
            .block_on(self.memory.search(query.to_owned(), options))
            .map_err(|error| error.to_string())?;
        serde_json::to_value(&found.results).map_err(|error| error.to_string())
    }
}

impl Tool for ScriptToolRunner {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: self.tool.tool_name(),
            description: format!(
                "{} (script tool; {})",
                self.tool.description,
                self.tool.permissions.describe().join("; ")
            ),
            parameters: self.tool.parameters.clone(),
        }
    }

    fn run<'a>(&'a self, arguments: Value, context: &'a ToolContext) -> ToolFuture<'a> {
        Box::pin(async move {
            let tool = Arc::clone(&self.tool);
            let mut host = PolicyHost::new(
                &context.workspace,
                self.protected.clone(),
                &tool.permissions,
            );
            if let Some(memory) = &self.memory {
                host = host.with_memory(Arc::new(MemoryBridge {
                    memory: memory.clone(),
                    runtime: tokio::runtime::Handle::current(),
                }));
            }
            let limit = Duration::from_millis(tool.permissions.timeout_ms) + GRACE;
            let name = tool.tool_name();
            run_blocking(&name, limit, move || {
                localgpt_scripts::run(&tool, &arguments, Arc::new(host))
                    .map(|output| output.to_text())
                    .map_err(|error| match error {
                        localgpt_scripts::ScriptError::InvalidArguments(message) => {
                            ToolError::InvalidArguments(message)
                        }
                        other => ToolError::Failed(other.to_string()),
                    })
            })
            .await
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use localgpt_core::ingress::ToolScope;

    use super::*;
    use crate::tools::{AllowedRoots, ToolBox};

    fn toolbox(scope: ToolScope) -> (tempfile::TempDir, ToolBox) {
        let dir = tempfile::tempdir().unwrap();
        let tools = dir.path().join("tools");
        std::fs::create_dir_all(&tools).unwrap();
        std::fs::write(
            tools.join("echo.toml"),
            "description = \"Echoes.\"\n[parameters]\ntype = \"object\"\nrequired = [\"text\"]\n",
        )
        .unwrap();
        std::fs::write(
            tools.join("echo.js"),
            "function run(args) { return 'echo: ' + args.text; }",
        )
        .unwrap();
        let (runners, problems) = load(&[tools], &ProtectedPaths::default(), None);
        assert!(problems.is_empty(), "{problems:?}");
        let context = ToolContext {
            workspace: dir.path().to_path_buf(),
            roots: Arc::new(AllowedRoots::new(dir.path(), &[])),
        };
        let mut toolbox = ToolBox::new(context).with_scope(scope);
        for runner in runners {
            toolbox.add(Arc::new(runner));
        }
        (dir, toolbox)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn script_tools_follow_the_persona_scope() {
        let (_dir, owner) = toolbox(ToolScope::All);
        assert_eq!(owner.specs()[0].name, "js_echo");
        let output = owner
            .call("js_echo", serde_json::json!({"text": "hi"}))
            .await;
        assert!(output.unwrap().contains("echo: hi"));
        let missing = owner.call("js_echo", serde_json::json!({})).await;
        assert!(matches!(missing, Err(ToolError::InvalidArguments(_))));

        let (_dir, job) = toolbox(ToolScope::Only(vec!["js_echo".to_owned()]));
        assert_eq!(job.specs().len(), 1);
        let (_dir, other_job) = toolbox(ToolScope::Only(vec!["bash".to_owned()]));
        assert!(other_job.specs().is_empty());
        let refused = other_job
            .call("js_echo", serde_json::json!({"text": "hi"}))
            .await;
        assert!(matches!(refused, Err(ToolError::NotAllowed(_))));
        let (_dir, sanitizer) = toolbox(ToolScope::None);
        assert!(sanitizer.specs().is_empty());
        let refused = sanitizer
            .call("js_echo", serde_json::json!({"text": "hi"}))
            .await;
        assert!(matches!(refused, Err(ToolError::NotAllowed(_))));
    }
}
