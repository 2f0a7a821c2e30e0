//! HTTP plumbing shared by the API providers: the client, turning HTTP failures into
//! [`ChatError`]s that say what to fix, and reading a streamed body chunk by chunk.

use std::time::Duration;

use localgpt_core::chat::ChatError;
use reqwest::header::HeaderMap;

use crate::emit::Emitter;
use crate::retry::parse_retry_after;

/// How long to wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest silence between two chunks of a reply before the connection is deemed dead.
const READ_TIMEOUT: Duration = Duration::from_secs(300);

/// An HTTP client configured for model APIs.
pub fn client(provider: &str) -> Result<reqwest::Client, ChatError> {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .user_agent(concat!("localgpt/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error| ChatError::Config {
            reference: provider.to_owned(),
            message: format!("cannot create an HTTP client: {error}"),
        })
}

/// A request that did not get an answer: connection refused, reset, timed out.
pub fn network_error(provider: &str, error: &reqwest::Error) -> ChatError {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    ChatError::Network {
        provider: provider.to_owned(),
        message,
        attempts: 1,
    }
}

/// The body ended before the reply did.
pub fn truncated(provider: &str) -> ChatError {
    ChatError::Network {
        provider: provider.to_owned(),
        message: "the connection closed before the reply was complete".to_owned(),
        attempts: 1,
    }
}

/// The next chunk of a streamed body, `None` at its end.
pub async fn next_chunk(
    provider: &str,
    response: &mut reqwest::Response,
) -> Result<Option<Vec<u8>>, ChatError> {
    match response.chunk().await {
        Ok(chunk) => Ok(chunk.map(|bytes| bytes.to_vec())),
        Err(error) => {
            let mut chat_error = network_error(provider, &error);
            if let ChatError::Network { message, .. } = &mut chat_error {
                *message = format!("the reply stream broke off ({message})");
            }
            Err(chat_error)
        }
    }
}

/// Turns an unsuccessful response into an error; `auth_hint` says how to fix a refused key.
/// The body is scrubbed of secrets before it is shortened, so no part of one survives a cut.
pub async fn status_error(
    provider: &str,
    response: reqwest::Response,
    auth_hint: &str,
    emitter: &Emitter,
) -> ChatError {
    let status = response.status().as_u16();
    let retry_after = retry_after(response.headers());
    let body = emitter.scrub_text(&response.text().await.unwrap_or_default());
    error_for_status(provider, status, retry_after, &body, auth_hint)
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let get = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    parse_retry_after(get("retry-after"), get("retry-after-ms"))
}

/// Maps an HTTP status and error body to the matching [`ChatError`].
pub fn error_for_status(
    provider: &str,
    status: u16,
    retry_after: Option<Duration>,
    body: &str,
    auth_hint: &str,
) -> ChatError {
    let message = error_message(body);
    let provider = provider.to_owned();
    match status {
        401 | 403 => ChatError::Auth {
            provider,
            message: format!("HTTP {status}: {message}"),
            hint: auth_hint.to_owned(),
        },
        429 => ChatError::RateLimited {
            provider,
            message,
            retry_after,
            attempts: 1,
        },
        // 408 and 409 are transient per the providers' own SDKs; 5xx (and Anthropic's 529).
        408 | 409 | 500..=599 => ChatError::Server {
            provider,
            status,
            message,
            attempts: 1,
        },
        _ => ChatError::BadRequest {
            provider,
            status,
            message,
        },
    }
}

/// The human part of a provider's error body: `error.message`, `error` or `message`, else the
/// body itself (shortened).
pub fn error_message(body: &str) -> String {
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(body) {
        let candidates = [
            json.pointer("/error/message"),
            json.get("error").filter(|e| e.is_string()),
            json.get("message"),
        ];
        if let Some(text) = candidates.into_iter().flatten().find_map(|v| v.as_str()) {
            return text.to_owned();
        }
    }
    let trimmed = body.trim();
    if trimmed.is_empty() {
        return "no details given".to_owned();
    }
    let mut short: String = trimmed.chars().take(500).collect();
    if short.len() < trimmed.len() {
        short.push('…');
    }
    short
}

/// Joins a base URL and a path without doubling or dropping slashes.
pub fn join_url(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_come_from_each_provider_shape() {
        assert_eq!(
            error_message(r#"{"type":"error","error":{"type":"x","message":"bad key"}}"#),
            "bad key"
        );
        assert_eq!(
            error_message(r#"{"error":"model 'x' not found"}"#),
            "model 'x' not found"
        );
        assert_eq!(error_message(""), "no details given");
        assert_eq!(error_message("<html>oops</html>"), "<html>oops</html>");
    }

    #[test]
    fn statuses_map_to_kinds() {
        let auth = error_for_status("anthropic", 401, None, "{}", "set ANTHROPIC_API_KEY");
        assert!(auth.to_string().contains("ANTHROPIC_API_KEY"));
        assert!(error_for_status("p", 529, None, "", "").is_retryable());
        assert!(!error_for_status("p", 400, None, "", "").is_retryable());
    }
}
