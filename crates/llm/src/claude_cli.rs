//! The `claude` command (Claude Code) in print mode:
//! `claude -p --output-format stream-json --verbose --model M [--system-prompt S]`, with the
//! prompt on standard input.
//!
//! Claude Code brings its own tools and runs them itself, under its own permission settings;
//! LocalGPT's tools are not offered to it, and its tool calls are not reported as tool-call events
//! (the agent must not run them a second time). The conversation is sent as one prompt: the last
//! user message, preceded by a transcript of earlier turns when there are any. Output lines are
//! JSON objects of type `system`, `assistant` (text and its own `tool_use` blocks), `user` (its
//! tool results) and `result` (usage, final status). Dropping the stream kills the process.

use std::process::Stdio;
use std::time::Duration;

use localgpt_core::chat::{
    ChatError, ChatEvent, ChatMessage, ChatModel, ChatRequest, ChatStream, ContentPart, Role,
    StopReason, Usage,
};
use localgpt_core::redact::Redactor;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use crate::emit::{Emitter, stream_from};
use crate::scrub::{self, ErrorScrubber};

const PROVIDER: &str = "claude-cli";
/// How long the process may take to exit after its result line.
const EXIT_GRACE: Duration = Duration::from_secs(5);

/// A Claude model reached through the locally installed, logged-in `claude` command.
#[derive(Debug, Clone)]
pub struct ClaudeCliModel {
    name: String,
    model: String,
    command: String,
    scrubber: ErrorScrubber,
}

impl ClaudeCliModel {
    /// `command` is the executable, by name on `PATH` or by path; `model` is what `--model`
    /// accepts (`opus`, `sonnet`, a full model id).
    pub fn new(model: impl Into<String>, command: impl Into<String>) -> Self {
        let model = model.into();
        Self {
            name: format!("{PROVIDER}/{model}"),
            model,
            command: command.into(),
            scrubber: scrub::provider_scrubber(None, ""),
        }
    }

    /// Also scrubs these secrets (the configuration's keys and tokens) from its errors; its own
    /// key and endpoint credentials are always scrubbed.
    pub fn with_redactor(mut self, redactor: Redactor) -> Self {
        self.scrubber = self.scrubber.and(redactor);
        self
    }

    async fn run(&self, request: ChatRequest, emitter: Emitter) -> Result<(), ChatError> {
        let model = if request.model.is_empty() {
            &self.model
        } else {
            &request.model
        };
        let mut command = Command::new(&self.command);
        command
            .args([
                "-p",
                "--output-format",
                "stream-json",
                "--verbose",
                "--model",
            ])
            .arg(model);
        if let Some(system) = request.system.as_ref().filter(|s| !s.is_empty()) {
            command.arg("--system-prompt").arg(system);
        }
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(|error| {
            let message = if error.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "cannot run `{}`: not found. Install Claude Code and log in, or set \
                     `providers.claude_cli.command` to its path",
                    self.command
                )
            } else {
                format!("cannot run `{}`: {error}", self.command)
            };
            ChatError::Config {
                reference: self.name.clone(),
                message,
            }
        })?;
        let prompt = render_prompt(&request.messages);
        if let Some(mut stdin) = child.stdin.take() {
            // A process that exits without reading its input reports why on stderr.
            let _ = stdin.write_all(prompt.as_bytes()).await;
            drop(stdin);
        }
        let (Some(stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(failed("the child process has no output pipes".to_owned()));
        };
        // Drained on the side so a chatty stderr cannot block the child.
        let stderr_task = tokio::spawn(async move {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text).await;
            text
        });
        let mut lines = BufReader::new(stdout).lines();
        let mut state = StreamState::default();
        loop {
            match lines.next_line().await {
                Ok(Some(line)) => {
                    if state.on_line(&line, &emitter)? {
                        // Let it save its session; it is killed if it lingers.
                        let _ = tokio::time::timeout(EXIT_GRACE, child.wait()).await;
                        return Ok(());
                    }
                }
                Ok(None) => break,
                Err(error) => return Err(failed(format!("reading its output: {error}"))),
            }
        }
        let status = child
            .wait()
            .await
            .map_err(|error| failed(format!("waiting for the process: {error}")))?;
        // Scrubbed before it is cut, so no part of a secret survives at the cut.
        let stderr_text = emitter.scrub_text(&stderr_task.await.unwrap_or_default());
        let tail: String = {
            let trimmed = stderr_text.trim();
            let start = trimmed.len().saturating_sub(2000);
            let start = (start..=trimmed.len())
                .find(|&i| trimmed.is_char_boundary(i))
                .unwrap_or(0);
            trimmed[start..].to_owned()
        };
        Err(failed(if status.success() {
            format!("the output ended without a result line. {tail}")
        } else {
            format!("`{}` exited with {status}: {tail}", self.command)
        }))
    }
}

impl ChatModel for ClaudeCliModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn context_window(&self) -> Option<u32> {
        Some(200_000)
    }

    fn stream(&self, request: ChatRequest) -> ChatStream {
        let this = self.clone();
        stream_from(self.scrubber.clone(), move |emitter| async move {
            this.run(request, emitter).await
        })
    }
}

/// One prompt for the whole conversation: a transcript of the earlier turns (if any), then the
/// last user message.
pub fn render_prompt(messages: &[ChatMessage]) -> String {
    let (last, earlier) = match messages.split_last() {
        Some((last, earlier)) if last.role == Role::User => (Some(last), earlier),
        _ => (None, messages),
    };
    let mut prompt = String::new();
    if !earlier.is_empty() {
        prompt.push_str("<conversation_so_far>\n");
        for message in earlier {
            prompt.push_str(&render_message(message));
            prompt.push_str("\n\n");
        }
        prompt.push_str("</conversation_so_far>\n\n");
    }
    if let Some(last) = last {
        prompt.push_str(&render_message_body(last));
    }
    prompt
}

fn render_message(message: &ChatMessage) -> String {
    let speaker = match message.role {
        Role::System => "System",
        Role::User => "User",
        Role::Assistant => "Assistant",
    };
    format!("{speaker}: {}", render_message_body(message))
}

fn render_message_body(message: &ChatMessage) -> String {
    let parts: Vec<String> = message
        .content
        .iter()
        .map(|part| match part {
            ContentPart::Text { text } => text.clone(),
            ContentPart::ToolCall {
                name, arguments, ..
            } => format!("[called tool `{name}` with {arguments}]"),
            ContentPart::ToolResult {
                content, is_error, ..
            } => {
                let label = if *is_error {
                    "tool error"
                } else {
                    "tool result"
                };
                format!("[{label}: {content}]")
            }
        })
        .collect();
    parts.join("\n")
}

#[derive(Debug, Default)]
struct StreamState {
    wrote_text: bool,
}

impl StreamState {
    /// Handles one output line; `true` once the result line has been seen.
    fn on_line(&mut self, line: &str, emitter: &Emitter) -> Result<bool, ChatError> {
        if line.trim().is_empty() {
            return Ok(false);
        }
        let value: Value = serde_json::from_str(line).map_err(|error| ChatError::Protocol {
            provider: PROVIDER.to_owned(),
            message: format!(
                "output line is not JSON ({error}): {}",
                emitter.excerpt(line, 200)
            ),
        })?;
        match value.get("type").and_then(Value::as_str) {
            Some("assistant") => {
                let content = value.pointer("/message/content").and_then(Value::as_array);
                let mut separated = false;
                for block in content.into_iter().flatten() {
                    match block.get("type").and_then(Value::as_str) {
                        Some("text") => {
                            let text = block.get("text").and_then(Value::as_str).unwrap_or("");
                            if text.is_empty() {
                                continue;
                            }
                            if self.wrote_text && !separated {
                                // A new message after Claude Code's own tool use.
                                emitter.emit(ChatEvent::TextDelta("\n\n".to_owned()));
                            }
                            separated = true;
                            self.wrote_text = true;
                            emitter.emit(ChatEvent::TextDelta(text.to_owned()));
                        }
                        Some("tool_use") => {
                            let tool = block.get("name").and_then(|n| n.as_str()).unwrap_or("");
                            tracing::debug!(tool, "claude-cli runs one of its own tools");
                        }
                        _ => {}
                    }
                }
                Ok(false)
            }
            Some("result") => self.on_result(&value, emitter).map(|()| true),
            _ => Ok(false), // `system` (init), `user` (its own tool results), others.
        }
    }

    fn on_result(&mut self, value: &Value, emitter: &Emitter) -> Result<(), ChatError> {
        let result = value.get("result").and_then(Value::as_str).unwrap_or("");
        let subtype = value.get("subtype").and_then(Value::as_str).unwrap_or("");
        if value.get("is_error").and_then(Value::as_bool) == Some(true) {
            let message = if result.is_empty() { subtype } else { result };
            let lower = message.to_lowercase();
            if lower.contains("login") || lower.contains("api key") {
                return Err(ChatError::Auth {
                    provider: PROVIDER.to_owned(),
                    message: message.to_owned(),
                    hint: "run `claude` once and log in with `/login`".to_owned(),
                });
            }
            return Err(failed(message.to_owned()));
        }
        if !self.wrote_text && !result.is_empty() {
            emitter.emit(ChatEvent::TextDelta(result.to_owned()));
        }
        let usage = value.get("usage").unwrap_or(&Value::Null);
        let number = |key: &str| usage.get(key).and_then(Value::as_u64);
        emitter.emit(ChatEvent::Usage(Usage {
            input_tokens: number("input_tokens").unwrap_or(0),
            output_tokens: number("output_tokens").unwrap_or(0),
            cache_read_tokens: number("cache_read_input_tokens"),
            cache_write_tokens: number("cache_creation_input_tokens"),
        }));
        let stop = match subtype {
            "success" | "" => StopReason::EndTurn,
            other => StopReason::Other(other.to_owned()),
        };
        emitter.emit(ChatEvent::Stop(stop));
        Ok(())
    }
}

fn failed(message: String) -> ChatError {
    ChatError::Failed {
        provider: PROVIDER.to_owned(),
        message,
    }
}
