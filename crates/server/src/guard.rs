//! Request limits checked before routing, each refused in the API's JSON error shape: a request
//! target past [`MAX_URI_BYTES`] (414), headers past [`MAX_HEADER_LINES`] or [`MAX_HEADER_BYTES`]
//! (431), a body past [`crate::MAX_BODY_BYTES`] (413) or one that does not arrive within the
//! body timeout (408). The body is read here, so a client trickling it cannot hold a connection
//! busy for longer than that. Larger excesses are refused by hyper before this runs (see
//! `listen`), with a bare status.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::{ApiError, MAX_BODY_BYTES};

/// Longest request target (path and query) answered.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most header lines in a request.
pub const MAX_HEADER_LINES: usize = 100;
/// Most bytes of headers (names and values) in a request.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Checks the request's size and reads its body within `body_timeout`.
pub async fn limit_request(
    State(body_timeout): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    match checked(request, body_timeout).await {
        Ok(request) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

async fn checked(request: Request, body_timeout: Duration) -> Result<Request, ApiError> {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    if target > MAX_URI_BYTES {
        return Err(ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("the request target is longer than {MAX_URI_BYTES} bytes"),
        ));
    }
    let headers = request.headers();
    let header_bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if headers.len() > MAX_HEADER_LINES || header_bytes > MAX_HEADER_BYTES {
        return Err(ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!("send at most {MAX_HEADER_LINES} headers and {MAX_HEADER_BYTES} bytes of them"),
        ));
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let (parts, body) = request.into_parts();
    let bytes = match tokio::time::timeout(body_timeout, axum::body::to_bytes(body, MAX_BODY_BYTES))
        .await
    {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => return Err(too_large()),
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!(
                    "the request body did not arrive within {}s",
                    body_timeout.as_secs_f32()
                ),
            ));
        }
    };
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
    )
}

/// Gives every error answer the API's shape, `{"error": {"code", "message"}}`: axum's own
/// rejections (bad JSON, wrong content type, unknown method…) come as plain text or empty.
pub async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("request refused")
            .to_lowercase()
    } else {
        text.chars().take(500).collect()
    };
    let mut answer = ApiError::new(status, code_of(status), message).into_response();
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(value) = parts.headers.remove(&name) {
            answer.headers_mut().insert(name, value);
        }
    }
    answer
}

/// The machine-readable code of an error status.
fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::URI_TOO_LONG => "uri_too_long",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "unprocessable_entity",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "headers_too_large",
        status if status.is_server_error() => "internal",
        _ => "error",
    }
}

/// Unknown routes: 404 in the API's shape.
pub async fn not_found(request: Request) -> ApiError {
    ApiError::not_found(format!(
        "no endpoint {} {}",
        request.method(),
        short(request.uri().path())
    ))
}

/// At most 200 characters of `text`, for echoing a caller's input back.
fn short(text: &str) -> String {
    text.chars().take(200).collect()
}
