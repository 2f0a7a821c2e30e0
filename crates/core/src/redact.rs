//! Keeping secrets out of everything LocalGPT writes or shows: a [`Redactor`] knows the
//! credentials of a configuration (API keys, the API token, the Telegram bot token, and the
//! provider keys of the environment) and replaces each of them — raw, percent-encoded or
//! JSON-escaped — wherever they occur in a text. Provider error bodies, URLs in errors,
//! transcripts, API responses and log lines all pass through one.

use std::borrow::Cow;

use crate::Config;

/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Secrets shorter than this are not searched for: they would match ordinary words.
const MIN_SECRET_CHARS: usize = 6;

/// Environment variables whose values are credentials even when the config does not name them.
pub const SECRET_ENV_VARS: &[&str] = &[
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "TELEGRAM_BOT_TOKEN",
    "LOCALGPT_AUTH_TOKEN",
];

/// Replaces known secrets in text.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Every searched form of every secret, longest first.
    needles: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("forms", &self.needles.len())
            .finish()
    }
}

impl Redactor {
    /// A redactor for `secrets` (empty and very short ones are ignored).
    pub fn new<S: AsRef<str>>(secrets: impl IntoIterator<Item = S>) -> Self {
        let mut needles = Vec::new();
        for secret in secrets {
            let secret = secret.as_ref().trim();
            if secret.chars().count() < MIN_SECRET_CHARS {
                continue;
            }
            for form in encodings(secret) {
                if !needles.contains(&form) {
                    needles.push(form);
                }
            }
        }
        needles.sort_by_key(|needle| std::cmp::Reverse(needle.len()));
        Self { needles }
    }

    /// The credentials of `config`, and those in the environment's provider key variables.
    pub fn from_config(config: &Config) -> Self {
        let mut secrets: Vec<String> = [
            &config.providers.anthropic.api_key,
            &config.providers.openai.api_key,
            &config.server.auth_token,
            &config.telegram.bot_token,
        ]
        .into_iter()
        .flatten()
        .map(|secret| secret.expose().to_owned())
        .collect();
        // MCP servers' environment values whose names say they are credentials.
        secrets.extend(
            config
                .mcp
                .servers
                .iter()
                .flat_map(|server| &server.env)
                .filter(|(name, _)| names_a_credential(name))
                .map(|(_, value)| value.expose().to_owned()),
        );
        // Every header value of URL servers (they carry tokens, whatever their names).
        secrets.extend(
            config
                .mcp
                .servers
                .iter()
                .flat_map(|server| server.headers.values())
                .map(|value| value.expose().to_owned()),
        );
        secrets.extend(
            SECRET_ENV_VARS
                .iter()
                .filter_map(|name| std::env::var(name).ok()),
        );
        Self::new(secrets)
    }

    /// Adds more secrets.
    pub fn with<S: AsRef<str>>(self, more: impl IntoIterator<Item = S>) -> Self {
        let mut all: Vec<String> = self.needles;
        all.extend(more.into_iter().map(|s| s.as_ref().to_owned()));
        // Re-deriving the forms of a form is harmless: they are all searched for.
        Self::new(all)
    }

    /// Whether there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// `text` with every form of every secret replaced by [`REDACTED`].
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if !self
            .needles
            .iter()
            .any(|needle| text.contains(needle.as_str()))
        {
            return Cow::Borrowed(text);
        }
        let mut out = text.to_owned();
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), REDACTED);
            }
        }
        Cow::Owned(out)
    }
}

/// The forms a secret takes in URLs, form bodies and JSON.
fn encodings(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_owned()];
    let upper = percent_encode(secret, false);
    forms.push(upper.clone());
    forms.push(upper.to_lowercase_escapes());
    forms.push(percent_encode(secret, true));
    // What a URL parser writes: only spaces, controls, non-ASCII and a few marks are escaped.
    for marks in [URL_PATH_MARKS, URL_QUERY_MARKS] {
        let minimal = percent_encode_only(secret, marks);
        forms.push(minimal.to_lowercase_escapes());
        forms.push(minimal);
    }
    if let Ok(json) = serde_json::to_string(secret) {
        forms.push(json.trim_matches('"').to_owned());
    }
    forms.dedup();
    forms
}

/// Whether an environment variable or header called `name` holds a credential (`API_KEY`,
/// `GITHUB_TOKEN`, `DB_PASSWORD`, `Authorization`, …).
pub fn names_a_credential(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    [
        "KEY",
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "AUTH",
        "CREDENTIAL",
        "COOKIE",
    ]
    .iter()
    .any(|word| name.contains(word))
}

/// Percent-encodes everything but RFC 3986's unreserved characters; `plus_for_space` writes
/// spaces as `+` (form encoding).
pub fn percent_encode(text: &str, plus_for_space: bool) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(byte));
            }
            b' ' if plus_for_space => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// ASCII marks a URL parser escapes in a path (besides spaces and controls).
const URL_PATH_MARKS: &[u8] = b"\"#<>?`{}";
/// ASCII marks a URL parser escapes in a query.
const URL_QUERY_MARKS: &[u8] = b"\"#<>'";

/// Percent-encodes controls, spaces, non-ASCII bytes and `marks`, leaving the rest as it is.
fn percent_encode_only(text: &str, marks: &[u8]) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte <= b' ' || byte >= 0x7f || marks.contains(&byte) {
            out.push_str(&format!("%{byte:02X}"));
        } else {
            out.push(char::from(byte));
        }
    }
    out
}

trait LowercaseEscapes {
    fn to_lowercase_escapes(&self) -> String;
}

impl LowercaseEscapes for String {
    /// `%2F` → `%2f`, leaving other characters as they are.
    fn to_lowercase_escapes(&self) -> String {
        let mut out = String::with_capacity(self.len());
        let mut chars = self.chars().peekable();
        while let Some(c) = chars.next() {
            out.push(c);
            if c == '%' {
                for _ in 0..2 {
                    if let Some(hex) = chars.next() {
                        out.push(hex.to_ascii_lowercase());
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcp_server_credentials_are_scrubbed_and_other_variables_are_not() {
        let config: Config = toml::from_str(
            r#"
            [[mcp.servers]]
            name = "github"
            command = "github-mcp"
            env = { GITHUB_TOKEN = "ghp-planted-1234567890", PATH = "/usr/local/bin:/usr/bin", MODE = "production-mode" }
            "#,
        )
        .unwrap();
        let redactor = Redactor::from_config(&config);
        let text = "token ghp-planted-1234567890 path /usr/local/bin:/usr/bin mode production-mode";
        let scrubbed = redactor.scrub(text);
        assert!(!scrubbed.contains("ghp-planted"), "{scrubbed}");
        assert!(scrubbed.contains("/usr/local/bin:/usr/bin"), "{scrubbed}");
        assert!(scrubbed.contains("production-mode"), "{scrubbed}");
        for name in [
            "API_KEY",
            "github_token",
            "DB_PASSWORD",
            "Authorization",
            "X-Api-Key",
        ] {
            assert!(names_a_credential(name), "{name}");
        }
        for name in ["PATH", "HOME", "MODE", "LANG"] {
            assert!(!names_a_credential(name), "{name}");
        }
    }

    #[test]
    fn secrets_are_replaced_in_every_encoding() {
        let redactor = Redactor::new(["sk-ant-SECRET/123 é", "x"]);
        for leaked in [
            "error: key sk-ant-SECRET/123 é is invalid",
            "GET /bot?key=sk-ant-SECRET%2F123%20%C3%A9",
            "GET /bot?key=sk-ant-SECRET%2f123%20%c3%a9",
            "body key=sk-ant-SECRET%2F123+%C3%A9",
            "url (http://x/botsk-ant-SECRET/123%20%C3%A9/getMe)",
            "url (http://x/botsk-ant-SECRET/123%20%c3%a9/getMe)",
        ] {
            let scrubbed = redactor.scrub(leaked);
            assert!(scrubbed.contains(REDACTED), "{leaked} -> {scrubbed}");
            assert!(!scrubbed.contains("SECRET"), "{leaked} -> {scrubbed}");
        }
        let json = Redactor::new(["tok\"en\\with-quotes"]);
        let body = serde_json::json!({"error": "bad tok\"en\\with-quotes"}).to_string();
        assert!(!json.scrub(&body).contains("with-quotes"));
        // Too short to search for safely.
        assert_eq!(redactor.scrub("x marks the spot"), "x marks the spot");
    }

    #[test]
    fn text_without_secrets_is_borrowed() {
        let redactor = Redactor::new(["abcdefgh"]);
        assert!(matches!(redactor.scrub("nothing here"), Cow::Borrowed(_)));
        assert!(Redactor::new(Vec::<String>::new()).is_empty());
    }
}
