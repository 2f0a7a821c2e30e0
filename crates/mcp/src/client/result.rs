//! A `tools/call` result as the text the model reads: the text parts joined, other parts named
//! (an image is not passed on), structured content as JSON when there is no text, and a result
//! marked `isError` returned as the tool's failure.

use serde_json::Value;

use super::ClientError;

/// The text of a `tools/call` result.
pub fn tool_text(result: &Value) -> Result<String, ClientError> {
    let mut parts = Vec::new();
    for part in result
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match part.get("type").and_then(Value::as_str) {
            Some("text") => {
                if let Some(text) = part.get("text").and_then(Value::as_str) {
                    parts.push(text.to_owned());
                }
            }
            Some("resource") => {
                if let Some(text) = part.pointer("/resource/text").and_then(Value::as_str) {
                    parts.push(text.to_owned());
                }
            }
            Some(other) => parts.push(format!("[{other} content not shown]")),
            None => {}
        }
    }
    if parts.is_empty()
        && let Some(structured) = result.get("structuredContent")
    {
        parts.push(structured.to_string());
    }
    let text = parts.join("\n");
    if result.get("isError").and_then(Value::as_bool) == Some(true) {
        return Err(ClientError::ToolFailed(text));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn text_parts_are_joined_and_errors_fail() {
        let ok = json!({"content": [{"type": "text", "text": "a"}, {"type": "image", "data": "…"},
            {"type": "text", "text": "b"}]});
        assert_eq!(tool_text(&ok).unwrap(), "a\n[image content not shown]\nb");
        let structured = json!({"content": [], "structuredContent": {"result": 5}});
        assert_eq!(tool_text(&structured).unwrap(), r#"{"result":5}"#);
        let failed = json!({"content": [{"type": "text", "text": "bad input"}], "isError": true});
        assert!(
            matches!(tool_text(&failed), Err(ClientError::ToolFailed(text)) if text == "bad input")
        );
    }
}
