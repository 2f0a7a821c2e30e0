//! Renders a [`Turn`] in each provider's real wire format: Anthropic Messages SSE, OpenAI Chat
//! Completions SSE (or one JSON object when not streaming), Ollama NDJSON, and each provider's
//! error bodies.

use serde_json::{Value, json};

use crate::script::{Block, Ending, StopKind, Turn};

/// One step of a streamed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Bytes to send.
    Data(String),
    /// Cut the connection.
    Abort,
    /// Send this keep-alive forever until the client disconnects.
    Hang(String),
}

/// The wire format of a request, known from its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `/v1/messages`
    Anthropic,
    /// `/v1/chat/completions`
    OpenAi,
    /// `/api/chat`
    Ollama,
}

/// The tool calls of a turn with their ids settled.
fn tool_calls(turn: &Turn, request_number: usize) -> Vec<(String, String, Vec<String>)> {
    turn.blocks
        .iter()
        .filter_map(|block| match block {
            Block::ToolCall {
                id,
                name,
                arguments,
            } => Some((id.clone(), name.clone(), arguments.clone())),
            Block::Text(_) => None,
        })
        .enumerate()
        .map(|(n, (id, name, arguments))| {
            let id = id.unwrap_or_else(|| format!("call_{request_number}_{n}"));
            (id, name, arguments)
        })
        .collect()
}

/// The error body of an HTTP failure, in the provider's format.
pub fn error_body(format: Format, status: u16, message: Option<&str>) -> Value {
    let (kind, default_message) = match status {
        400 => ("invalid_request_error", "invalid request"),
        401 => ("authentication_error", "invalid x-api-key"),
        403 => ("permission_error", "permission denied"),
        404 => ("not_found_error", "model not found"),
        429 => ("rate_limit_error", "rate limit exceeded, slow down"),
        529 => ("overloaded_error", "Overloaded"),
        _ => ("api_error", "internal server error"),
    };
    let message = message.unwrap_or(default_message);
    match format {
        Format::Anthropic => {
            json!({"type": "error", "error": {"type": kind, "message": message}})
        }
        Format::OpenAi => {
            let code = if status == 401 {
                json!("invalid_api_key")
            } else {
                Value::Null
            };
            json!({"error": {"message": message, "type": kind, "code": code}})
        }
        Format::Ollama => json!({ "error": message }),
    }
}

fn sse_event(event: &str, data: &Value) -> Frame {
    Frame::Data(format!("event: {event}\ndata: {data}\n\n"))
}

fn sse_data(data: &Value) -> Frame {
    Frame::Data(format!("data: {data}\n\n"))
}

/// Anthropic Messages API events.
pub fn anthropic(turn: &Turn, model: &str, request_number: usize) -> Vec<Frame> {
    let (input, output) = turn.usage;
    let mut frames = vec![
        sse_event(
            "message_start",
            &json!({"type": "message_start", "message": {
                "id": format!("msg_scripted_{request_number}"), "type": "message",
                "role": "assistant", "model": model, "content": [],
                "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": input, "output_tokens": 1,
                          "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
            }}),
        ),
        sse_event("ping", &json!({"type": "ping"})),
    ];
    let mut calls = tool_calls(turn, request_number).into_iter();
    for (index, block) in turn.blocks.iter().enumerate() {
        match block {
            Block::Text(pieces) => {
                frames.push(sse_event(
                    "content_block_start",
                    &json!({"type": "content_block_start",
                    "index": index, "content_block": {"type": "text", "text": ""}}),
                ));
                for piece in pieces {
                    frames.push(sse_event(
                        "content_block_delta",
                        &json!({"type": "content_block_delta",
                        "index": index, "delta": {"type": "text_delta", "text": piece}}),
                    ));
                }
            }
            Block::ToolCall { .. } => {
                let Some((id, name, pieces)) = calls.next() else {
                    continue;
                };
                frames.push(sse_event(
                    "content_block_start",
                    &json!({"type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}}),
                ));
                for piece in pieces {
                    frames.push(sse_event("content_block_delta", &json!({"type": "content_block_delta",
                        "index": index, "delta": {"type": "input_json_delta", "partial_json": piece}})));
                }
            }
        }
        if turn.ending == Ending::Complete {
            frames.push(sse_event(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            ));
        }
    }
    let stop = match turn.stop_kind() {
        StopKind::EndTurn => "end_turn",
        StopKind::ToolUse => "tool_use",
        StopKind::MaxTokens => "max_tokens",
        StopKind::StopSequence => "stop_sequence",
    };
    let ending = match &turn.ending {
        Ending::Complete => vec![
            sse_event("message_delta", &json!({"type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": null},
                "usage": {"output_tokens": output}})),
            sse_event("message_stop", &json!({"type": "message_stop"})),
        ],
        Ending::Truncated => vec![Frame::Abort],
        Ending::Malformed => vec![Frame::Data(
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_del\n\n"
                .to_owned(),
        )],
        Ending::ErrorEvent(kind, message) => vec![sse_event(
            "error",
            &json!({"type": "error", "error": {"type": kind, "message": message}}),
        )],
        Ending::Hang => vec![Frame::Hang(
            "event: ping\ndata: {\"type\": \"ping\"}\n\n".to_owned(),
        )],
    };
    frames.extend(ending);
    frames
}

fn openai_chunk(model: &str, request_number: usize, delta: Value, finish: Value) -> Value {
    json!({"id": format!("chatcmpl-scripted-{request_number}"), "object": "chat.completion.chunk",
        "created": 0, "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
}

fn openai_finish(turn: &Turn) -> &'static str {
    match turn.stop_kind() {
        StopKind::EndTurn | StopKind::StopSequence => "stop",
        StopKind::ToolUse => "tool_calls",
        StopKind::MaxTokens => "length",
    }
}

fn openai_usage(turn: &Turn) -> Value {
    let (input, output) = turn.usage;
    json!({"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output})
}

/// OpenAI Chat Completions chunks; `include_usage` adds the final usage chunk.
pub fn openai(turn: &Turn, model: &str, request_number: usize, include_usage: bool) -> Vec<Frame> {
    let chunk =
        |delta: Value, finish: Value| sse_data(&openai_chunk(model, request_number, delta, finish));
    let mut frames = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    let mut calls = tool_calls(turn, request_number).into_iter().enumerate();
    for block in &turn.blocks {
        match block {
            Block::Text(pieces) => {
                for piece in pieces {
                    frames.push(chunk(json!({ "content": piece }), Value::Null));
                }
            }
            Block::ToolCall { .. } => {
                let Some((index, (id, name, pieces))) = calls.next() else {
                    continue;
                };
                frames.push(chunk(
                    json!({"tool_calls": [{"index": index, "id": id,
                    "type": "function", "function": {"name": name, "arguments": ""}}]}),
                    Value::Null,
                ));
                for piece in pieces {
                    frames.push(chunk(
                        json!({"tool_calls": [{"index": index,
                        "function": {"arguments": piece}}]}),
                        Value::Null,
                    ));
                }
            }
        }
    }
    match &turn.ending {
        Ending::Complete => {
            frames.push(chunk(json!({}), json!(openai_finish(turn))));
            if include_usage {
                frames.push(sse_data(
                    &json!({"id": format!("chatcmpl-scripted-{request_number}"),
                    "object": "chat.completion.chunk", "created": 0, "model": model,
                    "choices": [], "usage": openai_usage(turn)}),
                ));
            }
            frames.push(Frame::Data("data: [DONE]\n\n".to_owned()));
        }
        Ending::Truncated => frames.push(Frame::Abort),
        Ending::Malformed => frames.push(Frame::Data(
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"oo\n\n".to_owned(),
        )),
        Ending::ErrorEvent(kind, message) => frames.push(sse_data(
            &json!({"error": {"message": message, "type": kind, "code": null}}),
        )),
        Ending::Hang => frames.push(Frame::Hang(": keep-alive\n\n".to_owned())),
    }
    frames
}

/// A non-streaming Chat Completions answer.
pub fn openai_whole(turn: &Turn, model: &str, request_number: usize) -> Value {
    let calls: Vec<Value> = tool_calls(turn, request_number)
        .into_iter()
        .map(|(id, name, pieces)| {
            json!({"id": id, "type": "function",
                "function": {"name": name, "arguments": pieces.concat()}})
        })
        .collect();
    let text = turn.full_text();
    let mut message = json!({"role": "assistant",
        "content": if text.is_empty() { Value::Null } else { json!(text) }});
    if !calls.is_empty() {
        message["tool_calls"] = json!(calls);
    }
    json!({"id": format!("chatcmpl-scripted-{request_number}"), "object": "chat.completion",
        "created": 0, "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": openai_finish(turn)}],
        "usage": openai_usage(turn)})
}

fn ollama_line(model: &str, message: Value, done: bool) -> Value {
    json!({"model": model, "created_at": "2026-01-01T00:00:00Z", "message": message, "done": done})
}

/// A tool call as recent Ollama versions send it: an id, and the arguments as an object.
fn ollama_call(id: &str, name: &str, pieces: &[String]) -> Value {
    let raw = pieces.concat();
    // Keep unparsable scripted text as a string, so clients can be tested against it.
    let arguments = serde_json::from_str::<Value>(&raw).unwrap_or(Value::String(raw));
    json!({"id": id, "function": {"name": name, "arguments": arguments}})
}

fn ollama_done(turn: &Turn, model: &str, mut message: Value) -> Value {
    let (input, output) = turn.usage;
    let reason = match turn.stop_kind() {
        StopKind::MaxTokens => "length",
        _ => "stop",
    };
    if message.is_null() {
        message = json!({"role": "assistant", "content": ""});
    }
    let mut line = ollama_line(model, message, true);
    line["done_reason"] = json!(reason);
    line["total_duration"] = json!(1_000_000);
    line["prompt_eval_count"] = json!(input);
    line["eval_count"] = json!(output);
    line
}

/// Ollama `/api/chat` NDJSON lines.
pub fn ollama(turn: &Turn, model: &str, request_number: usize) -> Vec<Frame> {
    let line = |value: Value| Frame::Data(format!("{value}\n"));
    let mut frames = Vec::new();
    let mut calls = tool_calls(turn, request_number).into_iter();
    for block in &turn.blocks {
        match block {
            Block::Text(pieces) => {
                for piece in pieces {
                    frames.push(line(ollama_line(
                        model,
                        json!({"role": "assistant", "content": piece}),
                        false,
                    )));
                }
            }
            Block::ToolCall { .. } => {
                let Some((id, name, pieces)) = calls.next() else {
                    continue;
                };
                let message = json!({"role": "assistant", "content": "",
                    "tool_calls": [ollama_call(&id, &name, &pieces)]});
                frames.push(line(ollama_line(model, message, false)));
            }
        }
    }
    match &turn.ending {
        Ending::Complete => frames.push(line(ollama_done(turn, model, Value::Null))),
        Ending::Truncated => frames.push(Frame::Abort),
        Ending::Malformed => frames.push(Frame::Data(
            "{\"model\":\"x\",\"message\":{\"content\":\"oo\n".to_owned(),
        )),
        Ending::ErrorEvent(_, message) => frames.push(line(json!({ "error": message }))),
        Ending::Hang => frames.push(Frame::Hang("\n".to_owned())),
    }
    frames
}

/// A non-streaming Ollama answer (`"stream": false`).
pub fn ollama_whole(turn: &Turn, model: &str, request_number: usize) -> Value {
    let calls: Vec<Value> = tool_calls(turn, request_number)
        .iter()
        .map(|(id, name, pieces)| ollama_call(id, name, pieces))
        .collect();
    let mut message = json!({"role": "assistant", "content": turn.full_text()});
    if !calls.is_empty() {
        message["tool_calls"] = json!(calls);
    }
    ollama_done(turn, model, message)
}
