//! Memory search and index statistics.

use axum::Json;
use axum::extract::{Query, State};
use localgpt_memory::{SearchMode, SearchOptions};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::{ApiError, ServerState};

/// Query of `GET /api/memory/search`.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    q: String,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    mode: Option<String>,
}

fn memory(state: &ServerState) -> Result<&localgpt_agent::tools::memory::MemoryHandle, ApiError> {
    state
        .memory
        .as_ref()
        .ok_or_else(|| ApiError::not_found("the memory index is not open in this daemon"))
}

/// `GET /api/memory/search?q=&limit=&mode=`: hybrid search results.
pub async fn search(
    State(state): State<ServerState>,
    caller: Caller,
    Query(query): Query<SearchQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require_owner(&state)?;
    let mode = match query.mode.as_deref() {
        None => SearchMode::Hybrid,
        Some(mode) => mode.parse().map_err(|_| {
            ApiError::bad_request(format!("unknown mode `{mode}`: hybrid, keyword or vector"))
        })?,
    };
    let options = SearchOptions {
        limit: query.limit.unwrap_or(10).clamp(1, 100),
        mode,
        ..SearchOptions::default()
    };
    let results = memory(&state)?
        .search(query.q, options)
        .await
        .map_err(|error| ApiError::bad_request(error.to_string()))?;
    Ok(Json(json!(results)))
}

/// `GET /api/memory/stats`.
pub async fn stats(
    State(state): State<ServerState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require_owner(&state)?;
    let stats = memory(&state)?
        .stats()
        .await
        .map_err(|error| ApiError::internal(error.to_string()))?;
    Ok(Json(json!(stats)))
}
