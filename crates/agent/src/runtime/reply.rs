//! Collecting a model's streamed reply: text handed to the caller as it arrives, tool calls
//! gathered, usage added up, the stop reason kept.

use futures_util::StreamExt;
use localgpt_core::chat::{
    ChatError, ChatEvent, ChatMessage, ContentPart, Role, StopReason, ToolCall, Usage,
};

use super::AgentEvent;

/// A reply collected from the stream.
#[derive(Debug)]
pub(super) struct Reply {
    pub(super) message: ChatMessage,
    pub(super) calls: Vec<ToolCall>,
    pub(super) usage: Option<Usage>,
    pub(super) stop: StopReason,
}

pub(super) async fn collect_reply(
    mut stream: localgpt_core::chat::ChatStream,
    on_event: &mut (dyn FnMut(AgentEvent) + Send),
) -> Result<Reply, ChatError> {
    let mut text = String::new();
    let mut calls = Vec::new();
    let mut usage: Option<Usage> = None;
    let mut stop = StopReason::EndTurn;
    while let Some(event) = stream.next().await {
        match event? {
            ChatEvent::TextDelta(delta) => {
                text.push_str(&delta);
                on_event(AgentEvent::Text(delta));
            }
            ChatEvent::ToolCallEnd { call, .. } => calls.push(call),
            ChatEvent::ToolCallStart { .. } | ChatEvent::ToolCallArgsDelta { .. } => {}
            ChatEvent::Usage(more) => {
                let total = usage.get_or_insert_with(Usage::default);
                add_usage(total, more);
            }
            ChatEvent::Stop(reason) => stop = reason,
        }
    }
    let mut content = Vec::new();
    if !text.is_empty() {
        content.push(ContentPart::Text { text });
    }
    content.extend(calls.iter().map(ToolCall::to_part));
    Ok(Reply {
        message: ChatMessage {
            role: Role::Assistant,
            content,
        },
        calls,
        usage,
        stop,
    })
}

pub(super) fn add_usage(total: &mut Usage, more: impl Into<Option<Usage>>) {
    let Some(more) = more.into() else { return };
    total.input_tokens += more.input_tokens;
    total.output_tokens += more.output_tokens;
    if let Some(read) = more.cache_read_tokens {
        *total.cache_read_tokens.get_or_insert(0) += read;
    }
    if let Some(written) = more.cache_write_tokens {
        *total.cache_write_tokens.get_or_insert(0) += written;
    }
}
