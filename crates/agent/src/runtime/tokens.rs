//! Token estimates for context management. Local models count with their own tokenizer (through
//! [`ChatModel::count_tokens`](localgpt_core::chat::ChatModel::count_tokens)); remote models are
//! measured with OpenAI's `cl100k_base` tokenizer (a real BPE, a close estimate for every modern
//! tokenizer; see [`super::cl100k`]). Requests are rounded up by a margin because other vendors' tokenizers split some
//! text finer.

use localgpt_core::chat::{ChatMessage, ContentPart, ToolSpec};

/// Tokens each message costs beyond its text (role markers, separators).
const PER_MESSAGE_OVERHEAD: usize = 4;

/// Tokens in `text` by `cl100k_base`.
pub fn count(text: &str) -> usize {
    match super::cl100k::tokenizer() {
        Some(bpe) => bpe.encode_with_special_tokens(text).len(),
        // Never in a working build (a test reads the table); bytes over-count, which is safe.
        None => text.len(),
    }
}

/// A way to count tokens: the model's own tokenizer or [`count`].
pub type Counter<'a> = &'a dyn Fn(&str) -> usize;

/// Estimated tokens of a whole request: system prompt, tools and messages, plus 10%.
pub fn estimate_request(
    count: Counter<'_>,
    system: &str,
    tools: &[ToolSpec],
    messages: &[ChatMessage],
) -> usize {
    let tools: usize = tools
        .iter()
        .map(|tool| count(&tool.description) + count(&tool.parameters.to_string()) + 8)
        .sum();
    let raw = count(system)
        + tools
        + messages
            .iter()
            .map(|message| estimate_message(count, message))
            .sum::<usize>();
    raw + raw / 10
}

/// More tokens than the request can have, without tokenizing: its bytes (no tokenizer makes a
/// token of less than a byte) plus the per-message overhead and the 10 % margin.
pub fn upper_bound(system: &str, tools: &[ToolSpec], messages: &[ChatMessage]) -> usize {
    let tools: usize = tools
        .iter()
        .map(|tool| tool.description.len() + tool.parameters.to_string().len() + 8)
        .sum();
    let messages: usize = messages
        .iter()
        .map(|message| {
            PER_MESSAGE_OVERHEAD
                + message
                    .content
                    .iter()
                    .map(|part| match part {
                        ContentPart::Text { text } => text.len(),
                        ContentPart::ToolCall {
                            name, arguments, ..
                        } => name.len() + arguments.to_string().len() + 8,
                        ContentPart::ToolResult { content, .. } => content.len() + 8,
                    })
                    .sum::<usize>()
        })
        .sum();
    let raw = system.len() + tools + messages;
    raw + raw / 10
}

/// Estimated tokens of one message.
pub fn estimate_message(count: Counter<'_>, message: &ChatMessage) -> usize {
    PER_MESSAGE_OVERHEAD
        + message
            .content
            .iter()
            .map(|part| match part {
                ContentPart::Text { text } => count(text),
                ContentPart::ToolCall {
                    name, arguments, ..
                } => count(name) + count(&arguments.to_string()) + 8,
                ContentPart::ToolResult { content, .. } => count(content) + 8,
            })
            .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_byte_bound_is_never_below_the_estimate() {
        let messages = vec![
            ChatMessage::user("héllo wörld, how are you? 東京"),
            ChatMessage::assistant("fine"),
        ];
        let estimate = estimate_request(&count, "system prompt", &[], &messages);
        assert!(upper_bound("system prompt", &[], &messages) >= estimate);
    }

    #[test]
    fn counts_real_tokens() {
        assert_eq!(count("hello world"), 2);
        assert_eq!(count(""), 0);
        let message = ChatMessage::user("hello world");
        assert_eq!(estimate_message(&count, &message), 2 + PER_MESSAGE_OVERHEAD);
    }
}
