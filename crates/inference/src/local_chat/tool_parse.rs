//! Finds tool calls in a local model's text, in the formats small open models are trained on:
//! Hermes/Qwen `<tool_call>{json}</tool_call>`, Mistral `[TOOL_CALLS][{…}]` and Llama 3's bare
//! `{"name": …, "parameters": …}`. Anything that does not parse stays plain text: a small model's
//! near-miss must never break the agent loop.

use serde_json::Value;

/// Markers that open a tool call; text from one of them on is held back while streaming.
pub const MARKERS: [&str; 2] = ["<tool_call>", "[TOOL_CALLS]"];

/// A call found in the text.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedCall {
    /// Tool name.
    pub name: String,
    /// Arguments object.
    pub arguments: Value,
}

/// Splits a finished reply into its plain text and the tool calls it contains.
pub fn extract(text: &str) -> (String, Vec<ParsedCall>) {
    if let Some(start) = text.find("<tool_call>") {
        let mut calls = Vec::new();
        let mut rest = &text[start..];
        while let Some(open) = rest.find("<tool_call>") {
            let body_start = open + "<tool_call>".len();
            let (body, next) = match rest[body_start..].find("</tool_call>") {
                Some(close) => (
                    &rest[body_start..body_start + close],
                    &rest[body_start + close + "</tool_call>".len()..],
                ),
                None => (&rest[body_start..], ""),
            };
            match parse_call(body.trim()) {
                Some(call) => calls.push(call),
                None => return (text.to_owned(), Vec::new()),
            }
            rest = next;
        }
        return (text[..start].trim_end().to_owned(), calls);
    }
    if let Some(start) = text.find("[TOOL_CALLS]") {
        let body = text[start + "[TOOL_CALLS]".len()..].trim();
        let calls = match serde_json::from_str::<Value>(body) {
            Ok(Value::Array(items)) => items
                .iter()
                .map(call_from_value)
                .collect::<Option<Vec<_>>>(),
            Ok(item) => call_from_value(&item).map(|call| vec![call]),
            Err(_) => None,
        };
        return match calls {
            Some(calls) if !calls.is_empty() => (text[..start].trim_end().to_owned(), calls),
            _ => (text.to_owned(), Vec::new()),
        };
    }
    let trimmed = text.trim();
    if trimmed.starts_with('{')
        && let Some(call) = parse_call(trimmed)
    {
        return (String::new(), vec![call]);
    }
    (text.to_owned(), Vec::new())
}

/// Whether a reply that starts like this may turn out to be a bare JSON call.
pub fn may_be_bare_call(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

fn parse_call(body: &str) -> Option<ParsedCall> {
    call_from_value(&serde_json::from_str::<Value>(body).ok()?)
}

fn call_from_value(value: &Value) -> Option<ParsedCall> {
    let name = value.get("name")?.as_str()?.to_owned();
    let arguments = value
        .get("arguments")
        .or_else(|| value.get("parameters"))
        .cloned()
        .unwrap_or_else(|| Value::Object(serde_json::Map::new()));
    // Some models send the arguments as a JSON string.
    let arguments = match arguments {
        Value::String(text) => serde_json::from_str(&text).ok()?,
        other => other,
    };
    arguments
        .is_object()
        .then_some(ParsedCall { name, arguments })
}

/// How many bytes at the end of `text` could be the start of a marker (held back while streaming).
pub fn partial_marker_len(text: &str) -> usize {
    MARKERS
        .iter()
        .flat_map(|marker| (1..marker.len()).rev().map(move |len| &marker[..len]))
        .filter(|prefix| text.ends_with(prefix))
        .map(str::len)
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn hermes_calls_are_found_with_the_text_before_them() {
        let (text, calls) = extract(
            "Let me look.\n<tool_call>\n{\"name\": \"memory_search\", \"arguments\": {\"query\": \"bikes\"}}\n</tool_call>\n<tool_call>{\"name\":\"list_dir\",\"arguments\":{}}</tool_call>",
        );
        assert_eq!(text, "Let me look.");
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].name, "memory_search");
        assert_eq!(calls[0].arguments, json!({"query": "bikes"}));
        assert_eq!(calls[1].name, "list_dir");
    }

    #[test]
    fn mistral_and_llama3_formats_are_understood() {
        let (_, calls) =
            extract("[TOOL_CALLS][{\"name\": \"read_file\", \"arguments\": {\"path\": \"a.md\"}}]");
        assert_eq!(calls[0].arguments, json!({"path": "a.md"}));
        let (text, calls) = extract(
            "{\"name\": \"web_fetch\", \"parameters\": {\"url\": \"https://example.com\"}}",
        );
        assert_eq!(text, "");
        assert_eq!(calls[0].name, "web_fetch");
        let (_, calls) =
            extract("<tool_call>{\"name\":\"x\",\"arguments\":\"{\\\"a\\\":1}\"}</tool_call>");
        assert_eq!(calls[0].arguments, json!({"a": 1}));
    }

    #[test]
    fn broken_or_truncated_calls_stay_text() {
        for text in [
            "<tool_call>{\"name\": \"memory_search\", \"argum",
            "<tool_call>not json</tool_call>",
            "[TOOL_CALLS] oops",
            "{\"no_name\": 1}",
            "{ a set literal }",
            "<tool_call>{\"name\": \"x\", \"arguments\": [1]}</tool_call>",
        ] {
            let (kept, calls) = extract(text);
            assert!(calls.is_empty(), "{text}");
            assert_eq!(kept, text);
        }
        // A call whose closing tag was cut off but whose JSON is complete still counts.
        let (_, calls) = extract("<tool_call>{\"name\": \"list_dir\", \"arguments\": {}}");
        assert_eq!(calls.len(), 1);
    }

    #[test]
    fn partial_markers_are_held_back() {
        assert_eq!(partial_marker_len("Hello <tool_"), 6);
        assert_eq!(partial_marker_len("Hello [TOOL"), 5);
        assert_eq!(partial_marker_len("Hello"), 0);
    }
}
