//! One module per top-level command; each takes what it needs and prints its own output.

pub mod artifacts;
pub mod ask;
pub mod chat;
pub mod completion;
pub mod config;
pub mod desktop;
pub mod mcp;
pub mod memory;
pub mod models;
pub mod sandbox;
pub mod sessions;
pub mod skills;
pub mod tools;
pub mod usage;
