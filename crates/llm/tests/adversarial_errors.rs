//! Adversarial: a hostile or careless provider echoes the request's credentials — the API key,
//! the endpoint's userinfo (sent as basic auth), the configured API and bot tokens — in its
//! error bodies, error events, malformed chunks and stderr, raw, percent-encoded, JSON-escaped
//! and cut mid-way. Whatever the provider does, the `ChatError` that leaves the llm crate must
//! carry none of it, in any spelling, nor any prefix of it long enough to matter.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use localgpt_core::chat::{ChatError, ChatMessage, ChatModel, ChatRequest};
use localgpt_core::config::{Config, Secret};
use localgpt_llm::{ModelFactory, RetryPolicy};
use localgpt_provider_script::{Echo, FakeClaude, ScriptedServer, Turn};

/// Secrets with characters that every encoding spells differently.
const OPENAI_KEY: &str = r#"sk-PLANTEDopenai/k+"q"\z 42"#;
const ANTHROPIC_KEY: &str = "sk-ant-PLANTEDanthropic%41/xyz=";
const AUTH_TOKEN: &str = "PLANTEDapitoken-7f3a9c";
const BOT_TOKEN: &str = "123456:PLANTEDbot token é";
const OLLAMA_PASSWORD: &str = "PLANTEDollama-pw";

fn config(base: &str) -> Config {
    let mut config = Config::default();
    let authority = base.trim_start_matches("http://");
    config.providers.openai.api_key = Some(Secret::new(OPENAI_KEY));
    config.providers.openai.base_url = Some(format!("{base}/v1"));
    config.providers.anthropic.api_key = Some(Secret::new(ANTHROPIC_KEY));
    config.providers.anthropic.base_url = Some(base.to_owned());
    config.providers.ollama.endpoint = format!("http://owner:{OLLAMA_PASSWORD}@{authority}");
    config.server.auth_token = Some(Secret::new(AUTH_TOKEN));
    config.telegram.bot_token = Some(Secret::new(BOT_TOKEN));
    config
}

fn factory(config: &Config) -> ModelFactory<'_> {
    ModelFactory::new(config)
        .with_env(|_| None)
        .with_retry(RetryPolicy {
            max_attempts: 2,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(10),
            max_total_wait: Duration::from_secs(2),
        })
}

/// Every form and every 10-character piece of every planted secret.
fn needles() -> Vec<String> {
    let basic = base64_basic(&format!("owner:{OLLAMA_PASSWORD}"));
    let mut needles = Vec::new();
    for secret in [
        OPENAI_KEY,
        ANTHROPIC_KEY,
        AUTH_TOKEN,
        BOT_TOKEN,
        OLLAMA_PASSWORD,
        &basic,
    ] {
        for form in forms(secret) {
            let chars: Vec<char> = form.chars().collect();
            for window in chars.windows(10.min(chars.len())) {
                needles.push(window.iter().collect());
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
    ]
}

fn base64_basic(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (k, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            out.push(if k <= chunk.len() {
                char::from(ALPHABET[((n >> shift) & 63) as usize])
            } else {
                '='
            });
        }
    }
    out
}

fn assert_clean(error: &ChatError, case: &str) {
    for text in [error.to_string(), format!("{error:?}")] {
        for needle in needles() {
            assert!(
                !text.contains(&needle),
                "{case}: `{needle}` leaked in: {text}"
            );
        }
    }
}

async fn error_of(model: &dyn ChatModel) -> ChatError {
    let request = ChatRequest {
        messages: vec![ChatMessage::user("hello")],
        ..ChatRequest::default()
    };
    let mut stream = model.stream(request);
    let run = async {
        while let Some(item) =
            std::future::poll_fn(|cx| futures_core::Stream::poll_next(stream.as_mut(), cx)).await
        {
            if let Err(error) = item {
                return error;
            }
        }
        panic!("the stream ended without an error");
    };
    tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("the stream hung")
}

#[tokio::test]
async fn echoed_credentials_never_leave_the_provider() {
    let statuses = [401, 403, 400, 404, 429, 500, 529];
    for reference in ["openai/gpt-x", "anthropic/claude-x", "ollama/llama-x"] {
        for shape in [Echo::Json, Echo::Plain] {
            for status in statuses {
                // Enough turns for the retries of transient statuses.
                let server = ScriptedServer::start(
                    localgpt_provider_script::Script::new()
                        .turn(Turn::echo_credentials(status, shape))
                        .turn(Turn::echo_credentials(status, shape)),
                )
                .await;
                let config = config(&server.base_url());
                let model = factory(&config).create(reference).unwrap();
                let error = error_of(model.as_ref()).await;
                let case = format!("{reference} {shape:?} {status}");
                assert_clean(&error, &case);
                let text = error.to_string();
                // The attack happened: the provider really echoed something, now redacted.
                assert!(text.contains("[redacted]"), "{case}: {text}");
                assert!(server.request_count() >= 1, "{case}");
            }
        }
    }
}

#[tokio::test]
async fn secrets_in_error_events_and_broken_chunks_are_scrubbed() {
    let echo = format!(
        "bad key {OPENAI_KEY} / {ANTHROPIC_KEY} / token {AUTH_TOKEN} / {}",
        serde_json::to_string(BOT_TOKEN).unwrap()
    );
    for reference in ["openai/gpt-x", "anthropic/claude-x", "ollama/llama-x"] {
        let server = ScriptedServer::start(
            Turn::text(["partial"]).error_event("invalid_request_error", &echo),
        )
        .await;
        let config = config(&server.base_url());
        let model = factory(&config).create(reference).unwrap();
        let error = error_of(model.as_ref()).await;
        assert_clean(&error, &format!("{reference} error event"));
        assert!(error.to_string().contains("[redacted]"), "{error}");
    }
}

#[tokio::test]
async fn transport_errors_carry_no_url_credentials() {
    // Nothing listens on port 1: the connection is refused and the error names the URL.
    let mut config = config("http://127.0.0.1:1");
    config.providers.openai.base_url = Some(format!(
        "http://user:{OLLAMA_PASSWORD}@127.0.0.1:1/v1?api_key=PLANTEDquerykey-77"
    ));
    for reference in ["openai/gpt-x", "anthropic/claude-x", "ollama/llama-x"] {
        let model = factory(&config).create(reference).unwrap();
        let error = error_of(model.as_ref()).await;
        assert!(matches!(error, ChatError::Network { .. }), "{error}");
        assert_clean(&error, reference);
        assert!(!error.to_string().contains("PLANTEDquerykey"), "{error}");
    }
}

#[tokio::test]
async fn a_stranger_url_with_credentials_in_a_provider_body_is_stripped() {
    // A proxy answers with a URL holding credentials nobody configured.
    let body =
        "upstream https://admin:PLANTEDunknownpw@10.0.0.7:8443/api?token=PLANTEDunknowntok failed";
    let server = ScriptedServer::start(Turn::status(502).message(body)).await;
    let config = config(&server.base_url());
    let model = factory(&config)
        .with_retry(RetryPolicy::none())
        .create("openai/gpt-x")
        .unwrap();
    let error = error_of(model.as_ref()).await.to_string();
    assert!(!error.contains("PLANTEDunknown"), "{error}");
    assert!(error.contains("10.0.0.7:8443/api"), "{error}");
}

#[tokio::test]
async fn a_long_body_cut_mid_secret_leaks_no_prefix() {
    // The cut at 500 characters falls inside the key in every spelling in turn.
    for pad in (470..500).step_by(3) {
        let body = format!("{}{OPENAI_KEY}{}", "x".repeat(pad), "y".repeat(600));
        let server = ScriptedServer::start(Turn::plain(400, &body)).await;
        let config = config(&server.base_url());
        let model = factory(&config).create("ollama/llama-x").unwrap();
        let error = error_of(model.as_ref()).await;
        assert_clean(&error, &format!("cut at {pad}"));
    }
}

#[cfg(unix)]
#[tokio::test]
async fn claude_cli_stderr_and_results_are_scrubbed() {
    let dir = tempfile::tempdir().unwrap();
    let echo = format!(
        "auth failed for {ANTHROPIC_KEY} ({}) token={AUTH_TOKEN}",
        serde_json::to_string(OPENAI_KEY).unwrap()
    );
    let long_stderr = format!("{}{echo}", "noise ".repeat(400));
    let cases = [
        ("stderr", FakeClaude::new().stderr(&echo).exit_code(1)),
        (
            "long stderr",
            FakeClaude::new().stderr(&long_stderr).exit_code(1),
        ),
        ("error result", FakeClaude::new().error_result(&echo)),
        ("raw line", FakeClaude::new().raw_line(&echo)),
    ];
    for (name, fake) in cases {
        let installed = fake
            .install(&dir.path().join(name.replace(' ', "_")))
            .unwrap();
        let mut config = config("http://127.0.0.1:1");
        config.providers.claude_cli.command = installed.command().display().to_string();
        let model = factory(&config).create("claude-cli/opus").unwrap();
        let error = error_of(model.as_ref()).await;
        assert_clean(&error, name);
        assert!(error.to_string().contains("[redacted]"), "{name}: {error}");
    }
}
