//! The same behaviours checked against every HTTP provider over real loopback HTTP.

use std::time::{Duration, Instant};

use localgpt_core::chat::{ChatError, ChatEvent, StopReason};
use localgpt_provider_script::{Script, ScriptedServer, StopKind, Turn};
use serde_json::json;

use crate::support::*;

pub async fn streams_text_usage_and_stop(kind: Kind) {
    let server = ScriptedServer::start(Turn::text(["Hel", "lo", " wörld"]).usage(12, 3)).await;
    let (events, error) = collect(model(kind, &server).stream(simple_request("hi"))).await;
    assert_eq!(error, None);
    let deltas: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, ChatEvent::TextDelta(_)))
        .cloned()
        .collect();
    assert_eq!(
        deltas,
        ["Hel", "lo", " wörld"].map(|t| ChatEvent::TextDelta(t.into()))
    );
    let n = events.len();
    let ChatEvent::Usage(usage) = &events[n - 2] else {
        panic!("no usage before stop: {events:?}")
    };
    assert_eq!((usage.input_tokens, usage.output_tokens), (12, 3));
    assert_eq!(events[n - 1], ChatEvent::Stop(StopReason::EndTurn));
    assert_eq!(server.request_count(), 1);
}

pub async fn assembles_tool_calls_from_split_deltas(kind: Kind) {
    let server = ScriptedServer::start(
        Turn::text(["Let me look."])
            .and_tool_call("memory_search", r#"{"query": "x", "limit": 5}"#)
            .and_tool_call_pieces(
                Some("call_b"),
                "memory_get",
                [r#"{"pa"#, r#"th": "#, r#""MEMORY.md"}"#],
            ),
    )
    .await;
    let (events, error) = collect(model(kind, &server).stream(simple_request("hi"))).await;
    assert_eq!(error, None);
    assert_eq!(text_of(&events), "Let me look.");
    let starts: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            ChatEvent::ToolCallStart { index, name, .. } => Some((*index, name.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        starts,
        [(0, "memory_search".into()), (1, "memory_get".into())]
    );
    let fragments: String = events
        .iter()
        .filter_map(|e| match e {
            ChatEvent::ToolCallArgsDelta { index: 0, fragment } => Some(fragment.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&fragments).unwrap(),
        json!({"query": "x", "limit": 5})
    );
    let calls = finished_calls(&events);
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].arguments, Ok(json!({"query": "x", "limit": 5})));
    assert_eq!(calls[1].id, "call_b");
    assert_eq!(calls[1].arguments, Ok(json!({"path": "MEMORY.md"})));
    assert_eq!(events.last(), Some(&ChatEvent::Stop(StopReason::ToolUse)));
}

pub async fn malformed_tool_arguments_end_with_an_error_string(kind: Kind) {
    let server =
        ScriptedServer::start(Turn::reply().and_tool_call("memory_search", r#"{"query": "#)).await;
    let (events, error) = collect(model(kind, &server).stream(simple_request("hi"))).await;
    assert_eq!(error, None);
    let calls = finished_calls(&events);
    assert!(
        calls[0]
            .arguments
            .as_ref()
            .is_err_and(|e| e.contains("invalid JSON"))
    );
}

pub async fn reports_max_tokens(kind: Kind) {
    let server = ScriptedServer::start(Turn::text(["cut"]).stop(StopKind::MaxTokens)).await;
    let (events, _) = collect(model(kind, &server).stream(simple_request("hi"))).await;
    assert_eq!(events.last(), Some(&ChatEvent::Stop(StopReason::MaxTokens)));
}

pub async fn waits_retry_after_then_succeeds(kind: Kind) {
    let server = ScriptedServer::start(
        Script::new()
            .turn(Turn::rate_limited(1))
            .turn(Turn::text(["after ", "waiting"])),
    )
    .await;
    let started = Instant::now();
    let (events, error) = collect(model(kind, &server).stream(simple_request("hi"))).await;
    assert_eq!(error, None);
    assert_eq!(text_of(&events), "after waiting");
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let gap = requests[1].received_at - requests[0].received_at;
    assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

pub async fn server_errors_exhaust_the_budget(kind: Kind) {
    let server = ScriptedServer::start(
        Script::new()
            .turn(Turn::status(500))
            .turn(Turn::status(503))
            .turn(Turn::status(500).message("still broken")),
    )
    .await;
    let (events, error) = collect(model(kind, &server).stream(simple_request("hi"))).await;
    assert!(events.is_empty());
    let error = error.expect("an error");
    assert!(
        matches!(
            error,
            ChatError::Server {
                status: 500,
                attempts: 3,
                ..
            }
        ),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains("still broken") && text.contains("gave up after 3 attempts"),
        "{text}"
    );
    assert_eq!(server.request_count(), 3);
}

pub async fn truncated_stream_is_an_error_not_a_hang(kind: Kind) {
    let server = ScriptedServer::start(Turn::text(["Hel", "lo"]).truncated()).await;
    let (events, error) = collect(model(kind, &server).stream(simple_request("hi"))).await;
    assert_eq!(text_of(&events), "Hello");
    let error = error.expect("an error");
    assert!(matches!(error, ChatError::Network { .. }), "{error:?}");
    // Text was already streamed, so the request must not be repeated.
    assert_eq!(server.request_count(), 1);
}

pub async fn truncation_before_any_output_is_retried(kind: Kind) {
    let server = ScriptedServer::start(
        Script::new()
            .turn(Turn::reply().truncated())
            .turn(Turn::text(["fine"])),
    )
    .await;
    let (events, error) = collect(model(kind, &server).stream(simple_request("hi"))).await;
    assert_eq!(error, None);
    assert_eq!(text_of(&events), "fine");
    assert_eq!(server.request_count(), 2);
}

pub async fn malformed_chunk_is_a_protocol_error(kind: Kind) {
    let server = ScriptedServer::start(Turn::text(["Hi"]).malformed()).await;
    let (events, error) = collect(model(kind, &server).stream(simple_request("hi"))).await;
    assert_eq!(text_of(&events), "Hi");
    let error = error.expect("an error");
    assert!(matches!(error, ChatError::Protocol { .. }), "{error:?}");
    assert!(error.to_string().contains("malformed response"), "{error}");
}

pub async fn error_event_mid_stream_is_reported(kind: Kind) {
    let server =
        ScriptedServer::start(Turn::text(["Hi"]).error_event("overloaded_error", "Overloaded"))
            .await;
    let (events, error) = collect(model(kind, &server).stream(simple_request("hi"))).await;
    assert_eq!(text_of(&events), "Hi");
    let error = error.expect("an error");
    assert!(matches!(error, ChatError::Server { .. }), "{error:?}");
    assert!(error.to_string().contains("Overloaded"), "{error}");
    assert_eq!(server.request_count(), 1);
}

pub async fn bad_request_carries_the_provider_message(kind: Kind) {
    let server = ScriptedServer::start(Turn::status(400).message("prompt is too long")).await;
    let (_, error) = collect(model(kind, &server).stream(simple_request("hi"))).await;
    let error = error.expect("an error");
    assert!(
        matches!(error, ChatError::BadRequest { status: 400, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("prompt is too long"), "{error}");
    assert_eq!(server.request_count(), 1, "a bad request is not retried");
}

pub async fn refused_key_names_the_environment_variable(kind: Kind, variable: &str) {
    let server = ScriptedServer::start(Turn::status(401)).await;
    let (_, error) = collect(model(kind, &server).stream(simple_request("hi"))).await;
    let error = error.expect("an error");
    assert!(matches!(error, ChatError::Auth { .. }), "{error:?}");
    assert!(error.to_string().contains(variable), "{error}");
    assert_eq!(server.request_count(), 1);
}

pub async fn dropping_the_stream_closes_the_connection(kind: Kind) {
    let server = ScriptedServer::start(Turn::text(["Hel"]).hang()).await;
    let mut stream = model(kind, &server).stream(simple_request("hi"));
    let first = tokio::time::timeout(Duration::from_secs(10), next(&mut stream)).await;
    assert!(
        matches!(first, Ok(Some(Ok(ChatEvent::TextDelta(_))))),
        "{first:?}"
    );
    assert_eq!(server.disconnects(), 0);
    drop(stream);
    assert!(
        server.wait_for_disconnect(Duration::from_secs(5)).await,
        "the server did not see the client go away"
    );
}

macro_rules! scenarios {
    ($module:ident, $kind:expr) => {
        mod $module {
            use super::*;

            #[tokio::test]
            async fn streams_text_usage_and_stop() {
                super::streams_text_usage_and_stop($kind).await
            }
            #[tokio::test]
            async fn assembles_tool_calls_from_split_deltas() {
                super::assembles_tool_calls_from_split_deltas($kind).await
            }
            #[tokio::test]
            async fn malformed_tool_arguments_end_with_an_error_string() {
                super::malformed_tool_arguments_end_with_an_error_string($kind).await
            }
            #[tokio::test]
            async fn reports_max_tokens() {
                super::reports_max_tokens($kind).await
            }
            #[tokio::test]
            async fn waits_retry_after_then_succeeds() {
                super::waits_retry_after_then_succeeds($kind).await
            }
            #[tokio::test]
            async fn server_errors_exhaust_the_budget() {
                super::server_errors_exhaust_the_budget($kind).await
            }
            #[tokio::test]
            async fn truncated_stream_is_an_error_not_a_hang() {
                super::truncated_stream_is_an_error_not_a_hang($kind).await
            }
            #[tokio::test]
            async fn truncation_before_any_output_is_retried() {
                super::truncation_before_any_output_is_retried($kind).await
            }
            #[tokio::test]
            async fn malformed_chunk_is_a_protocol_error() {
                super::malformed_chunk_is_a_protocol_error($kind).await
            }
            #[tokio::test]
            async fn error_event_mid_stream_is_reported() {
                super::error_event_mid_stream_is_reported($kind).await
            }
            #[tokio::test]
            async fn bad_request_carries_the_provider_message() {
                super::bad_request_carries_the_provider_message($kind).await
            }
            #[tokio::test]
            async fn dropping_the_stream_closes_the_connection() {
                super::dropping_the_stream_closes_the_connection($kind).await
            }
        }
    };
}

scenarios!(anthropic, Kind::Anthropic);
scenarios!(openai, Kind::OpenAi);
scenarios!(ollama, Kind::Ollama);

#[tokio::test]
async fn anthropic_refused_key_names_the_environment_variable() {
    refused_key_names_the_environment_variable(Kind::Anthropic, "ANTHROPIC_API_KEY").await
}

#[tokio::test]
async fn openai_refused_key_names_the_environment_variable() {
    refused_key_names_the_environment_variable(Kind::OpenAi, "OPENAI_API_KEY").await
}

#[tokio::test]
async fn cancel_token_ends_with_stop_cancelled_and_closes_the_connection() {
    use localgpt_core::chat::{CancelToken, cancellable};

    let server = ScriptedServer::start(Turn::text(["Hel"]).hang()).await;
    let token = CancelToken::new();
    let mut stream = cancellable(
        model(Kind::Anthropic, &server).stream(simple_request("hi")),
        token.clone(),
    );
    let first = tokio::time::timeout(Duration::from_secs(10), next(&mut stream)).await;
    assert!(
        matches!(first, Ok(Some(Ok(ChatEvent::TextDelta(_))))),
        "{first:?}"
    );
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        token.cancel();
    });
    let (events, error) = collect(stream).await;
    canceller.await.unwrap();
    assert_eq!(error, None);
    assert_eq!(events, [ChatEvent::Stop(StopReason::Cancelled)]);
    assert!(server.wait_for_disconnect(Duration::from_secs(5)).await);
}
