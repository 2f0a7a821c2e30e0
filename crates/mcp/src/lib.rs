//! LocalGPT as a Model Context Protocol server: other agents (Claude Desktop, Claude Code, Codex,
//! editors) search and read the owner's memory, append to today's daily log, and read saved
//! sessions. The protocol is JSON-RPC 2.0, written here on `serde_json` ([`protocol`]); the
//! transports are stdio ([`stdio`], for `localgpt mcp-server`) and the daemon's Streamable HTTP
//! endpoint (`localgpt-server`'s `/mcp`, which feeds [`McpServer::handle`] and keeps each
//! client's [`Connection`] in [`McpServer::sessions`]).
//!
//! The other way round, [`client`] starts the owner's configured MCP servers (`[[mcp.servers]]`)
//! and offers their tools to LocalGPT's agent as `SERVER__TOOL`.
//!
//! The boundary: reads go through the memory index ([`localgpt_memory::MemoryRoots`]: real path
//! inside the memory folders, never a credential store or LocalGPT's own state), writes only to
//! today's daily log with the client's name as provenance, and every text that leaves is scrubbed
//! of known secrets ([`localgpt_core::redact::Redactor`]).

pub mod append;
pub mod backend;
pub mod client;
pub mod http_sessions;
pub mod prompts;
pub mod protocol;
pub mod resources;
pub mod server;
pub mod stdio;
pub mod tools;

pub use backend::Backend;
pub use http_sessions::HttpSessions;
pub use server::{Connection, McpServer};
