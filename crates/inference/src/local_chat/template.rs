//! Renders a conversation into the prompt text a local model was trained on: the GGUF's own
//! `tokenizer.chat_template` (Jinja, as Hugging Face renders it) through `minijinja`, with the
//! system prompt, tool definitions, tool calls and tool results; ChatML when the model has no
//! template or its template fails, with a warning.

use localgpt_core::chat::{ChatMessage, ContentPart, Role, ToolSpec};
use minijinja::{Environment, Error, ErrorKind, Value};
use serde_json::json;

/// ChatML, the most common format, used when a model brings no usable template.
const CHATML: &str = "{% for message in messages %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

/// Renders `(role, content)` pairs with llama.cpp's built-in template matcher, when it can.
pub type BuiltinTemplate<'a> = &'a dyn Fn(&[(String, String)]) -> Option<String>;

/// A model's chat template, ready to render.
#[derive(Debug, Clone)]
pub struct ChatTemplate {
    source: String,
    bos: String,
    eos: String,
    is_fallback: bool,
}

impl ChatTemplate {
    /// The template from the model file, or ChatML when there is none.
    pub fn new(source: Option<String>, bos: &str, eos: &str) -> Self {
        let is_fallback = source.is_none();
        if is_fallback {
            tracing::warn!("the model has no chat template; using ChatML");
        }
        Self {
            source: source.unwrap_or_else(|| CHATML.to_owned()),
            bos: bos.to_owned(),
            eos: eos.to_owned(),
            is_fallback,
        }
    }

    /// Whether the template renders tool definitions (so tools may be offered to the model).
    pub fn supports_tools(&self) -> bool {
        !self.is_fallback && self.source.contains("tools")
    }

    /// Whether the template writes tool calls as `<tool_call>…</tool_call>` (so the tool-call
    /// grammar applies).
    pub fn uses_tool_call_tags(&self) -> bool {
        self.supports_tools() && self.source.contains("<tool_call>")
    }

    /// The prompt for `messages` after `system`, ending where the assistant's reply begins.
    pub fn render(
        &self,
        system: Option<&str>,
        messages: &[ChatMessage],
        tools: &[ToolSpec],
    ) -> String {
        self.render_or(system, messages, tools, &|_| None)
    }

    /// Like [`ChatTemplate::render`], but when the Jinja template fails, `builtin` (llama.cpp's own
    /// template matcher, given `(role, content)` pairs) is tried before ChatML.
    pub fn render_or(
        &self,
        system: Option<&str>,
        messages: &[ChatMessage],
        tools: &[ToolSpec],
        builtin: BuiltinTemplate<'_>,
    ) -> String {
        let context = render_context(system, messages, tools, self.supports_tools());
        match render_with(&self.source, &context, &self.bos, &self.eos) {
            Ok(text) => text,
            Err(error) => {
                let plain: Vec<(String, String)> = context["messages"]
                    .as_array()
                    .map(|messages| {
                        messages
                            .iter()
                            .map(|m| {
                                let field =
                                    |key: &str| m[key].as_str().unwrap_or_default().to_owned();
                                (field("role"), field("content"))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                if !self.is_fallback
                    && let Some(text) = builtin(&plain)
                {
                    tracing::warn!(
                        "the model's chat template failed ({error:#}); using llama.cpp's built-in version of it"
                    );
                    return text;
                }
                tracing::warn!("the model's chat template failed ({error:#}); using ChatML");
                render_with(CHATML, &context, &self.bos, &self.eos).unwrap_or_default()
            }
        }
    }
}

/// Messages as Hugging Face templates expect them: `{role, content}`, assistant tool calls as
/// `tool_calls: [{type: function, function: {name, arguments}}]`, tool results as role `tool`.
fn render_context(
    system: Option<&str>,
    messages: &[ChatMessage],
    tools: &[ToolSpec],
    tools_supported: bool,
) -> serde_json::Value {
    let mut out = Vec::new();
    if let Some(system) = system.filter(|text| !text.trim().is_empty()) {
        out.push(json!({"role": "system", "content": system}));
    }
    for message in messages {
        let role = match message.role {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        let mut text = String::new();
        let mut calls = Vec::new();
        for part in &message.content {
            match part {
                ContentPart::Text { text: piece } => text.push_str(piece),
                ContentPart::ToolCall {
                    id,
                    name,
                    arguments,
                } => {
                    if tools_supported {
                        calls.push(json!({"id": id, "type": "function",
                            "function": {"name": name, "arguments": arguments}}));
                    } else {
                        text.push_str(&format!("\n[called {name}({arguments})]"));
                    }
                }
                ContentPart::ToolResult {
                    tool_call_id,
                    content,
                    ..
                } => {
                    if tools_supported {
                        out.push(json!({"role": "tool", "tool_call_id": tool_call_id, "content": content}));
                    } else {
                        out.push(
                            json!({"role": "user", "content": format!("[tool result]\n{content}")}),
                        );
                    }
                }
            }
        }
        if !text.is_empty() || !calls.is_empty() {
            let mut entry = json!({"role": role, "content": text});
            if !calls.is_empty() {
                entry["tool_calls"] = serde_json::Value::Array(calls);
            }
            out.push(entry);
        }
    }
    let tools: Vec<_> = tools
        .iter()
        .map(|tool| {
            json!({"type": "function", "function": {
            "name": tool.name, "description": tool.description, "parameters": tool.parameters}})
        })
        .collect();
    let mut context = json!({"messages": out, "add_generation_prompt": true});
    if tools_supported && !tools.is_empty() {
        context["tools"] = serde_json::Value::Array(tools);
    }
    context
}

fn render_with(
    source: &str,
    context: &serde_json::Value,
    bos: &str,
    eos: &str,
) -> Result<String, Error> {
    let mut env = Environment::new();
    // Hugging Face renders chat templates with these two settings.
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()?,
    );
    minijinja_contrib::add_to_environment(&mut env);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function(
        "raise_exception",
        |message: String| -> Result<Value, Error> {
            Err(Error::new(ErrorKind::InvalidOperation, message))
        },
    );
    env.add_function("strftime_now", |format: String| -> String {
        jiff::Zoned::now().strftime(&format).to_string()
    });
    env.add_template("chat", source)?;
    let template = env.get_template("chat")?;
    let mut values = context.clone();
    values["bos_token"] = json!(bos);
    values["eos_token"] = json!(eos);
    template.render(minijinja::value::Serde(&values))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMOLLM2: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    const LLAMA3: &str = "{{- bos_token }}{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{%- endif %}";

    const QWEN_TOOLS: &str = "{%- if tools %}<|im_start|>system\n{%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] }}{%- endif %}\n# Tools\n<tools>{%- for tool in tools %}\n{{- tool | tojson }}{%- endfor %}\n</tools><|im_end|>\n{%- endif %}{%- for message in messages %}{%- if message.role == 'user' or (message.role == 'system' and not tools) %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n{%- elif message.role == 'assistant' %}<|im_start|>assistant\n{{ message.content }}{%- if message.tool_calls %}{%- for call in message.tool_calls %}<tool_call>\n{\"name\": \"{{ call.function.name }}\", \"arguments\": {{ call.function.arguments | tojson }}}\n</tool_call>{%- endfor %}{%- endif %}<|im_end|>\n{%- elif message.role == 'tool' %}<|im_start|>user\n<tool_response>\n{{ message.content }}\n</tool_response><|im_end|>\n{%- endif %}{%- endfor %}{%- if add_generation_prompt %}<|im_start|>assistant\n{%- endif %}";

    const MISTRAL: &str = "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% endif %}{% endfor %}";

    fn conversation() -> Vec<ChatMessage> {
        vec![
            ChatMessage::user("What is the capital of France?"),
            ChatMessage::assistant("Paris."),
            ChatMessage::user("And of Italy?"),
        ]
    }

    #[test]
    fn smollm2_renders_system_user_and_assistant_turns() {
        let template = ChatTemplate::new(Some(SMOLLM2.to_owned()), "<|im_start|>", "<|im_end|>");
        assert!(!template.supports_tools());
        let prompt = template.render(Some("Be brief."), &conversation(), &[]);
        assert_eq!(
            prompt,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\nParis.<|im_end|>\n<|im_start|>user\nAnd of Italy?<|im_end|>\n<|im_start|>assistant\n"
        );
        // Without a system prompt the template adds its own.
        let prompt = template.render(None, &conversation()[..1], &[]);
        assert!(
            prompt.starts_with("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
        );
    }

    #[test]
    fn llama3_uses_bos_and_trim() {
        let template =
            ChatTemplate::new(Some(LLAMA3.to_owned()), "<|begin_of_text|>", "<|eot_id|>");
        let prompt = template.render(Some("  Be brief.  "), &conversation()[..1], &[]);
        assert_eq!(
            prompt,
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWhat is the capital of France?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
        );
    }

    #[test]
    fn qwen_renders_tools_calls_and_results() {
        let template = ChatTemplate::new(Some(QWEN_TOOLS.to_owned()), "", "<|im_end|>");
        assert!(template.supports_tools());
        let tools = [ToolSpec {
            name: "memory_search".to_owned(),
            description: "Search memory".to_owned(),
            parameters: json!({"type": "object"}),
        }];
        let messages = vec![
            ChatMessage::user("find bikes"),
            ChatMessage {
                role: Role::Assistant,
                content: vec![ContentPart::ToolCall {
                    id: "call_0".to_owned(),
                    name: "memory_search".to_owned(),
                    arguments: json!({"query": "bikes"}),
                }],
            },
            ChatMessage {
                role: Role::User,
                content: vec![ContentPart::ToolResult {
                    tool_call_id: "call_0".to_owned(),
                    content: "MEMORY.md: blue bike".to_owned(),
                    is_error: false,
                }],
            },
        ];
        let prompt = template.render(Some("Sys."), &messages, &tools);
        assert!(prompt.contains("# Tools\n<tools>{\"function\""), "{prompt}");
        assert!(prompt.contains("\"name\": \"memory_search\""), "{prompt}");
        assert!(prompt.contains("<tool_call>\n{\"name\": \"memory_search\", \"arguments\": {\"query\": \"bikes\"}}\n</tool_call>"), "{prompt}");
        assert!(
            prompt.contains("<tool_response>\nMEMORY.md: blue bike\n</tool_response>"),
            "{prompt}"
        );
        assert!(prompt.ends_with("<|im_start|>assistant"), "{prompt}");
    }

    #[test]
    fn mistral_alternates_roles_and_rejects_a_system_turn_by_falling_back() {
        let template = ChatTemplate::new(Some(MISTRAL.to_owned()), "<s>", "</s>");
        let prompt = template.render(None, &conversation(), &[]);
        assert_eq!(
            prompt,
            "<s>[INST] What is the capital of France? [/INST]Paris.</s>[INST] And of Italy? [/INST]"
        );
        // This template raises on a system message: the ChatML fallback still renders it.
        let prompt = template.render(Some("Be brief."), &conversation(), &[]);
        assert!(
            prompt.starts_with("<|im_start|>system\nBe brief."),
            "{prompt}"
        );
    }

    #[test]
    fn a_broken_template_falls_back_to_chatml() {
        let template = ChatTemplate::new(Some("{% for %}".to_owned()), "", "");
        let prompt = template.render(None, &conversation()[..1], &[]);
        assert_eq!(
            prompt,
            "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
        );
        let raising = ChatTemplate::new(
            Some("{{ raise_exception('no system role') }}".to_owned()),
            "",
            "",
        );
        assert!(
            raising
                .render(None, &conversation(), &[])
                .contains("<|im_start|>user")
        );
    }
}
