//! Anthropic's Messages API (`POST /v1/messages`) with SSE streaming and `tool_use` blocks.
//!
//! Events handled: `message_start` (input usage), `content_block_start` (text or `tool_use`),
//! `content_block_delta` (`text_delta`, `input_json_delta`), `content_block_stop`,
//! `message_delta` (stop reason, output usage), `message_stop`, `ping` and `error`. Thinking
//! blocks are skipped.

use localgpt_core::chat::{
    ChatError, ChatEvent, ChatModel, ChatRequest, ChatStream, ContentPart, Role, StopReason,
    ToolChoice, Usage,
};
use localgpt_core::config::Secret;
use localgpt_core::redact::Redactor;
use serde_json::{Value, json};

use crate::emit::{Emitter, stream_from};
use crate::http;
use crate::retry::{RetryPolicy, with_retry};
use crate::scrub::{self, ErrorScrubber};
use crate::sse::{SseEvent, SseParser};
use crate::tool_calls::ToolCallAssembler;

const PROVIDER: &str = "anthropic";
/// The public API.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
/// The API version this module speaks.
pub const API_VERSION: &str = "2023-06-01";
/// `max_tokens` is required by the API; used when the request has none.
pub const DEFAULT_MAX_TOKENS: u32 = 8192;
/// What to do when the key is missing or refused.
pub const AUTH_HINT: &str =
    "set ANTHROPIC_API_KEY or run `localgpt config set providers.anthropic.api_key …`";

/// A Claude model behind the Anthropic Messages API (or a compatible endpoint).
#[derive(Debug, Clone)]
pub struct AnthropicModel {
    name: String,
    model: String,
    url: String,
    api_key: Secret,
    client: reqwest::Client,
    retry: RetryPolicy,
    scrubber: ErrorScrubber,
}

impl AnthropicModel {
    /// A model at `base_url` (default [`DEFAULT_BASE_URL`]; with or without a trailing `/v1`).
    pub fn new(
        model: impl Into<String>,
        api_key: Secret,
        base_url: Option<&str>,
    ) -> Result<Self, ChatError> {
        let model = model.into();
        let base = base_url.unwrap_or(DEFAULT_BASE_URL).trim_end_matches('/');
        let url = if base.ends_with("/v1") {
            http::join_url(base, "messages")
        } else {
            http::join_url(base, "v1/messages")
        };
        Ok(Self {
            name: format!("{PROVIDER}/{model}"),
            model,
            scrubber: scrub::provider_scrubber(Some(&api_key), &url),
            url,
            api_key,
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
}

impl ChatModel for AnthropicModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn context_window(&self) -> Option<u32> {
        self.model.starts_with("claude").then_some(200_000)
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

impl AnthropicModel {
    async fn attempt(&self, body: &Value, emitter: Emitter) -> Result<(), ChatError> {
        let mut response = self
            .client
            .post(&self.url)
            .header("x-api-key", self.api_key.expose())
            .header("anthropic-version", API_VERSION)
            .header("accept", "text/event-stream")
            .header("content-type", "application/json")
            .body(body.to_string())
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
                state.on_event(&event, &emitter)?;
                if state.done {
                    return Ok(());
                }
            }
        }
        if state.stop.is_some() {
            // `message_delta` carried the stop reason; only the closing `message_stop` is missing.
            state.finish(&emitter);
            return Ok(());
        }
        Err(http::truncated(PROVIDER))
    }
}

/// The JSON body of a streaming Messages request.
pub fn request_body(default_model: &str, request: &ChatRequest) -> Value {
    let model = if request.model.is_empty() {
        default_model
    } else {
        &request.model
    };
    let mut body = json!({
        "model": model,
        "max_tokens": request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        "messages": request.messages.iter().filter_map(message_json).collect::<Vec<_>>(),
        "stream": true,
    });
    if let Some(system) = request.system.as_ref().filter(|s| !s.is_empty()) {
        body["system"] = json!(system);
    }
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "name": tool.name,
                    "description": tool.description,
                    "input_schema": tool.parameters,
                })
            })
            .collect();
        if request.tool_choice == ToolChoice::Required {
            body["tool_choice"] = json!({"type": "any"});
        }
    }
    if let Some(temperature) = request.temperature {
        body["temperature"] = json!(temperature);
    }
    if let Some(top_p) = request.top_p {
        body["top_p"] = json!(top_p);
    }
    if !request.stop.is_empty() {
        body["stop_sequences"] = json!(request.stop);
    }
    body
}

fn message_json(message: &localgpt_core::chat::ChatMessage) -> Option<Value> {
    let role = match message.role {
        Role::Assistant => "assistant",
        // Anthropic has no mid-conversation system role; such notes travel as user text.
        Role::User | Role::System => "user",
    };
    let content: Vec<Value> = message
        .content
        .iter()
        .filter_map(|part| match part {
            ContentPart::Text { text } if text.is_empty() => None,
            ContentPart::Text { text } if message.role == Role::System => {
                Some(json!({"type": "text", "text": format!("<system>\n{text}\n</system>")}))
            }
            ContentPart::Text { text } => Some(json!({"type": "text", "text": text})),
            ContentPart::ToolCall {
                id,
                name,
                arguments,
            } => {
                let input = if arguments.is_object() {
                    arguments.clone()
                } else {
                    json!({ "raw_arguments": arguments })
                };
                Some(json!({"type": "tool_use", "id": id, "name": name, "input": input}))
            }
            ContentPart::ToolResult {
                tool_call_id,
                content,
                is_error,
            } => Some(json!({
                "type": "tool_result",
                "tool_use_id": tool_call_id,
                "content": content,
                "is_error": is_error,
            })),
        })
        .collect();
    (!content.is_empty()).then(|| json!({"role": role, "content": content}))
}

/// What has been seen of one streamed reply.
#[derive(Debug, Default)]
struct StreamState {
    usage: Usage,
    tools: ToolCallAssembler,
    stop: Option<StopReason>,
    done: bool,
}

impl StreamState {
    fn on_event(&mut self, event: &SseEvent, emitter: &Emitter) -> Result<(), ChatError> {
        let data: Value = serde_json::from_str(&event.data).map_err(|error| {
            protocol(format!(
                "event `{}` is not valid JSON ({error}): {}",
                event.event.as_deref().unwrap_or("message"),
                emitter.excerpt(&event.data, 200)
            ))
        })?;
        let kind = data
            .get("type")
            .and_then(Value::as_str)
            .or(event.event.as_deref())
            .unwrap_or_default();
        let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
        match kind {
            "message_start" => self.read_usage(data.pointer("/message/usage")),
            "content_block_start" => {
                let block = data.get("content_block").unwrap_or(&Value::Null);
                match block.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        if let Some(text) = block.get("text").and_then(Value::as_str)
                            && !text.is_empty()
                        {
                            emitter.emit(ChatEvent::TextDelta(text.to_owned()));
                        }
                    }
                    Some("tool_use") => {
                        let id = str_field(block, "id");
                        let name = str_field(block, "name");
                        emitter.emit(self.tools.start(index, id, name));
                    }
                    _ => {}
                }
            }
            "content_block_delta" => {
                let delta = data.get("delta").unwrap_or(&Value::Null);
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        let text = str_field(delta, "text");
                        if !text.is_empty() {
                            emitter.emit(ChatEvent::TextDelta(text));
                        }
                    }
                    Some("input_json_delta") => {
                        if let Some(event) =
                            self.tools.delta(index, &str_field(delta, "partial_json"))
                        {
                            emitter.emit(event);
                        }
                    }
                    _ => {}
                }
            }
            "content_block_stop" => {
                if let Some(event) = self.tools.end(index) {
                    emitter.emit(event);
                }
            }
            "message_delta" => {
                if let Some(reason) = data.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.stop = Some(stop_reason(reason));
                }
                self.read_usage(data.get("usage"));
            }
            "message_stop" => self.finish(emitter),
            "error" => return Err(stream_error(&data)),
            _ => {} // `ping` and event types added later.
        }
        Ok(())
    }

    fn read_usage(&mut self, usage: Option<&Value>) {
        let Some(usage) = usage else { return };
        let number = |key: &str| usage.get(key).and_then(Value::as_u64);
        if let Some(input) = number("input_tokens") {
            self.usage.input_tokens = input;
        }
        if let Some(output) = number("output_tokens") {
            self.usage.output_tokens = output;
        }
        if let Some(read) = number("cache_read_input_tokens") {
            self.usage.cache_read_tokens = Some(read);
        }
        if let Some(write) = number("cache_creation_input_tokens") {
            self.usage.cache_write_tokens = Some(write);
        }
    }

    fn finish(&mut self, emitter: &Emitter) {
        for event in self.tools.end_all() {
            emitter.emit(event);
        }
        emitter.emit(ChatEvent::Usage(self.usage));
        let stop = self.stop.take().unwrap_or(if self.tools.count() > 0 {
            StopReason::ToolUse
        } else {
            StopReason::EndTurn
        });
        emitter.emit(ChatEvent::Stop(stop));
        self.done = true;
    }
}

fn str_field(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn stop_reason(reason: &str) -> StopReason {
    match reason {
        "end_turn" => StopReason::EndTurn,
        "tool_use" => StopReason::ToolUse,
        "max_tokens" => StopReason::MaxTokens,
        "stop_sequence" => StopReason::StopSequence,
        other => StopReason::Other(other.to_owned()),
    }
}

/// An `error` event in the middle of a stream, mapped like the HTTP status it stands for.
fn stream_error(data: &Value) -> ChatError {
    let kind = data
        .pointer("/error/type")
        .and_then(Value::as_str)
        .unwrap_or("api_error");
    let status = match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "overloaded_error" => 529,
        _ => 500,
    };
    http::error_for_status(PROVIDER, status, None, &data.to_string(), AUTH_HINT)
}

fn protocol(message: String) -> ChatError {
    ChatError::Protocol {
        provider: PROVIDER.to_owned(),
        message,
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
        let frames = wire::anthropic(&turn, "claude-test", 1);
        let mut bytes = Vec::new();
        for frame in frames {
            if let wire::Frame::Data(data) = frame {
                bytes.extend(data.replace('\n', "\r\n").into_bytes());
            }
        }
        bytes
    }

    fn decode(chunks: &[&[u8]]) -> Vec<ChatEvent> {
        let (emitter, events) = Emitter::collecting();
        let mut parser = SseParser::default();
        let mut state = StreamState::default();
        for chunk in chunks {
            for event in parser.push(chunk) {
                state.on_event(&event, &emitter).unwrap();
            }
        }
        assert!(state.done);
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
        let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(decode(&bytewise), whole);
    }

    #[test]
    fn system_notes_travel_as_user_text() {
        let request = ChatRequest::new(vec![localgpt_core::chat::ChatMessage::text(
            Role::System,
            "summary",
        )]);
        let body = request_body("m", &request);
        assert_eq!(body["messages"][0]["role"], "user");
        assert_eq!(body["max_tokens"], DEFAULT_MAX_TOKENS);
    }
}
