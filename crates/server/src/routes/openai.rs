//! OpenAI-compatible endpoints, so existing clients and SDKs work unchanged:
//! `POST /v1/chat/completions` (streaming and not) and `GET /v1/models`. Each request becomes one
//! turn through the ingress bus; earlier messages of the request are given to the model as the
//! conversation so far. Callers who are not the owner are capped like `/api/chat` and see a
//! generic message when their turn fails.

use std::convert::Infallible;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, StreamExt};
use localgpt_agent::control::{BusError, Outcome, Submission, Ticket};
use localgpt_agent::runtime::AgentEvent;
use localgpt_core::ingress::{Payload, Source};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::{ApiError, ServerState};

/// A message of an OpenAI request (text content only).
#[derive(Debug, Deserialize)]
pub struct Message {
    role: String,
    #[serde(default)]
    content: Value,
}

/// Body of `POST /v1/chat/completions`.
#[derive(Debug, Deserialize)]
pub struct CompletionRequest {
    #[serde(default)]
    model: Option<String>,
    messages: Vec<Message>,
    #[serde(default)]
    stream: bool,
}

fn text_of(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The turn's input: the last user message, with the earlier ones as context.
fn input_of(messages: &[Message]) -> Result<String, ApiError> {
    let last = messages
        .iter()
        .rposition(|message| message.role == "user")
        .ok_or_else(|| ApiError::bad_request("`messages` has no user message"))?;
    let question = text_of(&messages[last].content);
    if messages[..last].is_empty() {
        return Ok(question);
    }
    let earlier: String = messages[..last]
        .iter()
        .map(|message| format!("{}: {}\n", message.role, text_of(&message.content)))
        .collect();
    Ok(format!("Conversation so far:\n{earlier}\n{question}"))
}

/// `GET /v1/models`: the daemon's model.
pub async fn models(
    State(state): State<ServerState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require_owner(&state)?;
    let mut names = vec![state.model.as_str()];
    names.extend(
        state
            .models
            .iter()
            .map(String::as_str)
            .filter(|name| *name != state.model),
    );
    let data: Vec<Value> = names
        .into_iter()
        .map(|id| json!({"id": id, "object": "model", "created": 0, "owned_by": "localgpt"}))
        .collect();
    Ok(Json(json!({"object": "list", "data": data})))
}

/// `POST /v1/chat/completions`.
pub async fn completions(
    State(state): State<ServerState>,
    caller: Caller,
    Json(request): Json<CompletionRequest>,
) -> Result<Response, ApiError> {
    let text = input_of(&request.messages)?;
    caller.count_chat(&state)?;
    let owner = caller.is_owner(&state);
    let model = request.model.clone().unwrap_or_else(|| state.model.clone());
    // Clients name models LocalGPT may not know ("gpt-4o"); only LocalGPT's own names switch.
    let requested = request.model.filter(|name| name.contains('/'));
    let ticket = state
        .bus
        .submit(Submission {
            source: Source::Api,
            sender: caller.0,
            payload: Payload {
                text,
                session_id: None,
                model: requested,
                ..Default::default()
            },
            job_tools: Vec::new(),
            reply_to: None,
            deadline: None,
        })
        .map_err(|error| match error {
            BusError::Busy(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", error.to_string())
            }
            BusError::Closed => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                error.to_string(),
            ),
        })?;
    let id = format!("chatcmpl-{}", uuid::Uuid::new_v4().simple());
    let created = jiff::Timestamp::now().as_second();
    if request.stream {
        return Ok(Sse::new(chunks(ticket, id, model, created)).into_response());
    }
    match ticket.outcome().await {
        Outcome::Done { report, .. } => Ok(Json(json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": report.answer},
                "finish_reason": "stop",
            }],
            "usage": {
                "prompt_tokens": report.usage.input_tokens,
                "completion_tokens": report.usage.output_tokens,
                "total_tokens": report.usage.input_tokens + report.usage.output_tokens,
            },
        }))
        .into_response()),
        Outcome::Failed(failure) => Err(super::chat::failure_error(failure, owner)),
        Outcome::TimedOut => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timed_out",
            "the turn ran past its deadline",
        )),
    }
}

fn chunk(id: &str, model: &str, created: i64, delta: Value, finish: Option<&str>) -> Event {
    Event::default().data(
        json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        })
        .to_string(),
    )
}

/// Text deltas as OpenAI chunks, a final chunk with the finish reason, then `[DONE]`.
fn chunks(
    ticket: Ticket,
    id: String,
    model: String,
    created: i64,
) -> impl futures_util::Stream<Item = Result<Event, Infallible>> {
    let first = chunk(
        &id,
        &model,
        created,
        json!({"role": "assistant", "content": ""}),
        None,
    );
    let rest = stream::unfold(Some(ticket), move |state| {
        let (id, model) = (id.clone(), model.clone());
        async move {
            let mut ticket = state?;
            loop {
                match ticket.events.recv().await {
                    Some(AgentEvent::Text(text)) => {
                        let event = chunk(&id, &model, created, json!({"content": text}), None);
                        return Some((vec![event], Some(ticket)));
                    }
                    Some(_) => continue,
                    None => {
                        let finish = match ticket.outcome().await {
                            Outcome::Done { .. } => "stop",
                            _ => "error",
                        };
                        let last = chunk(&id, &model, created, json!({}), Some(finish));
                        return Some((vec![last, Event::default().data("[DONE]")], None));
                    }
                }
            }
        }
    })
    .flat_map(stream::iter);
    stream::iter([first]).chain(rest).map(Ok)
}
