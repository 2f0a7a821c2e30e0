//! OpenAI Chat Completions (`POST {base_url}/chat/completions`) with SSE streaming and tool calls.
//!
//! `base_url` makes this work with any OpenAI-compatible server (llama.cpp server, LM Studio,
//! vLLM, LiteLLM); such servers often need no key, so the key is optional when `base_url` is set.
//! The stream is `data: {chunk}` lines: `choices[0].delta.content`,
//! `choices[0].delta.tool_calls[{index, id, function{name, arguments}}]`, `finish_reason`, a final
//! `usage` chunk (asked for with `stream_options.include_usage`), then `data: [DONE]`.

use localgpt_core::chat::{
    ChatError, ChatEvent, ChatMessage, ChatModel, ChatRequest, ChatStream, ContentPart, Role,
    StopReason, ToolChoice, Usage,
};
use localgpt_core::config::Secret;
use localgpt_core::redact::Redactor;
use serde_json::{Value, json};

use crate::emit::{Emitter, stream_from};
use crate::http;
use crate::retry::{RetryPolicy, with_retry};
use crate::scrub::{self, ErrorScrubber};
use crate::sse::SseParser;
use crate::tool_calls::ToolCallAssembler;

const PROVIDER: &str = "openai";
/// The public API.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// What to do when the key is missing or refused.
pub const AUTH_HINT: &str =
    "set OPENAI_API_KEY or run `localgpt config set providers.openai.api_key …`";

/// A model behind the OpenAI Chat Completions API or a compatible server.
#[derive(Debug, Clone)]
pub struct OpenAiModel {
    name: String,
    model: String,
    url: String,
    api_key: Option<Secret>,
    /// OpenAI itself wants `max_completion_tokens`; compatible servers know `max_tokens`.
    official: bool,
    client: reqwest::Client,
    retry: RetryPolicy,
    scrubber: ErrorScrubber,
}

impl OpenAiModel {
    /// A model at `base_url` (default [`DEFAULT_BASE_URL`], which must include `/v1`).
    pub fn new(
        model: impl Into<String>,
        api_key: Option<Secret>,
        base_url: Option<&str>,
    ) -> Result<Self, ChatError> {
        let model = model.into();
        let base = base_url.unwrap_or(DEFAULT_BASE_URL);
        let scrubber = scrub::provider_scrubber(api_key.as_ref(), base);
        Ok(Self {
            scrubber,
            name: format!("{PROVIDER}/{model}"),
            model,
            url: http::join_url(base, "chat/completions"),
            api_key,
            official: base.contains("api.openai.com"),
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
        let mut builder = self
            .client
            .post(&self.url)
            .header("accept", "text/event-stream")
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(key) = &self.api_key {
            builder = builder.bearer_auth(key.expose());
        }
        let mut response = builder
            .send()
            .await
            .map_err(|error| http::network_error(PROVIDER, &error))?;
        if !response.status().is_success() {
            return Err(http::status_error(PROVIDER, response, AUTH_HINT, &emitter).await);
        }
        let mut parser = SseParser::default();
        let mut state = StreamState::default();
        while let Some(chunk) = http::next_chunk(PROVIDER, &mut response).await? {
            for event in parser.push(&chunk) {
                if event.data.trim() == "[DONE]" {
                    state.finish(&emitter);
                    return Ok(());
                }
                state.on_chunk(&event.data, &emitter)?;
            }
        }
        if state.stop.is_some() {
            // Some compatible servers end after the finish reason without `[DONE]`.
            state.finish(&emitter);
            return Ok(());
        }
        Err(http::truncated(PROVIDER))
    }
}

impl ChatModel for OpenAiModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn context_window(&self) -> Option<u32> {
        let model = self.model.as_str();
        if model.starts_with("gpt-4.1") {
            Some(1_047_576)
        } else if model.starts_with("gpt-5") {
            Some(400_000)
        } else if model.starts_with("gpt-4o") || model.starts_with("gpt-4-turbo") {
            Some(128_000)
        } else if model.starts_with("o1") || model.starts_with("o3") || model.starts_with("o4") {
            Some(200_000)
        } else {
            None
        }
    }

    fn stream(&self, request: ChatRequest) -> ChatStream {
        let this = self.clone();
        stream_from(self.scrubber.clone(), move |emitter| async move {
            let body = request_body(&this.model, this.official, &request);
            with_retry(PROVIDER, &this.retry, emitter, |emitter| {
                this.attempt(&body, emitter)
            })
            .await
        })
    }
}

/// The JSON body of a streaming Chat Completions request.
pub fn request_body(default_model: &str, official: bool, request: &ChatRequest) -> Value {
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
        push_message(&mut messages, message);
    }
    let mut body = json!({
        "model": model,
        "messages": messages,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
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
        if request.tool_choice == ToolChoice::Required {
            body["tool_choice"] = json!("required");
        }
    }
    if let Some(max_tokens) = request.max_tokens {
        let key = if official {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        body[key] = json!(max_tokens);
    }
    if let Some(temperature) = request.temperature {
        body["temperature"] = json!(temperature);
    }
    if let Some(top_p) = request.top_p {
        body["top_p"] = json!(top_p);
    }
    if !request.stop.is_empty() {
        body["stop"] = json!(request.stop);
    }
    body
}

/// Appends one of our messages as OpenAI messages: tool results become `tool` messages (right
/// after the assistant's calls, as the API requires), tool calls go in `tool_calls`.
fn push_message(out: &mut Vec<Value>, message: &ChatMessage) {
    let mut text = String::new();
    let mut calls = Vec::new();
    for part in &message.content {
        match part {
            ContentPart::Text { text: part } => text.push_str(part),
            ContentPart::ToolCall {
                id,
                name,
                arguments,
            } => {
                let arguments = match arguments {
                    Value::String(raw) => raw.clone(),
                    other => other.to_string(),
                };
                calls.push(json!({"id": id, "type": "function",
                    "function": {"name": name, "arguments": arguments}}));
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
                out.push(json!({"role": "tool", "tool_call_id": tool_call_id, "content": content}));
            }
        }
    }
    let role = match message.role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
    };
    if !calls.is_empty() {
        let content = if text.is_empty() {
            Value::Null
        } else {
            json!(text)
        };
        out.push(json!({"role": role, "content": content, "tool_calls": calls}));
    } else if !text.is_empty() {
        out.push(json!({"role": role, "content": text}));
    }
}

#[derive(Debug, Default)]
struct StreamState {
    tools: ToolCallAssembler,
    usage: Option<Usage>,
    stop: Option<StopReason>,
}

impl StreamState {
    fn on_chunk(&mut self, data: &str, emitter: &Emitter) -> Result<(), ChatError> {
        let chunk: Value = serde_json::from_str(data).map_err(|error| ChatError::Protocol {
            provider: PROVIDER.to_owned(),
            message: format!(
                "chunk is not valid JSON ({error}): {}",
                emitter.excerpt(data, 200)
            ),
        })?;
        if let Some(error) = chunk.get("error") {
            return Err(stream_error(error));
        }
        if let Some(choice) = chunk.pointer("/choices/0") {
            let delta = choice.get("delta").unwrap_or(&Value::Null);
            if let Some(text) = delta.get("content").and_then(Value::as_str)
                && !text.is_empty()
            {
                emitter.emit(ChatEvent::TextDelta(text.to_owned()));
            }
            let calls = delta.get("tool_calls").and_then(Value::as_array);
            for (position, call) in calls.into_iter().flatten().enumerate() {
                self.on_tool_delta(position as u64, call, emitter);
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                for event in self.tools.end_all() {
                    emitter.emit(event);
                }
                self.stop = Some(self.stop_reason(reason));
            }
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            let number = |pointer: &str| usage.pointer(pointer).and_then(Value::as_u64);
            let cached = number("/prompt_tokens_details/cached_tokens");
            let prompt = number("/prompt_tokens").unwrap_or(0);
            self.usage = Some(Usage {
                input_tokens: prompt.saturating_sub(cached.unwrap_or(0)),
                output_tokens: number("/completion_tokens").unwrap_or(0),
                cache_read_tokens: cached,
                cache_write_tokens: None,
            });
        }
        Ok(())
    }

    fn on_tool_delta(&mut self, position: u64, call: &Value, emitter: &Emitter) {
        let index = call
            .get("index")
            .and_then(Value::as_u64)
            .unwrap_or(position);
        if !self.tools.is_open(index) {
            let id = call
                .get("id")
                .and_then(Value::as_str)
                .filter(|id| !id.is_empty())
                .map_or_else(|| format!("call_{index}"), str::to_owned);
            let name = call
                .pointer("/function/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            emitter.emit(self.tools.start(index, id, name));
        }
        let fragment = call
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if let Some(event) = self.tools.delta(index, fragment) {
            emitter.emit(event);
        }
    }

    fn stop_reason(&self, reason: &str) -> StopReason {
        match reason {
            "tool_calls" | "function_call" => StopReason::ToolUse,
            // Several compatible servers say `stop` even when they called tools.
            "stop" if self.tools.count() > 0 => StopReason::ToolUse,
            "stop" => StopReason::EndTurn,
            "length" => StopReason::MaxTokens,
            other => StopReason::Other(other.to_owned()),
        }
    }

    fn finish(&mut self, emitter: &Emitter) {
        for event in self.tools.end_all() {
            emitter.emit(event);
        }
        if let Some(usage) = self.usage.take() {
            emitter.emit(ChatEvent::Usage(usage));
        }
        let stop = self.stop.take().unwrap_or(StopReason::EndTurn);
        emitter.emit(ChatEvent::Stop(stop));
    }
}

/// An `{"error": …}` chunk in the middle of a stream.
fn stream_error(error: &Value) -> ChatError {
    let kind = [error.get("type"), error.get("code")]
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(" ");
    let status = if kind.contains("rate_limit") {
        429
    } else if kind.contains("invalid_api_key") || kind.contains("authentication") {
        401
    } else if kind.contains("invalid_request") {
        400
    } else {
        500
    };
    let body = json!({ "error": error }).to_string();
    http::error_for_status(PROVIDER, status, None, &body, AUTH_HINT)
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
        for frame in wire::openai(&turn, "gpt-test", 1, true) {
            if let wire::Frame::Data(data) = frame {
                bytes.extend(data.into_bytes());
            }
        }
        bytes
    }

    fn decode(chunks: &[&[u8]]) -> Vec<ChatEvent> {
        let (emitter, events) = Emitter::collecting();
        let mut parser = SseParser::default();
        let mut state = StreamState::default();
        let mut done = false;
        for chunk in chunks {
            for event in parser.push(chunk) {
                if event.data == "[DONE]" {
                    state.finish(&emitter);
                    done = true;
                } else {
                    state.on_chunk(&event.data, &emitter).unwrap();
                }
            }
        }
        assert!(done);
        events.try_iter().collect()
    }

    #[test]
    fn decodes_the_same_events_at_every_chunk_boundary() {
        let bytes = wire_bytes();
        let whole = decode(&[&bytes]);
        assert_eq!(whole.len(), 10, "{whole:?}");
        assert_eq!(whole[9], ChatEvent::Stop(StopReason::ToolUse));
        for split in 0..=bytes.len() {
            assert_eq!(
                decode(&[&bytes[..split], &bytes[split..]]),
                whole,
                "split at {split}"
            );
        }
    }

    #[test]
    fn official_api_gets_max_completion_tokens() {
        let request = ChatRequest {
            max_tokens: Some(5),
            ..ChatRequest::default()
        };
        assert_eq!(
            request_body("m", true, &request)["max_completion_tokens"],
            5
        );
        assert_eq!(request_body("m", false, &request)["max_tokens"], 5);
    }

    #[test]
    fn a_required_call_is_asked_for_only_when_tools_are_offered() {
        let tool = localgpt_core::chat::ToolSpec {
            name: "decide".into(),
            description: "d".into(),
            parameters: serde_json::json!({"type": "object"}),
        };
        let mut request = ChatRequest {
            tool_choice: ToolChoice::Required,
            answer_grammar: Some("root ::= \"YES\"".into()),
            ..ChatRequest::default()
        };
        let body = request_body("m", false, &request);
        assert!(body.get("tool_choice").is_none(), "{body}");
        assert!(!body.to_string().contains("root ::="), "{body}");
        request.tools = vec![tool];
        assert_eq!(
            request_body("m", false, &request)["tool_choice"],
            "required"
        );
        assert_eq!(
            crate::anthropic::request_body("m", &request)["tool_choice"],
            serde_json::json!({"type": "any"})
        );
    }
}
