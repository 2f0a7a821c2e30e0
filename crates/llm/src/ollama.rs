//! Ollama's native chat API (`POST {endpoint}/api/chat`), streamed as newline-delimited JSON.
//!
//! Each line carries `message.content` text and, for tool calls, `message.tool_calls` whose
//! arguments are already a JSON object (so each call arrives whole: start, one argument fragment,
//! end). The last line has `done: true`, `done_reason` and the token counts `prompt_eval_count`
//! and `eval_count`. No key is needed.

use localgpt_core::chat::{
    ChatError, ChatEvent, ChatMessage, ChatModel, ChatRequest, ChatStream, ContentPart, Role,
    StopReason, Usage,
};
use localgpt_core::redact::Redactor;
use serde_json::{Map, Value, json};

use crate::emit::{Emitter, stream_from};
use crate::http;
use crate::retry::{RetryPolicy, with_retry};
use crate::scrub::{self, ErrorScrubber};
use crate::sse::LineSplitter;
use crate::tool_calls::ToolCallAssembler;

const PROVIDER: &str = "ollama";
const AUTH_HINT: &str = "check the proxy in front of Ollama (`providers.ollama.endpoint`)";

/// A model served by Ollama.
#[derive(Debug, Clone)]
pub struct OllamaModel {
    name: String,
    model: String,
    url: String,
    client: reqwest::Client,
    retry: RetryPolicy,
    scrubber: ErrorScrubber,
}

impl OllamaModel {
    /// A model served at `endpoint`, e.g. `http://localhost:11434`.
    pub fn new(model: impl Into<String>, endpoint: &str) -> Result<Self, ChatError> {
        let model = model.into();
        Ok(Self {
            name: format!("{PROVIDER}/{model}"),
            model,
            url: http::join_url(endpoint, "api/chat"),
            scrubber: scrub::provider_scrubber(None, endpoint),
            client: http::client(PROVIDER)?,
            retry: RetryPolicy::default(),
        })
    }

    /// Replaces the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Also scrubs these secrets (the configuration's keys and tokens) from its errors; its own
    /// key and endpoint credentials are always scrubbed.
    pub fn with_redactor(mut self, redactor: Redactor) -> Self {
        self.scrubber = self.scrubber.and(redactor);
        self
    }

    async fn attempt(&self, body: &Value, emitter: Emitter) -> Result<(), ChatError> {
        let mut response = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|error| http::network_error(PROVIDER, &error))?;
        if !response.status().is_success() {
            let mut error = http::status_error(PROVIDER, response, AUTH_HINT, &emitter).await;
            if let ChatError::BadRequest {
                status: 404,
                message,
                ..
            } = &mut error
            {
                message.push_str(&format!(" (run `ollama pull {}`)", self.model));
            }
            return Err(error);
        }
        let mut lines = LineSplitter::default();
        let mut state = StreamState::default();
        while let Some(chunk) = http::next_chunk(PROVIDER, &mut response).await? {
            for line in lines.push(&chunk) {
                if state.on_line(&line, &emitter)? {
                    return Ok(());
                }
            }
        }
        if let Some(line) = lines.finish()
            && state.on_line(&line, &emitter)?
        {
            return Ok(());
        }
        Err(http::truncated(PROVIDER))
    }
}

impl ChatModel for OllamaModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn context_window(&self) -> Option<u32> {
        None
    }

    fn stream(&self, request: ChatRequest) -> ChatStream {
        let this = self.clone();
        stream_from(self.scrubber.clone(), move |emitter| async move {
            let body = request_body(&this.model, &request);
            with_retry(PROVIDER, &this.retry, emitter, |emitter| {
                this.attempt(&body, emitter)
            })
            .await
        })
    }
}

/// The JSON body of a streaming `/api/chat` request.
pub fn request_body(default_model: &str, request: &ChatRequest) -> Value {
    let model = if request.model.is_empty() {
        default_model
    } else {
        &request.model
    };
    let mut messages = Vec::new();
    if let Some(system) = request.system.as_ref().filter(|s| !s.is_empty()) {
        messages.push(json!({"role": "system", "content": system}));
    }
    for message in &request.messages {
        push_message(&mut messages, message, &request.messages);
    }
    let mut body = json!({"model": model, "messages": messages, "stream": true});
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|tool| {
                json!({"type": "function", "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.parameters,
                }})
            })
            .collect();
    }
    let mut options = Map::new();
    if let Some(max_tokens) = request.max_tokens {
        options.insert("num_predict".into(), json!(max_tokens));
    }
    if let Some(temperature) = request.temperature {
        options.insert("temperature".into(), json!(temperature));
    }
    if let Some(top_p) = request.top_p {
        options.insert("top_p".into(), json!(top_p));
    }
    if !request.stop.is_empty() {
        options.insert("stop".into(), json!(request.stop));
    }
    if !options.is_empty() {
        body["options"] = Value::Object(options);
    }
    body
}

fn push_message(out: &mut Vec<Value>, message: &ChatMessage, history: &[ChatMessage]) {
    let mut text = String::new();
    let mut calls = Vec::new();
    for part in &message.content {
        match part {
            ContentPart::Text { text: part } => text.push_str(part),
            ContentPart::ToolCall {
                name, arguments, ..
            } => {
                calls.push(json!({"function": {"name": name, "arguments": arguments}}));
            }
            ContentPart::ToolResult {
                tool_call_id,
                content,
                is_error,
            } => {
                let content = if *is_error {
                    format!("Error: {content}")
                } else {
                    content.clone()
                };
                let mut result = json!({"role": "tool", "content": content});
                if let Some(name) = tool_name(history, tool_call_id) {
                    result["tool_name"] = json!(name);
                }
                out.push(result);
            }
        }
    }
    let role = match message.role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
    };
    if !calls.is_empty() {
        out.push(json!({"role": role, "content": text, "tool_calls": calls}));
    } else if !text.is_empty() {
        out.push(json!({"role": role, "content": text}));
    }
}

/// Ollama identifies tool results by tool name; ours carry the call id, so look the name up.
fn tool_name<'a>(history: &'a [ChatMessage], call_id: &str) -> Option<&'a str> {
    history
        .iter()
        .flat_map(|message| &message.content)
        .find_map(|part| match part {
            ContentPart::ToolCall { id, name, .. } if id == call_id => Some(name.as_str()),
            _ => None,
        })
}

#[derive(Debug, Default)]
struct StreamState {
    tools: ToolCallAssembler,
}

impl StreamState {
    /// Handles one line; `true` once the reply is complete.
    fn on_line(&mut self, line: &str, emitter: &Emitter) -> Result<bool, ChatError> {
        if line.trim().is_empty() {
            return Ok(false);
        }
        let chunk: Value = serde_json::from_str(line).map_err(|error| ChatError::Protocol {
            provider: PROVIDER.to_owned(),
            message: format!(
                "line is not valid JSON ({error}): {}",
                emitter.excerpt(line, 200)
            ),
        })?;
        if let Some(error) = chunk.get("error") {
            let body = json!({ "error": error }).to_string();
            return Err(http::error_for_status(
                PROVIDER, 500, None, &body, AUTH_HINT,
            ));
        }
        let message = chunk.get("message").unwrap_or(&Value::Null);
        if let Some(text) = message.get("content").and_then(Value::as_str)
            && !text.is_empty()
        {
            emitter.emit(ChatEvent::TextDelta(text.to_owned()));
        }
        let calls = message.get("tool_calls").and_then(Value::as_array);
        for call in calls.into_iter().flatten() {
            let index = self.tools.count() as u64;
            let id = call
                .get("id")
                .and_then(Value::as_str)
                .map_or_else(|| format!("call_{index}"), str::to_owned);
            let function = call.get("function").unwrap_or(&Value::Null);
            let name = function
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let arguments = match function.get("arguments") {
                Some(Value::String(raw)) => raw.clone(),
                Some(Value::Null) | None => String::new(),
                Some(value) => value.to_string(),
            };
            emitter.emit(self.tools.start(index, id, name));
            if let Some(event) = self.tools.delta(index, &arguments) {
                emitter.emit(event);
            }
            if let Some(event) = self.tools.end(index) {
                emitter.emit(event);
            }
        }
        if chunk.get("done").and_then(Value::as_bool) != Some(true) {
            return Ok(false);
        }
        let number = |key: &str| chunk.get(key).and_then(Value::as_u64).unwrap_or(0);
        emitter.emit(ChatEvent::Usage(Usage {
            input_tokens: number("prompt_eval_count"),
            output_tokens: number("eval_count"),
            cache_read_tokens: None,
            cache_write_tokens: None,
        }));
        let stop = match chunk.get("done_reason").and_then(Value::as_str) {
            _ if self.tools.count() > 0 => StopReason::ToolUse,
            Some("stop") | None => StopReason::EndTurn,
            Some("length") => StopReason::MaxTokens,
            Some(other) => StopReason::Other(other.to_owned()),
        };
        emitter.emit(ChatEvent::Stop(stop));
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use localgpt_provider_script::{Turn, wire};

    use super::*;

    fn wire_bytes() -> Vec<u8> {
        let turn = Turn::text(["Hé", "llo, ", "wörld 😀"])
            .and_tool_call("memory_search", r#"{"query": "naïve café"}"#)
            .usage(21, 8);
        let mut bytes = Vec::new();
        for frame in wire::ollama(&turn, "llama-test", 1) {
            if let wire::Frame::Data(data) = frame {
                bytes.extend(data.into_bytes());
            }
        }
        bytes
    }

    fn decode(chunks: &[&[u8]]) -> Vec<ChatEvent> {
        let (emitter, events) = Emitter::collecting();
        let mut lines = LineSplitter::default();
        let mut state = StreamState::default();
        let mut done = false;
        for chunk in chunks {
            for line in lines.push(chunk) {
                done |= state.on_line(&line, &emitter).unwrap();
            }
        }
        assert!(done);
        events.try_iter().collect()
    }

    #[test]
    fn decodes_the_same_events_at_every_chunk_boundary() {
        let bytes = wire_bytes();
        let whole = decode(&[&bytes]);
        assert_eq!(whole.len(), 8, "{whole:?}");
        assert_eq!(whole[7], ChatEvent::Stop(StopReason::ToolUse));
        for split in 0..=bytes.len() {
            assert_eq!(
                decode(&[&bytes[..split], &bytes[split..]]),
                whole,
                "split at {split}"
            );
        }
    }
}
