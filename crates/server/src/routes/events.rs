//! `GET /api/events?limit=`: the owner's event log, newest first — what the heartbeat and jobs
//! reported while nobody was chatting.

use axum::Json;
use axum::extract::{Query, State};
use serde_json::{Value, json};

use super::ListQuery;
use crate::auth::Caller;
use crate::{ApiError, ServerState};

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
        .recent(query.limit())
        .map_err(|error| ApiError::internal(error.to_string()))?;
    Ok(Json(json!(events)))
}
