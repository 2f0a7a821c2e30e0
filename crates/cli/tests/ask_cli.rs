//! `localgpt ask` end to end: the real binary against the scripted provider server over loopback
//! HTTP, with a real workspace, memory index and session store.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::localgpt;
use localgpt_provider_script::{Script, ScriptedServer, Turn};

/// A home whose config points the `openai` provider at `server`.
fn home_for(server: &ScriptedServer) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        format!(
            "[agent]\ndefault_model = \"openai/gpt-test\"\n\n[providers.openai]\nbase_url = \"{}\"\napi_key = \"sk-test-secret-123\"\n\n[memory]\nembedding = \"none\"\n",
            server.url("v1")
        ),
    )
    .unwrap();
    let workspace = home.path().join("workspace");
    std::fs::create_dir_all(&workspace).unwrap();
    std::fs::write(
        workspace.join("MEMORY.md"),
        "# Memory\n\n## Bikes\nThe blue bike needs a new chain.\n",
    )
    .unwrap();
    home
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

fn daily_log(home: &Path) -> String {
    let today = jiff::Zoned::now().date();
    std::fs::read_to_string(home.join(format!("workspace/memory/{today}.md"))).unwrap_or_default()
}

#[test]
fn ask_searches_memory_appends_and_streams_the_answer() {
    let runtime = runtime();
    let server = runtime.block_on(ScriptedServer::start(
        Script::new()
            .turn(Turn::tool_call(
                "memory_search",
                r#"{"query":"bike chain"}"#,
            ))
            .turn(Turn::tool_call(
                "memory_get",
                r#"{"path":"MEMORY.md","from":3,"lines":2}"#,
            ))
            .turn(Turn::tool_call(
                "memory_append",
                r#"{"text":"Reminded about the bike chain."}"#,
            ))
            .turn(Turn::text(["The blue bike ", "needs a chain."]).usage(120, 8)),
    ));
    let home = home_for(&server);
    let output = localgpt(home.path())
        .args(["ask", "What does my bike need?"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stdout, "The blue bike needs a chain.\n");
    assert!(stderr.contains("⚙ memory_search bike chain"), "{stderr}");
    assert!(!stderr.contains("sk-test-secret-123"));
    assert!(daily_log(home.path()).contains("Reminded about the bike chain."));

    // The model got the search hit and the lines it asked for.
    let requests = server.requests();
    assert_eq!(requests.len(), 4);
    let second = requests[1].body.to_string();
    assert!(second.contains("MEMORY.md (lines"), "{second}");
    let third = requests[2].body.to_string();
    assert!(third.contains("The blue bike needs a new chain."));
    // The system prompt carries the workspace files and the tools.
    let system = requests[0].body["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("## MEMORY.md"));
    assert!(system.contains("- memory_search:"));

    // The session was recorded and reads back.
    let list = localgpt(home.path())
        .args(["sessions", "list", "--json"])
        .output()
        .unwrap();
    let sessions: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(sessions.as_array().unwrap().len(), 1);
    assert_eq!(sessions[0]["title"], "What does my bike need?");
}

#[test]
fn ask_json_reports_answer_session_usage_and_tools() {
    let runtime = runtime();
    let server = runtime.block_on(ScriptedServer::start(
        Script::new()
            .turn(Turn::tool_call("list_dir", "{}").usage(10, 5))
            .turn(Turn::text(["Two files."]).usage(40, 3)),
    ));
    let home = home_for(&server);
    let output = localgpt(home.path())
        .args(["ask", "--json", "What is in my workspace?"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["answer"], "Two files.");
    assert_eq!(report["model"], "openai/gpt-test");
    // Usage adds up both model calls of the turn.
    assert_eq!(report["usage"]["input_tokens"].as_u64().unwrap(), 50);
    assert_eq!(report["usage"]["output_tokens"].as_u64().unwrap(), 8);
    assert_eq!(report["tool_calls"][0]["name"], "list_dir");
    assert_eq!(report["tool_calls"][0]["is_error"], false);
    let id = report["session_id"].as_str().unwrap();
    assert!(
        home.path()
            .join(format!("state/sessions/{id}.jsonl"))
            .exists()
    );
}

#[test]
fn ask_without_a_terminal_denies_tools_that_need_approval() {
    let runtime = runtime();
    let server = runtime.block_on(ScriptedServer::start(
        Script::new()
            .turn(Turn::tool_call("bash", r#"{"command":"touch pwned"}"#))
            .turn(Turn::text(["I could not run it."])),
    ));
    let home = home_for(&server);
    let output = localgpt(home.path())
        .args(["ask", "run it"])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(!home.path().join("workspace/pwned").exists());
    let last = server.requests().last().unwrap().body.to_string();
    assert!(last.contains("denied"), "{last}");
}

#[test]
fn ask_fails_with_the_reason_when_the_provider_keeps_failing() {
    let runtime = runtime();
    let server = runtime.block_on(ScriptedServer::start(Script::new().turn(Turn::status(401))));
    let home = home_for(&server);
    let output = localgpt(home.path())
        .args(["ask", "hello"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("error:"), "{stderr}");
    assert!(
        stderr.to_lowercase().contains("key") || stderr.contains("401"),
        "{stderr}"
    );
}

#[test]
fn ask_names_the_fix_for_an_unknown_provider_or_missing_key() {
    let home = tempfile::tempdir().unwrap();
    let output = localgpt(home.path())
        .args(["ask", "--model", "nosuch/model", "hi"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("nosuch"));
    let output = localgpt(home.path())
        .args(["ask", "--model", "anthropic/claude-test", "hi"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("ANTHROPIC_API_KEY"));
}
