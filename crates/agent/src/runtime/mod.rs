//! The agent loop: one turn sends the conversation to the model, streams its text to the caller,
//! runs the tools it asks for (read-only ones concurrently, others in order, approval first where
//! required), feeds the results back and repeats until the model answers or the round limit is
//! reached. Every message is appended to the session transcript as it happens.
//!
//! A turn may come from someone other than the owner: its text then reaches the model fenced as
//! data, and the conversation counts as tainted; see [`taint`] for what then needs approval.

pub mod approval;
mod cl100k;
pub mod compaction;
mod guard;
mod path_rules;
mod reply;
pub mod system_prompt;
pub mod taint;
pub mod tokens;
pub mod transcript;

use std::sync::Arc;

use localgpt_core::chat::{
    CancelToken, ChatError, ChatMessage, ChatModel, ChatRequest, ContentPart, Role, StopReason,
    ToolCall, Usage, cancellable,
};
use serde::Serialize;
use serde_json::Value;

use crate::recall::{RecallReport, Recaller};
pub use crate::sessions::TurnTrust;
use crate::sessions::{SessionError, SessionWriter};
use crate::tools::{ToolBox, ToolError};
pub use approval::{ApprovalRequest, ApproveAll, Approver, DenyAll};
use reply::{Reply, add_usage, collect_reply};
use taint::{PathRules, Taint};

/// Characters of a tool's output shown in a [`AgentEvent::ToolFinished`] preview.
pub const TOOL_PREVIEW_CHARS: usize = 600;

/// Something that happened during a turn, for the caller to show.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentEvent {
    /// More of the answer.
    Text(String),
    /// A tool is about to run.
    ToolStarted {
        /// Tool name.
        name: String,
        /// Its arguments.
        arguments: Value,
    },
    /// A tool finished.
    ToolFinished {
        /// Tool name.
        name: String,
        /// The start of its output.
        preview: String,
        /// Whether it failed.
        is_error: bool,
    },
    /// A note for the user (limits reached, context compacted…).
    Notice(String),
    /// A tool call waits for the owner's consent (answered through the API by `id`).
    ApprovalRequested {
        /// The request's id.
        id: String,
        /// Tool name.
        tool: String,
        /// Its arguments.
        arguments: Value,
    },
    /// The turn belongs to this saved session (sent first, so a client can name the session
    /// even when the turn then fails or is stopped).
    Session(String),
    /// Notes recalled from memory went to the model with the message (`FILE:LINES` each).
    Recalled(Vec<String>),
}

/// A tool call made during a turn.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolCallRecord {
    /// Tool name.
    pub name: String,
    /// Arguments as sent by the model.
    pub arguments: Value,
    /// Whether it failed or was refused.
    pub is_error: bool,
}

/// What a turn produced.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TurnReport {
    /// The final answer's text.
    pub answer: String,
    /// Tools called, in order.
    pub tool_calls: Vec<ToolCallRecord>,
    /// Tokens spent over all model calls of the turn.
    pub usage: Usage,
    /// Model calls made.
    pub model_calls: u32,
    /// Whether the turn stopped at the tool round limit.
    pub hit_round_limit: bool,
    /// Whether the user cancelled it.
    pub cancelled: bool,
    /// What active recall gave the model with the message, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recall: Option<RecallReport>,
}

/// Why a turn failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The model could not be reached or refused.
    #[error(transparent)]
    Model(#[from] ChatError),
    /// The transcript could not be written.
    #[error(transparent)]
    Session(#[from] SessionError),
}

/// Settings of the loop.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    /// Most tool rounds per turn.
    pub max_tool_rounds: u32,
    /// Tools that need the owner's approval.
    pub require_approval: Vec<String>,
    /// Tokens the model can see.
    pub context_window: u32,
    /// Tokens kept free for the answer.
    pub reserve_tokens: u32,
    /// Most tokens per reply.
    pub max_tokens: Option<u32>,
    /// Whether, once the conversation has read untrusted content, side effects that could make
    /// it persist or leak need the owner's approval (see [`taint`]).
    pub guard_after_untrusted: bool,
    /// Workspace files and folders (`skills/`) whose changes are guarded.
    pub protected_paths: Vec<String>,
}

impl Default for AgentSettings {
    fn default() -> Self {
        Self {
            max_tool_rounds: 25,
            require_approval: vec!["bash".to_owned()],
            context_window: 128_000,
            reserve_tokens: 8_000,
            max_tokens: None,
            guard_after_untrusted: true,
            protected_paths: localgpt_core::config::DEFAULT_PROTECTED_PATHS
                .iter()
                .map(|path| (*path).to_owned())
                .collect(),
        }
    }
}

/// An assistant with a model, tools, a system prompt and a conversation.
pub struct Agent {
    model: Arc<dyn ChatModel>,
    tools: ToolBox,
    approver: Arc<dyn Approver>,
    settings: AgentSettings,
    system: String,
    history: Vec<ChatMessage>,
    /// Transcript entry id of each message in `history` (none for a compaction summary).
    entry_ids: Vec<Option<String>>,
    session: Option<SessionWriter>,
    /// What the conversation has read that the owner did not write.
    taint: Taint,
    /// Which files are guarded once tainted.
    rules: PathRules,
    /// Active recall for the owner's turns, when on.
    recaller: Option<Recaller>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("model", &self.model.name())
            .field("tools", &self.tools)
            .field("messages", &self.history.len())
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// An agent with an empty conversation and no transcript.
    pub fn new(
        model: Arc<dyn ChatModel>,
        tools: ToolBox,
        approver: Arc<dyn Approver>,
        settings: AgentSettings,
        system: String,
    ) -> Self {
        let context = tools.context();
        let rules = PathRules::new(
            &context.workspace,
            Arc::clone(&context.roots),
            &settings.protected_paths,
        );
        Self {
            model,
            tools,
            approver,
            settings,
            system,
            history: Vec::new(),
            entry_ids: Vec::new(),
            session: None,
            taint: Taint::default(),
            rules,
            recaller: None,
        }
    }

    /// Searches memory with each of the owner's messages and gives the model the notes that
    /// bear on it (see [`crate::recall`]).
    pub fn with_recall(mut self, recaller: Recaller) -> Self {
        self.recaller = Some(recaller);
        self
    }

    /// Records the conversation to `session`, continuing `history` (from a resumed transcript).
    /// Untrusted content in `history` (a stranger's message, a fetched page) taints the
    /// conversation from the start.
    pub fn with_session(mut self, session: SessionWriter, history: Vec<ChatMessage>) -> Self {
        self.entry_ids = vec![None; history.len()];
        self.history = history;
        self.session = Some(session);
        self.replay_taint();
        self
    }

    /// Why the conversation counts as having read untrusted content, if it does.
    pub fn taint_reason(&self) -> Option<&str> {
        self.taint.reason()
    }

    /// The session id, when recording.
    pub fn session_id(&self) -> Option<&str> {
        self.session.as_ref().map(SessionWriter::id)
    }

    /// The model's `provider/model` name.
    pub fn model_name(&self) -> &str {
        self.model.name()
    }

    /// Switches to another model for the following turns.
    pub fn set_model(&mut self, model: Arc<dyn ChatModel>) {
        self.model = model;
    }

    /// The conversation so far.
    pub fn history(&self) -> &[ChatMessage] {
        &self.history
    }

    /// The system prompt.
    pub fn system_prompt(&self) -> &str {
        &self.system
    }

    /// Runs one turn for the owner's `input`, streaming events to `on_event`.
    pub async fn turn(
        &mut self,
        input: &str,
        cancel: &CancelToken,
        on_event: &mut (dyn FnMut(AgentEvent) + Send),
    ) -> Result<TurnReport, AgentError> {
        self.turn_as(input, &TurnTrust::Owner, cancel, on_event)
            .await
    }

    /// Runs one turn for `input` written by `who`. Someone else's text reaches the model fenced
    /// as data and taints the conversation.
    pub async fn turn_as(
        &mut self,
        input: &str,
        who: &TurnTrust,
        cancel: &CancelToken,
        on_event: &mut (dyn FnMut(AgentEvent) + Send),
    ) -> Result<TurnReport, AgentError> {
        self.taint.start_turn();
        if crate::precheck::carries_precheck_output(input) {
            self.taint.mark_artifact("a precheck's output");
        }
        self.compact_if_needed(cancel, on_event).await?;
        let mut recalled = None;
        let user = match who {
            TurnTrust::Owner => match &self.recaller {
                Some(recaller) => {
                    let (message, report) = recaller.message_for(input, on_event).await;
                    if !report.notes.is_empty() {
                        self.taint.mark("notes recalled from memory".to_owned());
                    }
                    if report.notes.iter().any(|note| note.untrusted) {
                        self.taint.mark_artifact(
                            "notes recalled from memory that were written from an untrusted \
                             artifact",
                        );
                    }
                    recalled = Some(report);
                    ChatMessage::user(message)
                }
                None => ChatMessage::user(input),
            },
            TurnTrust::Untrusted { source } => {
                self.taint
                    .mark_artifact(format!("a message from someone else ({source})"));
                ChatMessage::user(transcript::untrusted_message(source, input))
            }
        };
        let entry = match &mut self.session {
            Some(session) => Some(session.append_user(transcript::user_message(input), who)?),
            None => None,
        };
        // A retry after a failed reply asks the same question again: the model sees it once.
        if self.history.last() != Some(&user) {
            self.push(user, entry);
        }
        let mut report = TurnReport {
            recall: recalled,
            ..TurnReport::default()
        };
        let mut malformed_seen = false;
        let mut rounds = 0;
        loop {
            let reply = match self.call_model(self.tools.specs(), cancel, on_event).await {
                Ok(reply) => reply,
                Err(error) => {
                    let failed = transcript::assistant_message(
                        &ChatMessage::assistant(""),
                        self.model.name(),
                        None,
                        &StopReason::Other("error".to_owned()),
                        Some(error.to_string()),
                    );
                    self.record(failed)?;
                    return Err(error.into());
                }
            };
            report.model_calls += 1;
            add_usage(&mut report.usage, reply.usage);
            let entry = self.record(transcript::assistant_message(
                &reply.message,
                self.model.name(),
                reply.usage,
                &reply.stop,
                None,
            ))?;
            let text = reply.message.text_content();
            self.push(reply.message, entry);
            if reply.stop == StopReason::Cancelled {
                report.cancelled = true;
                report.answer = text;
                self.answer_open_calls(&reply.calls, "The user stopped the turn before it ran.")?;
                return Ok(report);
            }
            if reply.calls.is_empty() {
                report.answer = text;
                return Ok(report);
            }
            if rounds >= self.settings.max_tool_rounds {
                report.hit_round_limit = true;
                let note = format!(
                    "Stopped after {} tool rounds (agent.max_tool_rounds); ask me to continue.",
                    self.settings.max_tool_rounds
                );
                self.answer_open_calls(&reply.calls, "Not run: the tool round limit was reached.")?;
                on_event(AgentEvent::Notice(note.clone()));
                report.answer = if text.is_empty() {
                    note
                } else {
                    format!("{text}\n\n{note}")
                };
                return Ok(report);
            }
            rounds += 1;
            let malformed = reply.calls.iter().any(|call| call.arguments.is_err());
            if malformed && malformed_seen {
                let note = "The model kept sending tool calls with invalid arguments; stopped.";
                self.answer_open_calls(&reply.calls, note)?;
                on_event(AgentEvent::Notice(note.to_owned()));
                report.answer = note.to_owned();
                return Ok(report);
            }
            malformed_seen |= malformed;
            self.run_tools(&reply.calls, &mut report, on_event).await?;
        }
    }

    /// Sends the conversation and collects the streamed reply.
    async fn call_model(
        &self,
        tools: Vec<localgpt_core::chat::ToolSpec>,
        cancel: &CancelToken,
        on_event: &mut (dyn FnMut(AgentEvent) + Send),
    ) -> Result<Reply, ChatError> {
        let request = ChatRequest {
            system: Some(self.system.clone()),
            messages: self.history.clone(),
            tools,
            max_tokens: self.settings.max_tokens,
            ..ChatRequest::default()
        };
        collect_reply(
            cancellable(self.model.stream(request), cancel.clone()),
            on_event,
        )
        .await
    }

    /// Runs a round of tool calls and adds their results to the conversation.
    async fn run_tools(
        &mut self,
        calls: &[ToolCall],
        report: &mut TurnReport,
        on_event: &mut (dyn FnMut(AgentEvent) + Send),
    ) -> Result<(), AgentError> {
        for call in calls {
            on_event(AgentEvent::ToolStarted {
                name: call.name.clone(),
                arguments: call.arguments.clone().unwrap_or(Value::Null),
            });
        }
        let concurrent = !self.round_needs_order(calls)
            && calls.iter().all(|call| {
                self.tools.is_read_only(&call.name) && !self.needs_approval(&call.name)
            });
        let outcomes: Vec<Result<String, ToolError>> = if concurrent {
            let outcomes =
                futures_util::future::join_all(calls.iter().map(|call| self.run_one(call, None)))
                    .await;
            for (call, (outcome, ran)) in calls.iter().zip(&outcomes) {
                if *ran {
                    self.observe_call(call, outcome.as_ref().ok());
                }
            }
            outcomes.into_iter().map(|(outcome, _)| outcome).collect()
        } else {
            let mut outcomes = Vec::new();
            for call in calls {
                let guard = self.guard_for(call);
                if let Some(why) = &guard {
                    on_event(AgentEvent::Notice(format!("{why}.")));
                }
                let (outcome, ran) = self.run_one(call, guard).await;
                if ran {
                    self.observe_call(call, outcome.as_ref().ok());
                }
                outcomes.push(outcome);
            }
            outcomes
        };
        let mut results = Vec::new();
        for (call, outcome) in calls.iter().zip(outcomes) {
            let (content, is_error) = match outcome {
                Ok(output) => (output, false),
                Err(error) => (format!("Error: {error}"), true),
            };
            on_event(AgentEvent::ToolFinished {
                name: call.name.clone(),
                preview: crate::tools::unwrap_output(&content)
                    .chars()
                    .take(TOOL_PREVIEW_CHARS)
                    .collect(),
                is_error,
            });
            report.tool_calls.push(ToolCallRecord {
                name: call.name.clone(),
                arguments: call
                    .arguments
                    .clone()
                    .unwrap_or_else(|_| Value::String(call.raw_arguments.clone())),
                is_error,
            });
            self.record(transcript::tool_result_message(
                &call.id, &call.name, &content, is_error,
            ))?;
            results.push(ContentPart::ToolResult {
                tool_call_id: call.id.clone(),
                content,
                is_error,
            });
        }
        self.push(
            ChatMessage {
                role: Role::User,
                content: results,
            },
            None,
        );
        Ok(())
    }

    fn needs_approval(&self, tool: &str) -> bool {
        self.settings
            .require_approval
            .iter()
            .any(|name| name == tool)
    }

    /// Runs one call, asking the owner first when it is listed in `require_approval` or held
    /// back by `guard` (why the tainted conversation needs approval for it). Returns the outcome
    /// and whether the tool ran at all.
    async fn run_one(
        &self,
        call: &ToolCall,
        guard: Option<String>,
    ) -> (Result<String, ToolError>, bool) {
        let arguments = match &call.arguments {
            Ok(arguments) => arguments.clone(),
            Err(problem) => {
                return (
                    Err(ToolError::InvalidArguments(format!(
                        "the arguments are not valid JSON ({problem}); send the call again with \
                         a JSON object"
                    ))),
                    false,
                );
            }
        };
        // Out-of-scope calls are refused before anyone is asked to approve them.
        if !self.tools.allows(&call.name) {
            tracing::warn!(tool = %call.name, "refused a tool call outside the persona's scope");
            return (Err(ToolError::NotAllowed(call.name.clone())), false);
        }
        if self.needs_approval(&call.name) || guard.is_some() {
            let request = ApprovalRequest {
                tool: call.name.clone(),
                arguments: arguments.clone(),
            };
            if !self.approver.approve(&request).await {
                return (Err(guard::refusal(&call.name, guard.as_deref())), false);
            }
        }
        // `memory_append` records the untrusted artifact the conversation read as its note's
        // source (the owner's own notes found by a search do not count).
        let taint = self.taint.artifact().map(str::to_owned);
        let call_tool = self.tools.call(&call.name, arguments);
        (
            crate::tools::memory::TURN_TAINT
                .scope(taint, call_tool)
                .await,
            true,
        )
    }

    /// Gives every call of an unfinished round a result, so the conversation stays valid.
    fn answer_open_calls(&mut self, calls: &[ToolCall], why: &str) -> Result<(), AgentError> {
        if calls.is_empty() {
            return Ok(());
        }
        let mut results = Vec::new();
        for call in calls {
            self.record(transcript::tool_result_message(
                &call.id, &call.name, why, true,
            ))?;
            results.push(ContentPart::ToolResult {
                tool_call_id: call.id.clone(),
                content: why.to_owned(),
                is_error: true,
            });
        }
        self.push(
            ChatMessage {
                role: Role::User,
                content: results,
            },
            None,
        );
        Ok(())
    }

    fn push(&mut self, message: ChatMessage, entry: Option<String>) {
        self.history.push(message);
        self.entry_ids.push(entry);
    }

    fn record(
        &mut self,
        message: crate::sessions::TranscriptMessage,
    ) -> Result<Option<String>, AgentError> {
        match &mut self.session {
            Some(session) => Ok(Some(session.append_message(message)?)),
            None => Ok(None),
        }
    }
}
