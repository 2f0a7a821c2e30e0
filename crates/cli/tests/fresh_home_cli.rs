//! A new user's machine: nothing installed, no keys. The daemon, its API and web UI, keyword
//! memory search, sessions, status, jobs and config all work; a chat that needs the missing model
//! or key fails with one clear message naming the fix — on the terminal, and from the API as
//! `503 model_unavailable` (to the owner; a stranger learns nothing of the setup).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{daemon_url, get, localgpt, post, run_ok, start_daemon};
use serde_json::{Value, json};

/// A fresh home as `config init` makes it, with the API on a free port and a planted note.
fn fresh_home() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    run_ok(localgpt(home.path()).args(["config", "init"]));
    run_ok(localgpt(home.path()).args(["config", "set", "server.port", "0"]));
    run_ok(localgpt(home.path()).args(["config", "set", "heartbeat.enabled", "false"]));
    let memory = home.path().join("workspace/memory");
    std::fs::create_dir_all(&memory).unwrap();
    std::fs::write(
        memory.join("2026-11-20.md"),
        "- The spare house key is hidden under the blue flowerpot.\n",
    )
    .unwrap();
    home
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Everything but a chat works in `home`, and a chat says `fix`.
fn everything_but_chat_works(home: &Path, fix: &str) {
    let _running = start_daemon(home);
    let base = daemon_url(home);
    let (code, _) = get(&format!("{base}/health"), &[]);
    assert_eq!(code, 200);

    let (code, status) = get(&format!("{base}/api/status"), &[]);
    assert_eq!(code, 200, "{status}");
    assert!(
        status["model_problem"].as_str().unwrap().contains(fix),
        "{status}"
    );
    let shown = stdout(&run_ok(localgpt(home).args(["daemon", "status"])));
    assert!(
        shown.contains("not ready:") && shown.contains(fix),
        "{shown}"
    );

    let (code, page) = common::agent()
        .get(&format!("{base}/"))
        .call()
        .map(|response| (response.status().as_u16(), ()))
        .unwrap();
    assert_eq!((code, page), (200, ()));

    // Keyword memory search, on the CLI and the API.
    let found = stdout(&run_ok(localgpt(home).args([
        "memory",
        "search",
        "flowerpot",
    ])));
    assert!(found.contains("2026-11-20.md"), "{found}");
    let (code, results) = get(&format!("{base}/api/memory/search?q=flowerpot"), &[]);
    assert_eq!(code, 200, "{results}");
    assert!(results.to_string().contains("2026-11-20.md"), "{results}");
    run_ok(localgpt(home).args(["sessions", "list"]));
    run_ok(localgpt(home).args(["jobs", "list"]));
    run_ok(localgpt(home).args(["config", "show"]));

    // A chat from the owner: one clear error with a stable code and the fix.
    let (code, body) = post(
        &format!("{base}/api/chat"),
        &json!({"message": "Where is my key?"}),
        &[],
    );
    assert_eq!(code, 503, "{body}");
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"]["code"], "model_unavailable", "{error}");
    assert!(
        error["error"]["message"].as_str().unwrap().contains(fix),
        "{error}"
    );
    // The same over the event stream.
    let mut response = common::agent()
        .post(&format!("{base}/api/chat"))
        .header("content-type", "application/json")
        .header("accept", "text/event-stream")
        .send(json!({"message": "hello"}).to_string())
        .unwrap();
    let stream = response.body_mut().read_to_string().unwrap();
    assert!(stream.contains("event: error"), "{stream}");
    assert!(
        stream.contains("model_unavailable") && stream.contains(fix),
        "{stream}"
    );
    // The OpenAI-compatible endpoint too.
    let (code, body) = post(
        &format!("{base}/v1/chat/completions"),
        &json!({"model": "default", "messages": [{"role": "user", "content": "hi"}]}),
        &[],
    );
    assert_eq!(code, 503, "{body}");
    // A stranger learns nothing about the setup.
    let (code, body) = post(
        &format!("{base}/api/chat"),
        &json!({"message": "hi"}),
        &[("origin", "http://evil.example")],
    );
    assert_eq!(code, 502, "{body}");
    assert!(!body.contains(fix), "{body}");

    // On the terminal: one error line naming the fix.
    let asked = localgpt(home).args(["ask", "hi"]).output().unwrap();
    assert!(!asked.status.success());
    let stderr = String::from_utf8_lossy(&asked.stderr);
    assert!(stderr.contains(fix), "{stderr}");
    assert_eq!(stderr.matches("error:").count(), 1, "{stderr}");
}

#[test]
fn with_no_model_installed_everything_starts_and_a_chat_names_the_pull_command() {
    let home = fresh_home();
    let config = std::fs::read_to_string(home.path().join("config.toml")).unwrap();
    assert!(config.contains("local/smollm2-135m"), "{config}");
    everything_but_chat_works(home.path(), "localgpt models pull smollm2-135m");
}

#[test]
fn with_a_provider_key_missing_everything_starts_and_a_chat_names_the_variable() {
    let home = fresh_home();
    run_ok(localgpt(home.path()).args([
        "config",
        "set",
        "agent.default_model",
        "anthropic/claude-sonnet-4-6",
    ]));
    everything_but_chat_works(home.path(), "ANTHROPIC_API_KEY");
}
