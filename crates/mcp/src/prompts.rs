//! The MCP prompt `recall`: the owner's question with the lines of memory that bear on it, as
//! LocalGPT's active recall gives them to its own model (a fenced data block the notes cannot
//! close, then the question).

use localgpt_agent::recall::{RecallSettings, recall};
use serde_json::{Value, json};

use crate::backend::Backend;

/// The prompts, as `prompts/list` gives them.
pub fn list() -> Vec<Value> {
    vec![json!({
        "name": "recall",
        "description": "Answer a question with what LocalGPT's memory says about it",
        "arguments": [{
            "name": "question",
            "description": "The question to recall memory for",
            "required": true,
        }],
    })]
}

/// `prompts/get`.
pub async fn get(backend: &Backend, params: &Value) -> Result<Value, String> {
    let name = params
        .get("name")
        .and_then(Value::as_str)
        .ok_or("`name` is missing")?;
    if name != "recall" {
        return Err(format!(
            "no prompt `{}`; the prompt is `recall`",
            localgpt_core::text::terminal_safe_line(name)
        ));
    }
    let question = params
        .pointer("/arguments/question")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|question| !question.is_empty())
        .ok_or("the `question` argument is required")?;
    backend.memory.mark_stale();
    let recalled = recall(&backend.memory, question, RecallSettings::default())
        .await
        .map_err(|error| format!("memory recall failed: {error}"))?;
    let description = if recalled.is_empty() {
        "Nothing in memory bears on the question".to_owned()
    } else {
        format!("From memory: {}", recalled.sources().join(", "))
    };
    let text = backend.scrub(&recalled.question_with_notes(question));
    Ok(json!({
        "description": backend.scrub(&description),
        "messages": [{"role": "user", "content": {"type": "text", "text": text}}],
    }))
}
