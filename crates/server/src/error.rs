//! API errors as `{"error": {"code", "message"}}` with the matching status code.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The message for people.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// 401: the caller is not the owner.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send the owner token as `Authorization: Bearer …`",
        )
    }

    /// 400 with a message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404 with a message.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 500 with a message.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(json!({"error": {"code": self.code, "message": self.message}}));
        (self.status, body).into_response()
    }
}

/// A memory failure, mapped once: a query the index cannot answer is the caller's (400); a busy
/// or stopping index may work later (503 `memory_busy`); anything else is the index's own
/// failure (500 `memory_failed`).
impl From<localgpt_memory::HandleError> for ApiError {
    fn from(error: localgpt_memory::HandleError) -> Self {
        if error.is_bad_request() {
            Self::bad_request(error.to_string())
        } else if error.is_temporary() {
            Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "memory_busy",
                error.to_string(),
            )
        } else {
            Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "memory_failed",
                error.to_string(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use localgpt_memory::{HandleError, MemoryError};

    use super::*;

    #[test]
    fn memory_failures_map_to_the_status_that_says_whose_they_are() {
        let cases = [
            (
                HandleError::Index(MemoryError::BadQuery("empty".into())),
                StatusCode::BAD_REQUEST,
            ),
            (
                HandleError::Index(MemoryError::NoVectors("none".into())),
                StatusCode::BAD_REQUEST,
            ),
            (
                HandleError::TimedOut {
                    what: "search",
                    limit: std::time::Duration::from_secs(1),
                },
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (HandleError::Poisoned, StatusCode::INTERNAL_SERVER_ERROR),
        ];
        for (error, status) in cases {
            let shown = error.to_string();
            let answer = ApiError::from(error);
            assert_eq!(answer.status, status, "{shown}");
            assert_eq!(answer.message(), shown);
        }
    }
}
