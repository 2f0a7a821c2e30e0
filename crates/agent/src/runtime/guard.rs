//! The agent's side of taint tracking: replaying a resumed conversation into the [`Taint`]
//! state, asking it before each call whether the owner must approve, telling it what each call
//! did, and the message the model reads when a guarded call is refused.

use std::collections::HashMap;

use localgpt_core::chat::{ContentPart, ToolCall};
use serde_json::Value;

use super::taint::Taint;
use super::{Agent, transcript};
use crate::tools::ToolError;

impl Agent {
    /// Rebuilds the taint of a resumed conversation from what it holds: fenced messages from
    /// strangers, summaries of untrusted content, and tool results, in order (so files the
    /// conversation wrote itself read back clean).
    pub(super) fn replay_taint(&mut self) {
        let mut calls: HashMap<String, (String, Value)> = HashMap::new();
        for message in &self.history {
            if transcript::is_untrusted_message(message) {
                self.taint
                    .mark_artifact("a replayed message from someone other than the owner");
            }
            if transcript::is_untrusted_summary(message) {
                // The summary cannot tell an untrusted artifact from the owner's notes: it counts.
                self.taint
                    .mark_artifact("a summary of earlier untrusted content");
            }
            for part in &message.content {
                match part {
                    ContentPart::ToolCall {
                        id,
                        name,
                        arguments,
                    } => {
                        calls.insert(id.clone(), (name.clone(), arguments.clone()));
                    }
                    ContentPart::ToolResult {
                        tool_call_id,
                        content,
                        is_error,
                    } => {
                        if let Some((name, arguments)) = calls.get(tool_call_id) {
                            let output = (!*is_error).then_some(content.as_str());
                            self.taint
                                .observe(name, arguments, *is_error, output, &self.rules);
                        }
                    }
                    ContentPart::Text { .. } => {}
                }
            }
        }
        self.taint.start_turn();
    }

    /// Why `call` needs the owner's approval because the conversation is tainted, if it does.
    pub(super) fn guard_for(&self, call: &ToolCall) -> Option<String> {
        if !self.settings.guard_after_untrusted {
            return None;
        }
        let arguments = call.arguments.as_ref().ok()?;
        self.taint.guard(&call.name, arguments, &self.rules)
    }

    /// Tells the taint state what a call that ran did: `output` is its result, `None` when it
    /// failed.
    pub(super) fn observe_call(&mut self, call: &ToolCall, output: Option<&String>) {
        let arguments = call.arguments.as_ref().unwrap_or(&Value::Null);
        self.taint.observe(
            &call.name,
            arguments,
            output.is_none(),
            output.map(String::as_str),
            &self.rules,
        );
    }

    /// Whether a round must run one call at a time so that what one call reads can hold back a
    /// later one.
    pub(super) fn round_needs_order(&self, calls: &[ToolCall]) -> bool {
        self.settings.guard_after_untrusted && calls.iter().any(|call| Taint::may_guard(&call.name))
    }
}

/// The error the model reads for a call the owner did not approve: why it was held back when the
/// taint guard asked.
pub(super) fn refusal(tool: &str, guard: Option<&str>) -> ToolError {
    match guard {
        None => ToolError::Denied(tool.to_owned()),
        Some(why) => ToolError::Failed(format!(
            "Not run. {why}. The owner did not approve it (or nobody was there to ask). Do not \
             retry it; tell the owner what you wanted to do and why, so they can do it \
             themselves or approve it."
        )),
    }
}
