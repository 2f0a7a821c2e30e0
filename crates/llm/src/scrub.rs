//! Keeping secrets out of provider errors, in one place.
//!
//! Every [`ChatError`] a provider produces — from an HTTP error body, a transport failure, a
//! malformed chunk or the Claude CLI's stderr — passes through [`ErrorScrubber::scrub_error`] before anyone sees
//! it (the retry log line, the agent, transcripts, the API, the event log). It replaces the
//! secrets a [`Redactor`] knows (the configured keys and tokens, in raw, percent-encoded and
//! JSON-escaped forms) and strips the credentials any URL in the text carries: its userinfo
//! (`https://user:pass@host`) and its query string (`?key=…`), which may hold secrets nobody
//! configured.

use std::borrow::Cow;

use localgpt_core::chat::ChatError;
use localgpt_core::config::Secret;
use localgpt_core::redact::{REDACTED, Redactor};

/// What a provider scrubs its errors with: its own redactor (its key and endpoint credentials,
/// and the environment's key variables) and any the caller adds (the configuration's secrets).
#[derive(Debug, Clone, Default)]
pub struct ErrorScrubber {
    redactors: Vec<Redactor>,
}

impl ErrorScrubber {
    /// Also scrubs what `redactor` knows.
    pub fn and(mut self, redactor: Redactor) -> Self {
        if !redactor.is_empty() {
            self.redactors.push(redactor);
        }
        self
    }

    /// `text` with known secrets replaced and URL credentials stripped.
    pub fn scrub_text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut text = Cow::Borrowed(text);
        for redactor in &self.redactors {
            if let Cow::Owned(scrubbed) = redactor.scrub(&text) {
                text = Cow::Owned(scrubbed);
            }
        }
        match text {
            Cow::Borrowed(text) => strip_url_credentials(text),
            Cow::Owned(text) => Cow::Owned(strip_url_credentials(&text).into_owned()),
        }
    }

    /// `error` with every text it carries passed through [`ErrorScrubber::scrub_text`].
    pub fn scrub_error(&self, error: ChatError) -> ChatError {
        scrub_error(self, error)
    }
}

/// The scrubber a provider starts with: the secrets of the environment's key variables, its own
/// key, and the credentials in its endpoint URL.
pub fn provider_scrubber(api_key: Option<&Secret>, url: &str) -> ErrorScrubber {
    let mut secrets = secrets_in_url(url);
    if let Some(key) = api_key {
        secrets.push(key.expose().to_owned());
    }
    let environment = Redactor::from_config(&localgpt_core::Config::default());
    ErrorScrubber::default()
        .and(environment)
        .and(Redactor::new(secrets))
}

/// The credentials a URL carries: its userinfo (user, password, both) and its query values.
pub fn secrets_in_url(url: &str) -> Vec<String> {
    let mut secrets = Vec::new();
    let Some((_, rest)) = url.split_once("://") else {
        return secrets;
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if let Some((userinfo, _)) = rest[..authority_end].rsplit_once('@') {
        secrets.push(userinfo.to_owned());
        secrets.extend(userinfo.split(':').map(str::to_owned));
        // The HTTP client sends it decoded, as `Authorization: Basic base64(user:password)`.
        let decoded = percent_decode(userinfo);
        secrets.extend(decoded.split(':').map(str::to_owned));
        secrets.push(base64(decoded.as_bytes()));
        secrets.push(decoded);
    }
    if let Some((_, query)) = rest.split_once('?') {
        let query = query.split('#').next().unwrap_or_default();
        for pair in query.split('&') {
            let value = pair.split_once('=').map_or(pair, |(_, value)| value);
            secrets.push(value.to_owned());
        }
    }
    secrets.retain(|secret| !secret.is_empty());
    secrets.dedup();
    secrets
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Standard base64 with padding, as HTTP basic authentication writes it.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (k, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if k <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn scrub_error(scrubber: &ErrorScrubber, error: ChatError) -> ChatError {
    let clean = |text: String| match scrubber.scrub_text(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(scrubbed) => scrubbed,
    };
    match error {
        ChatError::Auth {
            provider,
            message,
            hint,
        } => ChatError::Auth {
            provider,
            message: clean(message),
            hint: clean(hint),
        },
        ChatError::RateLimited {
            provider,
            message,
            retry_after,
            attempts,
        } => ChatError::RateLimited {
            provider,
            message: clean(message),
            retry_after,
            attempts,
        },
        ChatError::Server {
            provider,
            status,
            message,
            attempts,
        } => ChatError::Server {
            provider,
            status,
            message: clean(message),
            attempts,
        },
        ChatError::BadRequest {
            provider,
            status,
            message,
        } => ChatError::BadRequest {
            provider,
            status,
            message: clean(message),
        },
        ChatError::Network {
            provider,
            message,
            attempts,
        } => ChatError::Network {
            provider,
            message: clean(message),
            attempts,
        },
        ChatError::Protocol { provider, message } => ChatError::Protocol {
            provider,
            message: clean(message),
        },
        ChatError::Failed { provider, message } => ChatError::Failed {
            provider,
            message: clean(message),
        },
        ChatError::Config { reference, message } => ChatError::Config {
            reference: clean(reference),
            message: clean(message),
        },
        ChatError::Cancelled => ChatError::Cancelled,
    }
}

/// Characters that end a URL embedded in prose, JSON or a log line.
fn ends_url(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '"' | '\'' | '<' | '>' | '`' | ')' | ']' | '}' | '\\' | ','
        )
}

/// Every `scheme://…` in `text` without its userinfo and query string.
pub fn strip_url_credentials(text: &str) -> Cow<'_, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let end = after.find(ends_url).unwrap_or(after.len());
        let (url, tail) = after.split_at(end);
        let cleaned = clean_url_tail(url);
        changed |= cleaned != url;
        out.push_str(&cleaned);
        rest = tail;
    }
    out.push_str(rest);
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

/// What follows `scheme://`: the userinfo and the query are replaced by [`REDACTED`].
fn clean_url_tail(url: &str) -> String {
    let authority_end = url.find(['/', '?', '#']).unwrap_or(url.len());
    let (authority, path) = url.split_at(authority_end);
    let host = match authority.rsplit_once('@') {
        Some((_, host)) => format!("{REDACTED}@{host}"),
        None => authority.to_owned(),
    };
    let path = match path.split_once('?') {
        Some((path, _)) => format!("{path}?{REDACTED}"),
        None => path.to_owned(),
    };
    format!("{host}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_credentials_are_stripped_wherever_a_url_appears() {
        let cases = [
            (
                "error sending request for url (https://bob:hunter22@api.example.com/v1/x)",
                "error sending request for url (https://[redacted]@api.example.com/v1/x)",
            ),
            (
                "GET http://127.0.0.1:9/v1/models?key=AIza-secret&x=1 failed",
                "GET http://127.0.0.1:9/v1/models?[redacted] failed",
            ),
            (
                r#"{"url":"https://u:p@h/p?token=t"}"#,
                r#"{"url":"https://[redacted]@h/p?[redacted]"}"#,
            ),
            ("no url here", "no url here"),
            (
                "see https://docs.example.com/errors",
                "see https://docs.example.com/errors",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(strip_url_credentials(input), expected, "{input}");
        }
    }

    #[test]
    fn url_secrets_are_found() {
        let found = secrets_in_url("https://alice:pw%2F123456@host:1/v1?api_key=abcdef&b");
        for secret in [
            "alice:pw%2F123456",
            "pw/123456",
            "YWxpY2U6cHcvMTIzNDU2",
            "abcdef",
        ] {
            assert!(found.iter().any(|s| s == secret), "{secret} in {found:?}");
        }
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"abc"), "YWJj");
        assert!(secrets_in_url("http://127.0.0.1:11434").is_empty());
    }

    #[test]
    fn every_kind_of_error_is_scrubbed() {
        let scrubber = ErrorScrubber::default().and(Redactor::new(["sk-planted-1234"]));
        let message = "key sk-planted-1234 at https://u:pw@h/?k=v".to_owned();
        let errors = [
            ChatError::Auth {
                provider: "p".into(),
                message: message.clone(),
                hint: message.clone(),
            },
            ChatError::RateLimited {
                provider: "p".into(),
                message: message.clone(),
                retry_after: None,
                attempts: 1,
            },
            ChatError::Server {
                provider: "p".into(),
                status: 500,
                message: message.clone(),
                attempts: 1,
            },
            ChatError::BadRequest {
                provider: "p".into(),
                status: 400,
                message: message.clone(),
            },
            ChatError::Network {
                provider: "p".into(),
                message: message.clone(),
                attempts: 1,
            },
            ChatError::Protocol {
                provider: "p".into(),
                message: message.clone(),
            },
            ChatError::Failed {
                provider: "p".into(),
                message: message.clone(),
            },
            ChatError::Config {
                reference: message.clone(),
                message: message.clone(),
            },
        ];
        for error in errors {
            let text = scrubber.scrub_error(error).to_string();
            assert!(!text.contains("sk-planted"), "{text}");
            assert!(!text.contains("pw@"), "{text}");
            assert!(!text.contains("k=v"), "{text}");
        }
    }
}
