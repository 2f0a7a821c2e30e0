//! The configured MCP servers as a [`ToolSource`] of the agent host: a persona's tool box gets
//! the tools (`SERVER__TOOL`) of the servers its scope may use — every server for the owner; for
//! a job only the servers whose tools its `tools` list names; none for the sanitizer or a model
//! without tools — starting those servers under the `[sandbox]` policy of `bash`. A server that
//! fails to start is reported in the log and offers nothing this turn.

use std::sync::Arc;

use localgpt_agent::host::ToolSource;
use localgpt_agent::tools::ToolBox;
use localgpt_core::config::McpServerConfig;
use localgpt_core::ingress::ToolScope;
use localgpt_sandbox::Policy;

use super::tool::SEPARATOR;

/// The `[[mcp.servers]]` of a configuration.
#[derive(Debug, Clone)]
pub struct McpTools {
    servers: Vec<McpServerConfig>,
}

impl McpTools {
    /// Offers the tools of `servers`.
    pub fn new(servers: Vec<McpServerConfig>) -> Self {
        Self { servers }
    }

    /// The servers `scope` may use.
    fn wanted(&self, scope: &ToolScope) -> Vec<McpServerConfig> {
        self.servers
            .iter()
            .filter(|server| match scope {
                ToolScope::All => true,
                ToolScope::Only(names) => {
                    let prefix = format!("{}{SEPARATOR}", server.name);
                    names.iter().any(|name| name.starts_with(&prefix))
                }
                ToolScope::None => false,
            })
            .cloned()
            .collect()
    }
}

impl ToolSource for McpTools {
    fn add_tools(&self, tools: &mut ToolBox, scope: &ToolScope, sandbox: &Policy) {
        let wanted = self.wanted(scope);
        if wanted.is_empty() {
            return;
        }
        let workspace = tools.context().workspace.clone();
        let discover = || super::discover(&wanted, &workspace, Some(sandbox));
        // Starting servers blocks; on a multi-threaded runtime, let its other tasks move
        // meanwhile.
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(name: &str) -> McpServerConfig {
        serde_json::from_value(serde_json::json!({"name": name, "command": "true"}))
            .expect("server config")
    }

    #[test]
    fn a_scope_gets_only_the_servers_it_names() {
        let source = McpTools::new(vec![server("files"), server("mail")]);
        let names = |scope: &ToolScope| -> Vec<String> {
            source
                .wanted(scope)
                .into_iter()
                .map(|server| server.name)
                .collect()
        };
        assert_eq!(names(&ToolScope::All), ["files", "mail"]);
        assert!(names(&ToolScope::None).is_empty());
        let job = ToolScope::Only(vec![format!("mail{SEPARATOR}send"), "bash".to_owned()]);
        assert_eq!(names(&job), ["mail"]);
        // A tool whose name only starts like a server's does not open that server.
        let near = ToolScope::Only(vec!["mailbox__x".to_owned(), "files".to_owned()]);
        assert!(names(&near).is_empty(), "{:?}", names(&near));
    }
}
