//! The window's views, one module each: the conversation ([`chat`]), the conversation list
//! ([`sessions`]), memory search and reindex ([`memory`]), and the daemon's status with the
//! settings it runs with ([`status`]). Small display helpers shared by them are here.

pub mod chat;
pub mod markdown;
pub mod memory;
pub mod sessions;
pub mod status;
pub mod transcript;

use localgpt_core::text::terminal_safe;
use serde_json::Value;

/// A JSON value as text for a label: strings as they are, others as compact JSON, `missing`
/// for null or absent.
pub fn text_of(value: &Value, missing: &str) -> String {
    match value {
        Value::Null => missing.to_owned(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Tool arguments for an approval card or a tool row: pretty JSON when they are JSON, and with
/// control characters and bidirectional overrides shown as escapes, so the command shown is the
/// command that will run (a right-to-left override cannot make `rm -rf ~` read as something
/// harmless).
pub fn shown_arguments(arguments: &Value) -> String {
    let text = match arguments {
        Value::String(text) => serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|value| serde_json::to_string_pretty(&value).ok())
            .unwrap_or_else(|| text.clone()),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    };
    terminal_safe(&text).into_owned()
}

/// A one-line preview of untrusted text (a title, a file name), control characters escaped.
pub fn one_line(text: &str) -> String {
    localgpt_core::text::terminal_safe_line(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn disguised_arguments_are_shown_as_they_are() {
        let arguments = json!({"command": "echo safe \u{202e}txt.hs && rm -rf ~\u{1b}[2K"});
        let shown = shown_arguments(&arguments);
        assert!(!shown.contains('\u{202e}'), "{shown}");
        assert!(!shown.contains('\u{1b}'), "{shown}");
        assert!(shown.contains("rm -rf ~"), "{shown}");
        let from_string = shown_arguments(&json!("{\"command\":\"ls\u{2066}\"}"));
        assert!(!from_string.contains('\u{2066}'), "{from_string}");
    }
}
