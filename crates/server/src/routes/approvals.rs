//! Tool calls waiting for the owner's consent: list them, and answer one by id. The request
//! itself reaches a streaming client as an `approval` event of its chat.

use axum::Json;
use axum::extract::{Path, State};
use localgpt_agent::control::ApprovalDesk;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::{ApiError, ServerState};

/// Body of `POST /api/approvals/{id}`.
#[derive(Debug, Deserialize)]
pub struct AnswerBody {
    approve: bool,
}

fn desk(state: &ServerState) -> Result<&ApprovalDesk, ApiError> {
    state
        .approvals
        .as_deref()
        .ok_or_else(|| ApiError::not_found("this server does not take approvals"))
}

/// `GET /api/approvals`: requests waiting now, oldest first.
pub async fn list(
    State(state): State<ServerState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require_owner(&state)?;
    Ok(Json(json!(desk(&state)?.pending())))
}

/// `POST /api/approvals/{id}` with `{"approve": true|false}`.
pub async fn answer(
    State(state): State<ServerState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<AnswerBody>,
) -> Result<Json<Value>, ApiError> {
    caller.require_owner(&state)?;
    let request = desk(&state)?
        .answer(&id, body.approve)
        .map_err(|error| ApiError::not_found(error.to_string()))?;
    Ok(Json(json!({
        "id": request.id,
        "tool": request.tool,
        "approved": body.approve,
    })))
}
