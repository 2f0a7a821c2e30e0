//! LocalGPT's HTTP API (SPEC §8), served by the daemon: `/health`, `/api/status`, `/api/chat`
//! (JSON, or server-sent events with token deltas and tool activity), memory search and stats,
//! and sessions. Every chat goes through the ingress bus, so the control plane decides trust from
//! the caller's identity (owner token, loopback page of the daemon's own origin, anyone else).
//! Binds loopback by default and refuses any other address without a token. Hardened against
//! misuse: header and body timeouts and a connection cap (`listen`), request size limits
//! (`guard`), per-address caps on untrusted chats and wrong tokens (`caps`); every error is JSON.

mod auth;
mod caps;
mod error;
mod guard;
mod listen;
mod routes;
pub mod telegram;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use localgpt_agent::control::IngressBus;
use localgpt_agent::sessions::SessionStore;
use localgpt_core::config::{Secret, ServerConfig};
use localgpt_memory::MemoryHandle;

pub use caps::Caps;
pub use error::ApiError;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct ServerState {
    /// Where chats are submitted.
    pub bus: IngressBus,
    /// Saved conversations.
    pub sessions: Arc<SessionStore>,
    /// Where the control plane keeps what untrusted inputs produced.
    pub artifacts: Option<localgpt_agent::control::ArtifactStore>,
    /// Tool calls waiting for the owner, when turns may ask over the API.
    pub approvals: Option<Arc<localgpt_agent::control::ApprovalDesk>>,
    /// What the background reported to the owner, when the daemon keeps a log.
    pub events: Option<localgpt_agent::control::EventLog>,
    /// The daemon's log file, for `GET /api/logs`.
    pub log_file: Option<std::path::PathBuf>,
    /// The memory index, when the daemon opened one.
    pub memory: Option<MemoryHandle>,
    /// The MCP server of `/mcp` (the owner's memory and sessions for other agents).
    pub mcp: Option<Arc<localgpt_mcp::McpServer>>,
    /// The default model's name, for status.
    pub model: String,
    /// Why the default model cannot answer yet (with the fix), for status.
    pub model_problem: Option<String>,
    /// Models a client may pick (the default first), for `GET /v1/models` and the web UI.
    pub models: Vec<String>,
    /// Bearer token that identifies the owner.
    pub auth_token: Option<Secret>,
    /// Whether token-less loopback requests are the owner's.
    pub allow_local_unauthenticated: bool,
    /// Timeouts and the connection cap.
    pub limits: Limits,
    /// What untrusted callers may cost (chats, wrong tokens).
    pub caps: Arc<Caps>,
    /// When the daemon started.
    pub started: Instant,
    /// More status fields (the daemon's `heartbeat` and `jobs`), merged into `/api/status`.
    pub extra_status: Option<Arc<dyn Fn() -> serde_json::Value + Send + Sync>>,
}

impl std::fmt::Debug for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerState")
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

/// How long clients may take and how many connections may be open.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest wait for a request's headers, and for the next request on an idle connection.
    pub header_timeout: std::time::Duration,
    /// Longest wait for a request's body once its headers arrived.
    pub body_timeout: std::time::Duration,
    /// Most connections open at once.
    pub max_connections: usize,
}

impl Limits {
    /// The limits `[server]` sets.
    pub fn from_config(config: &ServerConfig) -> Self {
        Self {
            header_timeout: config.header_timeout.get(),
            body_timeout: config.body_timeout.get(),
            max_connections: config.max_connections,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::from_config(&ServerConfig::default())
    }
}

/// Why the server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A non-loopback address without a token would expose the assistant.
    #[error(
        "refusing to listen on {0} without an auth token: set server.auth_token (or bind 127.0.0.1)"
    )]
    NeedsToken(String),
    /// The address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: String,
        /// Why.
        source: std::io::Error,
    },
}

/// The router with every endpoint, its request limits and JSON errors for everything.
pub fn router(state: ServerState) -> Router {
    let body_timeout = state.limits.body_timeout;
    routes::router()
        .fallback(guard::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            body_timeout,
            guard::limit_request,
        ))
        .layer(middleware::map_response(guard::json_errors))
        .with_state(state)
}

/// Binds `bind:port`, refusing a non-loopback address when there is no token.
pub async fn bind(
    bind: &str,
    port: u16,
    has_token: bool,
) -> Result<tokio::net::TcpListener, ServeError> {
    let address = format!("{bind}:{port}");
    let is_loopback = address
        .parse::<SocketAddr>()
        .map(|parsed| parsed.ip().is_loopback())
        .unwrap_or(bind == "localhost");
    if !is_loopback && !has_token {
        return Err(ServeError::NeedsToken(address));
    }
    tokio::net::TcpListener::bind(&address)
        .await
        .map_err(|source| ServeError::Bind { address, source })
}

/// Serves until `shutdown` resolves; in-flight requests finish first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ServerState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.limits;
    listen::serve(listener, router(state), limits, shutdown).await
}
