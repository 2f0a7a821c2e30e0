//! The endpoints, one module per area.

mod approvals;
mod artifacts;
mod chat;
mod events;
mod logs;
mod mcp;
mod memory;
mod openai;
mod sessions;
mod status;
mod ui;

use axum::Router;
use axum::routing::{get, post};

use crate::ServerState;

/// `?limit=` of the list endpoints (artifacts, events): 50 unless given, at most 1000.
#[derive(Debug, serde::Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    limit: Option<usize>,
}

impl ListQuery {
    /// The number of entries to return.
    pub fn limit(&self) -> usize {
        self.limit.unwrap_or(50).clamp(1, 1000)
    }
}

/// Every route of the API.
pub fn router() -> Router<ServerState> {
    Router::new()
        .route("/", get(ui::index))
        .route("/assets/{*path}", get(ui::asset))
        .route("/health", get(status::health))
        .route("/api/status", get(status::status))
        .route("/api/chat", post(chat::chat))
        .route("/api/memory/search", get(memory::search))
        .route("/api/memory/stats", get(memory::stats))
        .route("/api/sessions", get(sessions::list))
        .route("/api/approvals", get(approvals::list))
        .route("/api/approvals/{id}", post(approvals::answer))
        .route("/api/events", get(events::list))
        .route("/api/artifacts", get(artifacts::list))
        .route("/api/artifacts/{id}", get(artifacts::show))
        .route("/v1/models", get(openai::models))
        .route("/v1/chat/completions", post(openai::completions))
        .route(
            "/api/sessions/{id}",
            get(sessions::show)
                .patch(sessions::rename)
                .delete(sessions::remove),
        )
        .route("/api/sessions/{id}/export", get(sessions::export))
        .route("/api/memory/file", get(memory::file))
        .route("/api/memory/reindex", post(memory::reindex))
        .route("/api/logs", get(logs::recent))
        .route("/mcp", post(mcp::post).get(mcp::get).delete(mcp::delete))
}
