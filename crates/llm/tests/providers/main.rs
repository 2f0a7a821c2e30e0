//! Provider tests over real loopback HTTP against the scripted provider server, and the Claude
//! CLI provider against a fake `claude` command. One test binary, to keep linking cheap.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(unix)]
mod claude_cli;
mod requests;
mod scenarios;
mod support;
