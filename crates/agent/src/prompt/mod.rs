//! Building the system prompt. Today: the workspace files injected into every session, in
//! OpenClaw's order, with per-file and total caps; the rest of the prompt (tools, skills, time)
//! joins when the agent loop lands.

mod context_files;

pub use context_files::{
    ContextBudget, ContextFile, context_file_order, load_context_files, render_context_files,
};
