//! Helpers shared by the binary's end-to-end tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use assert_cmd::Command;

/// The `localgpt` binary with a clean environment: a temp home, no API keys, no `claude` on PATH
/// and an Ollama address where nothing listens, so tests never depend on the machine they run on.
pub fn localgpt(home: &Path) -> Command {
    let mut command = Command::cargo_bin("localgpt").unwrap();
    command
        .env("LOCALGPT_HOME", home)
        .env("HOME", home)
        .env("PATH", "/usr/bin:/bin")
        .env("OLLAMA_HOST", "127.0.0.1:1")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .env_remove("LOCALGPT_LOG");
    command
}
