//! `/mcp`: the MCP server on the Streamable HTTP transport, for the owner only (the token, or
//! the local user where that is allowed — the same rule as the rest of the owner API). `POST`
//! carries one JSON-RPC message and is answered with JSON (`202` for a notification);
//! `initialize` opens a session whose id (`Mcp-Session-Id`) every later request must carry;
//! `DELETE` ends it; `GET` (a server-to-client stream) is not offered.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use localgpt_mcp::protocol::{self, Incoming};
use localgpt_mcp::{Connection, McpServer};

use crate::auth::Caller;
use crate::{ApiError, ServerState};

/// The session header of the Streamable HTTP transport.
const SESSION_HEADER: &str = "mcp-session-id";

fn server(state: &ServerState) -> Result<&McpServer, ApiError> {
    state
        .mcp
        .as_deref()
        .ok_or_else(|| ApiError::not_found("the MCP server is not running in this daemon"))
}

fn session_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(SESSION_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|id| !id.is_empty())
}

/// `POST /mcp`: one JSON-RPC message.
pub async fn post(
    State(state): State<ServerState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require_owner(&state)?;
    let server = server(&state)?;
    let text = String::from_utf8_lossy(&body);
    let incoming = protocol::parse(&text);
    let initializing =
        matches!(&incoming, Incoming::Request { method, .. } if method == "initialize");
    if initializing {
        let mut connection = Connection::default();
        let answer = server.handle_text(&mut connection, &text).await;
        let id = uuid::Uuid::new_v4().simple().to_string();
        server.sessions.open(id.clone(), connection);
        let mut response = json_response(answer);
        if let Ok(value) = HeaderValue::from_str(&id) {
            response.headers_mut().insert(SESSION_HEADER, value);
        }
        return Ok(response);
    }
    if let Incoming::Invalid(answer) = incoming {
        return Ok((StatusCode::BAD_REQUEST, axum::Json(answer)).into_response());
    }
    let id = session_id(&headers).ok_or_else(|| {
        ApiError::bad_request("send the Mcp-Session-Id that `initialize` returned")
    })?;
    let mut connection = server.sessions.get(id).ok_or_else(|| {
        ApiError::not_found("no such MCP session (it ended): send `initialize` again")
    })?;
    let answer = server.handle_text(&mut connection, &text).await;
    server.sessions.update(id, connection);
    Ok(json_response(answer))
}

/// The answer as JSON, or `202 Accepted` when there is none (a notification or a response).
fn json_response(answer: Option<serde_json::Value>) -> Response {
    match answer {
        Some(answer) => axum::Json(answer).into_response(),
        None => StatusCode::ACCEPTED.into_response(),
    }
}

/// `GET /mcp`: this server sends nothing unasked, so there is no stream to open.
pub async fn get(State(state): State<ServerState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require_owner(&state)?;
    server(&state)?;
    Ok((
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, "POST, DELETE")],
        "this MCP server answers POST requests only",
    )
        .into_response())
}

/// `DELETE /mcp`: ends the session the header names.
pub async fn delete(
    State(state): State<ServerState>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    caller.require_owner(&state)?;
    let server = server(&state)?;
    let id = session_id(&headers)
        .ok_or_else(|| ApiError::bad_request("the Mcp-Session-Id header is missing"))?;
    if server.sessions.close(id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("no such MCP session"))
    }
}
