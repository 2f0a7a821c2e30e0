//! Context management: when the conversation nears the model's window, the agent first gives the
//! model one chance to save durable facts with `memory_append` (the memory flush), then replaces
//! the older turns with a summary the model writes, and records a compaction entry in the
//! transcript so a resumed session sees the same context. `/compact` runs it on demand. The
//! flush's `memory_append` calls pass the same checks as a turn's: the persona's scope, the
//! owner's approval once the conversation has read an untrusted artifact (see [`super::taint`]),
//! and the note's provenance.

use localgpt_core::chat::{CancelToken, ChatMessage, ChatRequest, ContentPart, Role, cancellable};

use super::reply::collect_reply;
use super::{Agent, AgentError, AgentEvent, tokens, transcript};
use crate::sessions::EntryBody;

/// Compaction starts when the request would fill this share of the budget.
const TRIGGER_PERCENT: usize = 75;
/// The recent part kept verbatim: at most this share of the budget.
const KEEP_PERCENT: usize = 30;
/// Characters of one tool result shown to the summariser.
const TOOL_RESULT_CHARS: usize = 1_500;

const FLUSH_PROMPT: &str = "[The conversation is about to be compacted: older messages will be \
    replaced by a summary.] If anything said so far should be remembered for good (facts, \
    decisions, preferences, open tasks), save it now with memory_append. If nothing needs saving, \
    reply with just NO_REPLY.";

const SUMMARY_PROMPT: &str = "Summarise the conversation below for your own future reference, \
    so that you can carry on without it: the user's goals, facts and decisions, names, files \
    touched, what was done and what is still open. Be concise; use short bullet points.";

impl Agent {
    /// Tokens the request may use: the smaller of the configured and the model's window, minus
    /// the reserve for the answer (never more than a quarter of the window).
    pub fn token_budget(&self) -> usize {
        let window = self
            .model
            .context_window()
            .map_or(self.settings.context_window, |own| {
                own.min(self.settings.context_window)
            }) as usize;
        let reserve = (self.settings.reserve_tokens as usize).min(window / 4);
        window - reserve
    }

    /// Estimated tokens of the next request without a new message.
    pub fn tokens_in_use(&self) -> usize {
        let count = |text: &str| self.count_tokens(text);
        tokens::estimate_request(&count, &self.system, &self.tools.specs(), &self.history)
    }

    /// Tokens in `text`: by the model's own tokenizer when it has one, else by `cl100k_base`.
    fn count_tokens(&self, text: &str) -> usize {
        self.model
            .count_tokens(text)
            .unwrap_or_else(|| tokens::count(text))
    }

    /// Compacts when the conversation fills most of the budget.
    pub(super) async fn compact_if_needed(
        &mut self,
        cancel: &CancelToken,
        on_event: &mut (dyn FnMut(AgentEvent) + Send),
    ) -> Result<(), AgentError> {
        // A token is at least one byte, so a conversation whose bytes fit needs no tokenizer at
        // all (loading cl100k costs tens of milliseconds, most of a short `ask`).
        let budget = self.token_budget() * TRIGGER_PERCENT / 100;
        if tokens::upper_bound(&self.system, &self.tools.specs(), &self.history) <= budget
            || self.tokens_in_use() <= budget
        {
            return Ok(());
        }
        self.compact(cancel, on_event).await.map(|_| ())
    }

    /// Summarises the older turns now. Returns whether anything was compacted.
    pub async fn compact(
        &mut self,
        cancel: &CancelToken,
        on_event: &mut (dyn FnMut(AgentEvent) + Send),
    ) -> Result<bool, AgentError> {
        let split = self.split_point();
        if split == 0 || (split == 1 && self.history[0].role == Role::System) {
            return Ok(false);
        }
        let tokens_before = self.tokens_in_use();
        self.memory_flush(cancel, on_event).await;
        let summary = self.summarise(split, cancel).await?;
        let first_kept = self.entry_ids[split..].iter().flatten().next().cloned();
        if let (Some(session), Some(first_kept)) = (&mut self.session, first_kept) {
            session.append(EntryBody::Compaction {
                summary: summary.clone(),
                first_kept_entry_id: first_kept,
                tokens_before: tokens_before as u64,
            })?;
        }
        let kept = self.history.split_off(split);
        let kept_ids = self.entry_ids.split_off(split);
        self.history = vec![ChatMessage::text(
            Role::System,
            transcript::summary_text(&summary, self.taint.is_tainted()),
        )];
        self.history.extend(kept);
        self.entry_ids = vec![None];
        self.entry_ids.extend(kept_ids);
        on_event(AgentEvent::Notice(format!(
            "Compacted {split} earlier messages into a summary ({tokens_before} → {} tokens).",
            self.tokens_in_use()
        )));
        Ok(true)
    }

    /// Where the kept part begins: a user's own message (never a tool result), such that the
    /// kept part fits in [`KEEP_PERCENT`] of the budget; 0 when there is nothing to compact.
    fn split_point(&self) -> usize {
        let keep_budget = self.token_budget() * KEEP_PERCENT / 100;
        let mut kept_tokens = 0;
        let mut split = self.history.len();
        for (position, message) in self.history.iter().enumerate().rev() {
            kept_tokens += tokens::estimate_message(&|text: &str| self.count_tokens(text), message);
            if kept_tokens > keep_budget {
                break;
            }
            split = position;
        }
        // Begin the kept part at a turn boundary, keeping at least the last turn.
        let is_turn_start = |message: &ChatMessage| {
            message.role == Role::User
                && message
                    .content
                    .iter()
                    .any(|part| matches!(part, ContentPart::Text { .. }))
        };
        let boundary = (split..self.history.len())
            .find(|&position| is_turn_start(&self.history[position]))
            .or_else(|| {
                (0..self.history.len())
                    .rev()
                    .find(|&position| is_turn_start(&self.history[position]))
            });
        boundary.unwrap_or(0)
    }

    /// Gives the model one round to save durable facts. Failures are logged, not fatal: the
    /// summary still keeps the gist.
    async fn memory_flush(
        &mut self,
        cancel: &CancelToken,
        on_event: &mut (dyn FnMut(AgentEvent) + Send),
    ) {
        let Some(append) = self
            .tools
            .specs()
            .into_iter()
            .find(|spec| spec.name == "memory_append")
        else {
            return;
        };
        let mut messages = self.history.clone();
        messages.push(ChatMessage::user(FLUSH_PROMPT));
        let request = ChatRequest {
            system: Some(self.system.clone()),
            messages,
            tools: vec![append],
            max_tokens: self.settings.max_tokens,
            ..ChatRequest::default()
        };
        let stream = cancellable(self.model.stream(request), cancel.clone());
        let reply = match collect_reply(stream, &mut |_| {}).await {
            Ok(reply) => reply,
            Err(error) => {
                tracing::warn!("memory flush before compaction failed: {error}");
                return;
            }
        };
        for call in reply
            .calls
            .iter()
            .filter(|call| call.name == "memory_append")
        {
            // Through the same door as any turn's call: the persona's scope, the owner's
            // approval when the conversation has read an untrusted artifact, and the note's
            // provenance.
            let guard = self.guard_for(call);
            if let Some(why) = &guard {
                on_event(AgentEvent::Notice(format!("{why}.")));
            }
            match self.run_one(call, guard).await {
                (Ok(_), _) => on_event(AgentEvent::Notice(
                    "Saved notes to memory before compacting.".to_owned(),
                )),
                (Err(error), _) => tracing::warn!("memory flush: memory_append failed: {error}"),
            }
        }
    }

    /// Asks the model for a summary of the first `split` messages.
    async fn summarise(&self, split: usize, cancel: &CancelToken) -> Result<String, AgentError> {
        let mut text = String::new();
        for message in &self.history[..split] {
            for part in &message.content {
                match part {
                    ContentPart::Text { text: said } => {
                        let who = match message.role {
                            Role::User => "User",
                            Role::Assistant => "Assistant",
                            Role::System => "Earlier summary",
                        };
                        text.push_str(&format!("{who}: {said}\n\n"));
                    }
                    ContentPart::ToolCall {
                        name, arguments, ..
                    } => text.push_str(&format!("Assistant called {name}({arguments})\n\n")),
                    ContentPart::ToolResult { content, .. } => {
                        let shown: String = content.chars().take(TOOL_RESULT_CHARS).collect();
                        text.push_str(&format!("Tool result: {shown}\n\n"));
                    }
                }
            }
        }
        // The summariser's own input must fit too: keep the most recent part of what is over.
        let most_chars = self.token_budget() * 3;
        let total = text.chars().count();
        if total > most_chars {
            text = text.chars().skip(total - most_chars).collect();
        }
        let request = ChatRequest {
            system: Some("You write concise, faithful summaries of conversations.".to_owned()),
            messages: vec![ChatMessage::user(format!(
                "{SUMMARY_PROMPT}\n\n<conversation>\n{text}</conversation>"
            ))],
            max_tokens: Some(1_024),
            ..ChatRequest::default()
        };
        let stream = cancellable(self.model.stream(request), cancel.clone());
        let reply = collect_reply(stream, &mut |_| {}).await?;
        let summary = reply.message.text_content();
        Ok(if summary.trim().is_empty() {
            "(The earlier conversation could not be summarised.)".to_owned()
        } else {
            summary.trim().to_owned()
        })
    }
}
