//! A hostile provider's error answer: it echoes the credentials the request carried (the
//! `authorization` and `x-api-key` headers and the query string) and the URL it was sent to,
//! in every spelling a careless server might use — raw, percent-encoded, JSON-escaped — so
//! tests can check that none of it reaches anyone.

use axum::http::request::Parts;

/// How the echoing error answer is shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// The provider's JSON error body, the echo in its message.
    Json,
    /// A plain-text body (what a proxy in front of the provider answers), the echo raw in it.
    Plain,
}

/// The text echoing what `parts` carried.
pub(crate) fn echo_text(parts: &Parts) -> String {
    let mut credentials: Vec<String> = ["authorization", "x-api-key", "proxy-authorization"]
        .into_iter()
        .filter_map(|name| parts.headers.get(name))
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .collect();
    // The bare key too, as a server quoting it back would.
    let bare: Vec<String> = credentials
        .iter()
        .filter_map(|value| value.strip_prefix("Bearer "))
        .map(str::to_owned)
        .collect();
    credentials.extend(bare);
    let host = parts
        .headers
        .get("host")
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .unwrap_or_default();
    let target = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_default();
    let mut text = format!("invalid credentials for http://{host}{target}");
    for credential in &credentials {
        let json = serde_json::to_string(credential).unwrap_or_default();
        text.push_str(&format!(
            "; got `{credential}` (url-encoded {}, form {}, json {})",
            localgpt_core::redact::percent_encode(credential, false),
            localgpt_core::redact::percent_encode(credential, true),
            json.trim_matches('"'),
        ));
    }
    text
}
