//! LocalGPT's script tools: `workspace/tools/NAME.js` with a manifest `NAME.toml` beside it, run
//! in an embedded QuickJS engine with no ambient authority. A script sees only the host functions
//! its manifest grants — `fs.read/write/list` under the workspace folders it names, `fetch` to the
//! hosts it names (through the sandbox's address guard), `memory.search` — and runs under a time
//! limit (an interrupt), a memory limit and an output cap. There is no `require`, no `import`, no
//! file system, process or network access of QuickJS's own.
//!
//! - [`manifest`]: the manifest format and its checks;
//! - [`catalog`]: finding the tools in `workspace/tools/` and skills' `tools/` folders;
//! - [`engine`]: running one call;
//! - [`host`]: the host functions ([`Host`]) and the policy-enforcing [`PolicyHost`];
//! - [`fs`], [`net`]: the confined file system and the guarded `fetch`.

pub mod catalog;
pub mod engine;
pub mod error;
pub mod fs;
pub mod host;
pub mod manifest;
pub mod net;

pub use catalog::{Catalog, Problem};
pub use engine::{Output, run};
pub use error::ScriptError;
pub use host::{Host, MemorySearcher, PolicyHost};
pub use manifest::{Manifest, Permissions, ScriptTool};

/// What the model-facing name of every script tool starts with: `js_` + the manifest's name.
/// It keeps script tools apart from built-in and MCP tools, and lets the agent's guards treat
/// every script tool call alike.
pub const TOOL_PREFIX: &str = "js_";

/// Whether `tool` (a name as the model calls it) is a script tool.
pub fn is_script_tool(tool: &str) -> bool {
    tool.starts_with(TOOL_PREFIX)
}
