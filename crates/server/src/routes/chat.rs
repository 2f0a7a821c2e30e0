//! `POST /api/chat`: `{message, session_id?, model?}` through the ingress bus. Answers
//! `{reply, session_id, usage, tool_calls}`, or with `Accept: text/event-stream` a stream of
//! `session` (first), `delta`, `tool_start`, `tool_end`, `approval` (answer with `POST /api/approvals/{id}`) and
//! `notice` events and a final `done` (or `error`). Closing the stream early stops the turn.
//! Callers who are not the owner are capped (429 beyond the hourly chats of `[server]`) and see
//! a generic message when their turn fails, never the provider's error text.

use std::convert::Infallible;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream, StreamExt};
use localgpt_agent::control::{BusError, FailureKind, Outcome, Submission, Ticket, TurnFailure};
use localgpt_agent::runtime::AgentEvent;
use localgpt_core::ingress::{Payload, Source};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::{ApiError, ServerState};

/// Body of `POST /api/chat`.
#[derive(Debug, Deserialize)]
pub struct ChatBody {
    message: String,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    model: Option<String>,
}

/// Submits the message and answers as JSON or as server-sent events.
pub async fn chat(
    State(state): State<ServerState>,
    caller: Caller,
    headers: HeaderMap,
    Json(body): Json<ChatBody>,
) -> Result<Response, ApiError> {
    if body.message.trim().is_empty() {
        return Err(ApiError::bad_request("`message` is empty"));
    }
    caller.count_chat(&state)?;
    let owner = caller.is_owner(&state);
    let ticket = state
        .bus
        .submit(Submission {
            source: Source::Api,
            sender: caller.0,
            payload: Payload {
                text: body.message,
                session_id: body.session_id,
                model: body.model,
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
    let wants_stream = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/event-stream"));
    if wants_stream {
        return Ok(Sse::new(event_stream(ticket, owner))
            .keep_alive(KeepAlive::default())
            .into_response());
    }
    let outcome = ticket.outcome().await;
    outcome_json(outcome, owner).map(|value| Json(value).into_response())
}

/// What a caller who is not the owner is told when a turn fails.
pub const GENERIC_FAILURE: &str = "the assistant could not answer this time; try again later";

/// The final answer as JSON, or the error it was (in detail only for the owner).
/// A failed turn as an API error, mapped once by whose failure it is: `503 model_unavailable`
/// when the model is not set up (the message names the fix), `502 model_failed` only for the
/// model's own failures, `404 unknown_session`, `400 bad_session`, `500` for storage, set-up and
/// anything else. Strangers learn neither the reason nor the setup: they get a generic `502`.
pub(crate) fn failure_error(failure: TurnFailure, owner: bool) -> ApiError {
    if !owner {
        return ApiError::new(StatusCode::BAD_GATEWAY, "turn_failed", GENERIC_FAILURE);
    }
    let status = match failure.kind {
        FailureKind::ModelUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        FailureKind::Model => StatusCode::BAD_GATEWAY,
        FailureKind::UnknownSession => StatusCode::NOT_FOUND,
        FailureKind::BadSession => StatusCode::BAD_REQUEST,
        FailureKind::Storage | FailureKind::Setup | FailureKind::Turn => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    ApiError::new(status, failure.code(), failure.message)
}

fn outcome_json(outcome: Outcome, owner: bool) -> Result<Value, ApiError> {
    match outcome {
        Outcome::Done {
            report,
            session_id,
            artifact,
        } => Ok(json!({
            "reply": report.answer,
            "session_id": session_id,
            "usage": report.usage,
            "tool_calls": report.tool_calls,
            "artifact": artifact,
            "cancelled": report.cancelled,
            "recall": report.recall,
        })),
        Outcome::Failed(failure) => Err(failure_error(failure, owner)),
        Outcome::TimedOut => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timed_out",
            "the turn ran past its deadline and was stopped",
        )),
    }
}

fn event_of(event: AgentEvent) -> Event {
    let (name, data) = match event {
        AgentEvent::Text(text) => ("delta", json!({"text": text})),
        AgentEvent::ToolStarted { name, arguments } => {
            ("tool_start", json!({"name": name, "arguments": arguments}))
        }
        AgentEvent::ToolFinished {
            name,
            preview,
            is_error,
        } => (
            "tool_end",
            json!({"name": name, "preview": preview, "is_error": is_error}),
        ),
        AgentEvent::Notice(text) => ("notice", json!({"text": text})),
        AgentEvent::Session(id) => ("session", json!({"session_id": id})),
        AgentEvent::Recalled(sources) => ("recall", json!({"sources": sources})),
        AgentEvent::ApprovalRequested {
            id,
            tool,
            arguments,
        } => (
            "approval",
            json!({"id": id, "tool": tool, "arguments": arguments}),
        ),
    };
    Event::default().event(name).data(data.to_string())
}

/// The turn's events as they come, then `done` or `error`.
fn event_stream(ticket: Ticket, owner: bool) -> impl Stream<Item = Result<Event, Infallible>> {
    // A client that disconnects drops the stream and with it the ticket, which stops the turn.
    stream::unfold(Some(ticket), move |state| async move {
        let mut ticket = state?;
        match ticket.events.recv().await {
            Some(event) => Some((Ok(event_of(event)), Some(ticket))),
            None => {
                let last = match outcome_json(ticket.outcome().await, owner) {
                    Ok(value) => Event::default().event("done").data(value.to_string()),
                    Err(error) => Event::default().event("error").data(
                        json!({"code": error.code(), "message": error.message()}).to_string(),
                    ),
                };
                Some((Ok(last), None))
            }
        }
    })
    .boxed()
}
