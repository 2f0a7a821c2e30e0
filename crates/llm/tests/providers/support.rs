//! Helpers shared by the provider tests: building each provider against the scripted server,
//! collecting a reply, and a conversation that exercises every message part.

use std::time::Duration;

use localgpt_core::chat::{
    ChatError, ChatEvent, ChatMessage, ChatModel, ChatRequest, ChatStream, ContentPart, Role,
    ToolCall, ToolSpec,
};
use localgpt_core::config::Secret;
use localgpt_llm::RetryPolicy;
use localgpt_llm::anthropic::AnthropicModel;
use localgpt_llm::ollama::OllamaModel;
use localgpt_llm::openai::OpenAiModel;
use localgpt_provider_script::ScriptedServer;
use serde_json::json;

/// The HTTP providers, for tests that run the same scenario against each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Anthropic,
    OpenAi,
    Ollama,
}

pub const ANTHROPIC_KEY: &str = "sk-ant-test-key-0123456789";
pub const OPENAI_KEY: &str = "sk-openai-test-key-0123456789";

/// Quick retries so tests of the budget take milliseconds.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        max_total_wait: Duration::from_secs(5),
    }
}

pub fn model(kind: Kind, server: &ScriptedServer) -> Box<dyn ChatModel> {
    match kind {
        Kind::Anthropic => Box::new(
            AnthropicModel::new(
                "claude-test",
                Secret::new(ANTHROPIC_KEY),
                Some(&server.base_url()),
            )
            .unwrap()
            .with_retry(fast_retry()),
        ),
        Kind::OpenAi => Box::new(
            OpenAiModel::new(
                "gpt-test",
                Some(Secret::new(OPENAI_KEY)),
                Some(&server.url("v1")),
            )
            .unwrap()
            .with_retry(fast_retry()),
        ),
        Kind::Ollama => Box::new(
            OllamaModel::new("llama-test", &server.base_url())
                .unwrap()
                .with_retry(fast_retry()),
        ),
    }
}

/// Every event of a reply, and the error that ended it, if any. Fails the test on a hang.
pub async fn collect(mut stream: ChatStream) -> (Vec<ChatEvent>, Option<ChatError>) {
    let mut events = Vec::new();
    loop {
        let next = tokio::time::timeout(Duration::from_secs(20), next(&mut stream))
            .await
            .expect("the reply stream hung");
        match next {
            None => return (events, None),
            Some(Ok(event)) => events.push(event),
            Some(Err(error)) => {
                assert!(
                    next_now(&mut stream).await.is_none(),
                    "items after an error"
                );
                return (events, Some(error));
            }
        }
    }
}

/// The next item of a stream.
pub async fn next(stream: &mut ChatStream) -> Option<Result<ChatEvent, ChatError>> {
    std::future::poll_fn(|cx| futures_core::Stream::poll_next(stream.as_mut(), cx)).await
}

async fn next_now(stream: &mut ChatStream) -> Option<Result<ChatEvent, ChatError>> {
    tokio::time::timeout(Duration::from_secs(5), next(stream))
        .await
        .expect("the stream did not end after its error")
}

pub fn text_of(events: &[ChatEvent]) -> String {
    events
        .iter()
        .filter_map(|event| match event {
            ChatEvent::TextDelta(text) => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

pub fn finished_calls(events: &[ChatEvent]) -> Vec<ToolCall> {
    events
        .iter()
        .filter_map(|event| match event {
            ChatEvent::ToolCallEnd { call, .. } => Some(call.clone()),
            _ => None,
        })
        .collect()
}

pub fn simple_request(text: &str) -> ChatRequest {
    ChatRequest::new(vec![ChatMessage::user(text)])
}

/// A conversation with a system prompt, a tool, an earlier tool call and its result.
pub fn request_with_tools() -> ChatRequest {
    ChatRequest {
        system: Some("You are LocalGPT.".into()),
        messages: vec![
            ChatMessage::user("What did I note about x?"),
            ChatMessage {
                role: Role::Assistant,
                content: vec![
                    ContentPart::Text {
                        text: "Let me search.".into(),
                    },
                    ContentPart::ToolCall {
                        id: "call_9".into(),
                        name: "memory_search".into(),
                        arguments: json!({"query": "x"}),
                    },
                ],
            },
            ChatMessage {
                role: Role::User,
                content: vec![ContentPart::ToolResult {
                    tool_call_id: "call_9".into(),
                    content: "x is 42".into(),
                    is_error: false,
                }],
            },
            ChatMessage::user("Thanks, and y?"),
        ],
        tools: vec![ToolSpec {
            name: "memory_search".into(),
            description: "Search memory".into(),
            parameters: json!({"type": "object", "properties": {"query": {"type": "string"}},
                "required": ["query"]}),
        }],
        max_tokens: Some(1000),
        temperature: Some(0.5),
        stop: vec!["END".into()],
        ..ChatRequest::default()
    }
}
