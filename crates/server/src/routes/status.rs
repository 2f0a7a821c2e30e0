//! Liveness and status.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::ServerState;
use crate::auth::Caller;

/// `GET /health`: the daemon answers.
pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /api/status`: version, model, uptime, queue depth and the index.
pub async fn status(
    State(state): State<ServerState>,
    caller: Caller,
) -> Result<Json<Value>, crate::ApiError> {
    caller.require_owner(&state)?;
    let index = match &state.memory {
        Some(memory) => memory.stats().await.ok().map(|stats| json!(stats)),
        None => None,
    };
    let mut status = json!({
        "version": env!("CARGO_PKG_VERSION"),
        "model": state.model,
        "model_problem": state.model_problem,
        "uptime_seconds": state.started.elapsed().as_secs(),
        "pid": std::process::id(),
        "queue_depth": state.bus.depth(),
        "index": index,
    });
    if let (Some(extra), Some(fields)) = (&state.extra_status, status.as_object_mut())
        && let Value::Object(more) = extra()
    {
        fields.extend(more);
    }
    Ok(Json(status))
}
