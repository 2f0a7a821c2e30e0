//! A remote MCP tool as one of the agent's [`Tool`]s. Its name on the wire is `SERVER__TOOL`
//! (model APIs accept only `[a-zA-Z0-9_-]{1,64}`: other characters become `_`, and a name still
//! too long is not offered), its description starts with `[SERVER]`, and its output is the
//! server's text, which the tool box fences as data like every tool's. The call runs on the
//! client runtime ([`super::runtime`]), so a slow server never holds the turn past its timeout.

use std::sync::Arc;

use localgpt_agent::tools::{Tool, ToolContext, ToolError, ToolFuture};
use localgpt_core::chat::ToolSpec;
use serde_json::Value;

use super::server::ServerClient;

/// Most characters of a remote tool's description offered to the model.
const MAX_DESCRIPTION: usize = 1_000;

/// Separates the server's name from the tool's in an exposed name.
pub const SEPARATOR: &str = "__";

/// The name a tool of `server` called `tool` is offered under, when it fits the wire format.
pub fn exposed_name(server: &str, tool: &str) -> Option<String> {
    let clean = |text: &str| -> String {
        text.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let name = format!("{}{SEPARATOR}{}", clean(server), clean(tool));
    (!server.is_empty() && !tool.is_empty() && name.len() <= 64).then_some(name)
}

/// Whether `name` may name a server: letters, digits, `_` and `-`, without `__`.
pub fn valid_server_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && !name.contains(SEPARATOR)
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// One tool of one server.
#[derive(Debug, Clone)]
pub struct RemoteTool {
    server: Arc<ServerClient>,
    remote_name: String,
    spec: ToolSpec,
}

impl RemoteTool {
    /// The tool `listed` (one entry of `tools/list`) of `server`, or `None` when it has no name
    /// that fits the wire format.
    pub fn from_listing(server: Arc<ServerClient>, listed: &Value) -> Option<Self> {
        let remote_name = listed.get("name").and_then(Value::as_str)?.to_owned();
        let name = exposed_name(&server.name, &remote_name)?;
        let description: String = listed
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .chars()
            .take(MAX_DESCRIPTION)
            .collect();
        let mut parameters = listed
            .get("inputSchema")
            .filter(|schema| schema.is_object())
            .cloned()
            .unwrap_or_else(|| serde_json::json!({"type": "object"}));
        if let Some(object) = parameters.as_object_mut() {
            object.insert("type".to_owned(), Value::String("object".to_owned()));
        }
        let spec = ToolSpec {
            name,
            description: format!("[{}] {description}", server.name),
            parameters,
        };
        Some(Self {
            server,
            remote_name,
            spec,
        })
    }

    /// The tool's name on its server.
    pub fn remote_name(&self) -> &str {
        &self.remote_name
    }
}

impl Tool for RemoteTool {
    fn spec(&self) -> ToolSpec {
        self.spec.clone()
    }

    fn run<'a>(&'a self, arguments: Value, _context: &'a ToolContext) -> ToolFuture<'a> {
        let server = Arc::clone(&self.server);
        let tool = self.remote_name.clone();
        Box::pin(async move {
            let arguments = if arguments.is_null() {
                Value::Object(serde_json::Map::new())
            } else {
                arguments
            };
            let name = server.name.clone();
            let call = super::runtime()
                .map_err(|error| ToolError::Failed(error.to_string()))?
                .spawn(async move { server.call_tool(&tool, arguments).await });
            match call.await {
                Ok(Ok(text)) => Ok(text),
                Ok(Err(error)) => Err(ToolError::Failed(format!("MCP server `{name}`: {error}"))),
                Err(_) => Err(ToolError::Failed(format!(
                    "MCP server `{name}`: the call was lost"
                ))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_the_wire_format() {
        assert_eq!(exposed_name("calc", "add").as_deref(), Some("calc__add"));
        assert_eq!(
            exposed_name("calc", "files.read/all").as_deref(),
            Some("calc__files_read_all")
        );
        assert_eq!(exposed_name("calc", &"x".repeat(70)), None);
        assert_eq!(exposed_name("calc", ""), None);
        assert!(valid_server_name("my-calc_2"));
        for bad in ["", "a__b", "a.b", "a b", "ü", &"s".repeat(33)] {
            assert!(!valid_server_name(bad), "{bad}");
        }
    }
}
