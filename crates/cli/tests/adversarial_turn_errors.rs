//! Turn failures reach an API caller as the status that says whose failure it is, mapped once
//! from typed kinds: an unknown session is 404 (not a 502 carrying a CLI hint), a session id that
//! is not one is 400, the model's own failure is 502, a model that is not set up is 503. Hostile
//! session ids (paths, absolute paths, other homes' files, huge or odd ids) never reach a file
//! outside the sessions folder, never reach the model, and never make a 500.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{daemon_home, daemon_url, post, start_daemon};
use localgpt_provider_script::{Script, ScriptedServer, Turn};
use serde_json::{Value, json};

fn chat(base: &str, body: Value) -> (u16, Value) {
    let (code, text) = post(&format!("{base}/api/chat"), &body, &[]);
    (code, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[test]
fn session_and_model_failures_map_to_their_own_status_codes() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(ScriptedServer::start(
        Script::new()
            .turn(Turn::text(["First answer."]))
            // A provider's own refusal (not retried: a 400 is the request's fault).
            .turn(Turn::plain(
                400,
                r#"{"error":{"message":"context too long"}}"#,
            )),
    ));
    let home = daemon_home(&server, "");
    let _running = start_daemon(home.path());
    let base = daemon_url(home.path());

    let (code, first) = chat(&base, json!({"message": "hello"}));
    assert_eq!(code, 200, "{first}");
    let session = first["session_id"].as_str().unwrap().to_owned();
    let requests_before = server.request_count();

    // Unknown sessions: 404, whatever the spelling, and the model is never asked.
    for unknown in ["0000aaaa-not-a-session", "ffffffff", "a"] {
        let (code, body) = chat(&base, json!({"message": "hi", "session_id": unknown}));
        assert_eq!(code, 404, "{unknown}: {body}");
        assert_eq!(body["error"]["code"], "unknown_session", "{body}");
    }
    // Ids that are not ids: paths out of the sessions folder, absolute paths, control
    // characters, a huge id. 400, nothing read, nothing written, no model call.
    let secret = home.path().join("config.toml");
    let huge = "x".repeat(100_000);
    let hostile = [
        "../config",
        "../../config.toml",
        secret.to_str().unwrap(),
        "/etc/passwd",
        "abc/../../state",
        "abc\u{0}def",
        "abc\ndef",
        "%2e%2e%2fconfig",
        huge.as_str(),
    ];
    for id in hostile {
        let (code, body) = chat(&base, json!({"message": "hi", "session_id": id}));
        assert!(
            code == 400 || code == 404,
            "{}: {code} {body}",
            id.chars().take(40).collect::<String>()
        );
        let text = body.to_string();
        assert!(!text.contains("sk-test"), "{text}");
        assert!(!text.contains("api_key"), "{text}");
        assert!(
            !text.contains("Traceback") && !text.contains("panicked"),
            "{text}"
        );
    }
    assert_eq!(
        server.request_count(),
        requests_before,
        "a failed session lookup reached the model"
    );
    // The real session still works, and the model's own failure is a 502 `model_failed`.
    let (code, body) = chat(&base, json!({"message": "again", "session_id": session}));
    assert_eq!(code, 502, "{body}");
    assert_eq!(body["error"]["code"], "model_failed", "{body}");
    // No transcript appeared outside the sessions folder.
    for entry in std::fs::read_dir(home.path()).unwrap() {
        let name = entry.unwrap().file_name();
        assert!(
            !name.to_string_lossy().ends_with(".jsonl"),
            "a transcript was written at the home's top: {name:?}"
        );
    }
}

#[test]
fn a_model_that_is_not_set_up_is_503_and_an_unknown_session_still_404() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        "[agent]\ndefault_model = \"anthropic/claude-test\"\n\n[memory]\nembedding = \"none\"\n\n[server]\nport = 0\n",
    )
    .unwrap();
    let _running = start_daemon(home.path());
    let base = daemon_url(home.path());
    let (code, body) = chat(&base, json!({"message": "hi"}));
    assert_eq!(code, 503, "{body}");
    assert_eq!(body["error"]["code"], "model_unavailable", "{body}");
    // Without a model the session is not even looked up: the model's problem comes first.
    let (code, body) = chat(&base, json!({"message": "hi", "session_id": "nope"}));
    assert_eq!(code, 503, "{body}");
}
