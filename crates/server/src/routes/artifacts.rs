//! What untrusted inputs produced, kept for the owner: list and read. Ids are checked by the
//! store (64 lower-case hex digits), so no path parameter reaches outside it.

use axum::Json;
use axum::extract::{Path, Query, State};
use localgpt_agent::control::ArtifactError;
use serde_json::{Value, json};

use super::ListQuery;
use crate::auth::Caller;
use crate::{ApiError, ServerState};

fn store(state: &ServerState) -> Result<&localgpt_agent::control::ArtifactStore, ApiError> {
    state
        .artifacts
        .as_ref()
        .ok_or_else(|| ApiError::not_found("this daemon keeps no artifacts"))
}

fn artifact_error(error: ArtifactError) -> ApiError {
    match error {
        ArtifactError::BadId(_) => ApiError::bad_request(error.to_string()),
        ArtifactError::NotFound(_) => ApiError::not_found(error.to_string()),
        other => ApiError::internal(other.to_string()),
    }
}

/// `GET /api/artifacts?limit=`: newest first.
pub async fn list(
    State(state): State<ServerState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require_owner(&state)?;
    let records = store(&state)?.list(query.limit()).map_err(artifact_error)?;
    Ok(Json(json!(records)))
}

/// `GET /api/artifacts/{id}`: the content as text.
pub async fn show(
    State(state): State<ServerState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_owner(&state)?;
    let content = store(&state)?.read(&id).map_err(artifact_error)?;
    Ok(Json(
        json!({"id": id, "content": String::from_utf8_lossy(&content)}),
    ))
}
