//! Adversarial, end to end: a real daemon whose configuration holds planted secrets (the OpenAI
//! key, the API token, the Telegram bot token) talks to a provider that answers with errors
//! echoing the key — raw, percent-encoded, JSON-escaped — and the URL it was called at, and to a
//! "Telegram" that answers with the bot token in its error. Owners and strangers (a foreign
//! `Host`) chat over JSON, SSE and the OpenAI-compatible API. Afterwards every file under the
//! home except the configuration itself, every API answer and every command's output is
//! searched for every spelling of every secret, and for pieces of them: none may appear.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::raw_http::{dechunk, post_json};
use common::{daemon_url, get, localgpt, post, start_daemon};
use localgpt_provider_script::{Echo, Script, ScriptedServer, Turn};
use serde_json::json;

/// Secrets with characters that every encoding spells differently.
const OPENAI_KEY: &str = r#"sk-PLANTEDe2e/openai+"q" 9z"#;
const AUTH_TOKEN: &str = "PLANTEDe2e-api/token+7";
const BOT_TOKEN: &str = "424242:PLANTEDe2eBot/tok+en";
const SECRETS: [&str; 3] = [OPENAI_KEY, AUTH_TOKEN, BOT_TOKEN];

/// Every spelling of every secret, cut into overlapping 12-character pieces.
fn needles() -> Vec<String> {
    let mut needles = Vec::new();
    for secret in SECRETS {
        for form in forms(secret) {
            let chars: Vec<char> = form.chars().collect();
            for window in chars.windows(12) {
                let piece: String = window.iter().collect();
                if !needles.contains(&piece) {
                    needles.push(piece);
                }
            }
        }
    }
    needles
}

fn forms(secret: &str) -> Vec<String> {
    let encode = |plus: bool| localgpt_core::redact::percent_encode(secret, plus);
    let json = serde_json::to_string(secret).unwrap();
    vec![
        secret.to_owned(),
        encode(false),
        encode(false).to_lowercase(),
        encode(true),
        json.trim_matches('"').to_owned(),
        // A JSON string holding the JSON spelling (an error body quoted inside another).
        serde_json::to_string(&json)
            .unwrap()
            .trim_matches('"')
            .to_owned(),
    ]
}

fn assert_clean(what: &str, text: &str) {
    for needle in needles() {
        assert!(
            !text.contains(&needle),
            "{what}: `{needle}` leaked in:\n{}",
            text.chars().take(3000).collect::<String>()
        );
    }
}

/// The provider's answers, in turn: errors that echo the key and the URL in several shapes, a
/// reply that breaks off with an error event quoting every secret, and a plain proxy error.
fn hostile_turns() -> Vec<Turn> {
    let quoted = format!(
        "bad key {OPENAI_KEY} / {} / token {AUTH_TOKEN} / bot {BOT_TOKEN}",
        serde_json::to_string(OPENAI_KEY).unwrap()
    );
    vec![
        Turn::echo_credentials(401, Echo::Json),
        Turn::echo_credentials(400, Echo::Plain),
        Turn::echo_credentials(403, Echo::Json),
        Turn::text(["partial answer "]).error_event("invalid_request_error", &quoted),
        Turn::plain(404, &format!("{}{quoted}", "padding ".repeat(60))),
    ]
}

fn home(provider: &ScriptedServer) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let config = format!(
        "[agent]\ndefault_model = \"openai/gpt-test\"\n\n\
         [providers.openai]\nbase_url = \"{}\"\napi_key = '{OPENAI_KEY}'\n\n\
         [memory]\nembedding = \"none\"\n\n\
         [server]\nport = 0\nauth_token = '{AUTH_TOKEN}'\n\n\
         [telegram]\nbot_token = '{BOT_TOKEN}'\napi_url = \"{}\"\n",
        provider.url("v1"),
        provider.base_url(),
    );
    std::fs::write(home.path().join("config.toml"), config).unwrap();
    let workspace = home.path().join("workspace");
    std::fs::create_dir_all(&workspace).unwrap();
    std::fs::write(workspace.join("MEMORY.md"), "# Memory\n\nNothing secret.\n").unwrap();
    home
}

/// Every file under `dir` but the configuration (which holds the secrets by design).
fn scan_files(dir: &Path, scanned: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            scan_files(&path, scanned);
        } else if !name.starts_with("config.toml") {
            let bytes = std::fs::read(&path).unwrap();
            assert_clean(
                &path.display().to_string(),
                &String::from_utf8_lossy(&bytes),
            );
            scanned.push(name);
        }
    }
}

#[test]
fn no_secret_reaches_any_file_answer_or_output() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut script = Script::new();
    for _ in 0..8 {
        for turn in hostile_turns() {
            script = script.turn(turn);
        }
    }
    let provider = runtime.block_on(ScriptedServer::start(script));
    let home = home(&provider);
    let running = start_daemon(home.path());
    let base = daemon_url(home.path());
    let address = base.trim_start_matches("http://").to_owned();
    let bearer = format!("Bearer {AUTH_TOKEN}");
    let owner_token = [("authorization", bearer.as_str())];
    let sse = [("accept", "text/event-stream")];
    let mut answers: Vec<(String, String)> = Vec::new();

    // The owner, over JSON and SSE, with and without the token.
    for n in 0..2 {
        let (code, body) = post(
            &format!("{base}/api/chat"),
            &json!({"message": format!("owner question {n}")}),
            &owner_token,
        );
        answers.push((format!("owner json {n} ({code})"), body));
        let (code, body) = post(
            &format!("{base}/api/chat"),
            &json!({"message": format!("owner stream {n}")}),
            &[sse[0], owner_token[0]],
        );
        answers.push((format!("owner sse {n} ({code})"), body));
    }
    // The OpenAI-compatible API, whole and streamed.
    for stream in [false, true] {
        let (code, body) = post(
            &format!("{base}/v1/chat/completions"),
            &json!({"model": "default", "stream": stream,
                    "messages": [{"role": "user", "content": "compat question"}]}),
            &owner_token,
        );
        answers.push((format!("compat stream={stream} ({code})"), body));
    }
    // Strangers: a foreign Host header, on every chat endpoint, JSON and streamed.
    for (path, body) in [
        ("/api/chat", json!({"message": "stranger question"})),
        (
            "/v1/chat/completions",
            json!({"model": "default", "messages": [{"role": "user", "content": "stranger"}]}),
        ),
    ] {
        for extra in [&[][..], &sse[..]] {
            let answer = post_json("127.0.0.1", &address, path, "evil.example", extra, &body);
            let text = format!("{:?}\n{}", answer.headers, dechunk(&answer.body));
            answers.push((format!("stranger {path} {extra:?}"), text));
        }
    }
    // What the owner can read back: sessions, events, artifacts, status.
    for path in [
        "/api/sessions",
        "/api/events",
        "/api/artifacts",
        "/api/status",
        "/api/logs",
        "/health",
    ] {
        let (code, body) = get(&format!("{base}{path}"), &owner_token);
        answers.push((format!("GET {path} ({code})"), body.to_string()));
        let (kind, list) = match path {
            "/api/sessions" => ("sessions", &body["sessions"]),
            "/api/artifacts" => ("artifacts", &body["artifacts"]),
            _ => continue,
        };
        let items = list
            .as_array()
            .or(body.as_array())
            .cloned()
            .unwrap_or_default();
        for item in items {
            if let Some(id) = item["id"].as_str() {
                let (_, one) = get(&format!("{base}/api/{kind}/{id}"), &owner_token);
                answers.push((format!("{kind}/{id}"), one.to_string()));
            }
        }
    }
    // The provider really was attacked with the key, and answered with it.
    let requests = provider.requests();
    assert!(requests.len() >= 6, "{} model requests", requests.len());
    assert!(
        requests
            .iter()
            .any(|r| r.header("authorization") == Some(&format!("Bearer {OPENAI_KEY}"))),
        "the planted key was not sent"
    );
    for (what, text) in &answers {
        assert_clean(what, text);
    }
    assert!(
        answers.iter().any(|(_, text)| text.contains("[redacted]")),
        "no answer shows a scrubbed error; did the attack happen?"
    );

    // Command output reads the same state.
    for args in [
        &["daemon", "status"][..],
        &["sessions", "list"][..],
        &["artifacts", "list"][..],
    ] {
        let output = localgpt(home.path()).args(args).output().unwrap();
        assert_clean(
            &format!("localgpt {args:?}"),
            &format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        );
    }
    drop(running);

    let mut scanned = Vec::new();
    scan_files(home.path(), &mut scanned);
    assert!(
        scanned.iter().any(|name| name == "daemon.log"),
        "no daemon log to scan: {scanned:?}"
    );
    assert!(
        scanned.iter().any(|name| name.ends_with(".jsonl")),
        "no transcript to scan: {scanned:?}"
    );
}
