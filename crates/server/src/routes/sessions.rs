//! Saved conversations: list, read, rename, export as markdown, delete. Ids are checked by the session store, so no path
//! parameter reaches outside it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use localgpt_agent::sessions::SessionError;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::{ApiError, ServerState};

fn session_error(error: SessionError) -> ApiError {
    match error {
        SessionError::BadId(_) => ApiError::bad_request(error.to_string()),
        SessionError::NotFound(_) | SessionError::Ambiguous { .. } => {
            ApiError::not_found(error.to_string())
        }
        other => ApiError::internal(other.to_string()),
    }
}

/// `GET /api/sessions`: most recent first.
pub async fn list(
    State(state): State<ServerState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require_owner(&state)?;
    let sessions = state.sessions.list().map_err(session_error)?;
    Ok(Json(json!(
        sessions
            .iter()
            .map(|summary| json!({
                "id": summary.id,
                "title": summary.title,
                "started": summary.started,
                "messages": summary.messages,
                "model": summary.model,
                "origin": summary.origin,
            }))
            .collect::<Vec<_>>()
    )))
}

/// `GET /api/sessions/{id}`: the conversation's messages.
pub async fn show(
    State(state): State<ServerState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_owner(&state)?;
    let transcript = state.sessions.load(&id).map_err(session_error)?;
    Ok(Json(json!({
        "id": transcript.header.id,
        "started": transcript.header.timestamp,
        "messages": transcript.messages(),
    })))
}

/// Body of `PATCH /api/sessions/{id}`.
#[derive(Debug, Deserialize)]
pub struct RenameBody {
    title: String,
}

/// `PATCH /api/sessions/{id}` with `{"title": …}`: renames the session.
pub async fn rename(
    State(state): State<ServerState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<RenameBody>,
) -> Result<Json<Value>, ApiError> {
    caller.require_owner(&state)?;
    let title = body.title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(ApiError::bad_request("`title` must be 1 to 200 characters"));
    }
    state.sessions.rename(&id, title).map_err(session_error)?;
    Ok(Json(json!({"id": id, "title": title})))
}

/// `GET /api/sessions/{id}/export`: the conversation as a markdown download.
pub async fn export(
    State(state): State<ServerState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require_owner(&state)?;
    let transcript = state.sessions.load(&id).map_err(session_error)?;
    let file_name = format!("localgpt-{}.md", &transcript.header.id);
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/markdown; charset=utf-8".to_owned(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        transcript.to_markdown(),
    )
        .into_response())
}

/// `DELETE /api/sessions/{id}`.
pub async fn remove(
    State(state): State<ServerState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_owner(&state)?;
    state.sessions.delete(&id).map_err(session_error)?;
    Ok(Json(json!({"deleted": id})))
}
