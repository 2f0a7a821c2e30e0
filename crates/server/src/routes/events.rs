//! `GET /api/events?limit=`: the owner's event log, newest first — what the heartbeat and jobs
//! reported while nobody was chatting.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::{ApiError, ServerState};

/// Query of `GET /api/events`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    limit: Option<usize>,
}

/// The newest events.
pub async fn list(
    State(state): State<ServerState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require_owner(&state)?;
    let log = state
        .events
        .as_ref()
        .ok_or_else(|| ApiError::not_found("this server keeps no event log"))?;
    let events = log
        .recent(query.limit.unwrap_or(50).clamp(1, 1000))
        .map_err(|error| ApiError::internal(error.to_string()))?;
    Ok(Json(json!(events)))
}
