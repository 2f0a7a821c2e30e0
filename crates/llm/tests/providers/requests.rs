//! What each provider puts on the wire: headers and body shape, checked on recorded requests.

use localgpt_core::config::{Config, Secret};
use localgpt_llm::ModelFactory;
use localgpt_provider_script::{ScriptedServer, Turn};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn anthropic_request_has_key_version_system_tools_and_tool_results() {
    let server = ScriptedServer::start(Turn::text(["ok"])).await;
    collect(model(Kind::Anthropic, &server).stream(request_with_tools())).await;
    let request = &server.requests()[0];
    assert_eq!(request.path, "/v1/messages");
    assert_eq!(request.header("x-api-key"), Some(ANTHROPIC_KEY));
    assert_eq!(request.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(request.header("authorization"), None);
    let body = &request.body;
    assert_eq!(body["model"], "claude-test");
    assert_eq!(body["stream"], true);
    assert_eq!(body["max_tokens"], 1000);
    assert_eq!(body["system"], "You are LocalGPT.");
    assert_eq!(body["stop_sequences"], json!(["END"]));
    assert_eq!(body["tools"][0]["name"], "memory_search");
    assert_eq!(
        body["tools"][0]["input_schema"]["required"],
        json!(["query"])
    );
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 4);
    assert_eq!(
        messages[1]["content"][1],
        json!({"type": "tool_use", "id": "call_9", "name": "memory_search", "input": {"query": "x"}})
    );
    assert_eq!(messages[2]["role"], "user");
    assert_eq!(
        messages[2]["content"][0],
        json!({"type": "tool_result", "tool_use_id": "call_9", "content": "x is 42", "is_error": false})
    );
}

#[tokio::test]
async fn openai_request_has_bearer_key_tool_messages_and_usage_option() {
    let server = ScriptedServer::start(Turn::text(["ok"])).await;
    collect(model(Kind::OpenAi, &server).stream(request_with_tools())).await;
    let request = &server.requests()[0];
    assert_eq!(request.path, "/v1/chat/completions");
    let bearer = format!("Bearer {OPENAI_KEY}");
    assert_eq!(request.header("authorization"), Some(bearer.as_str()));
    let body = &request.body;
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert_eq!(
        body["max_tokens"], 1000,
        "compatible servers get max_tokens"
    );
    assert_eq!(body["tools"][0]["type"], "function");
    assert_eq!(body["tools"][0]["function"]["name"], "memory_search");
    let messages = body["messages"].as_array().unwrap();
    let roles: Vec<_> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "tool", "user"]);
    assert_eq!(messages[2]["content"], "Let me search.");
    assert_eq!(messages[2]["tool_calls"][0]["id"], "call_9");
    assert_eq!(
        messages[2]["tool_calls"][0]["function"]["arguments"],
        r#"{"query":"x"}"#
    );
    assert_eq!(
        messages[3],
        json!({"role": "tool", "tool_call_id": "call_9", "content": "x is 42"})
    );
}

#[tokio::test]
async fn ollama_request_has_options_object_arguments_and_tool_names() {
    let server = ScriptedServer::start(Turn::text(["ok"])).await;
    collect(model(Kind::Ollama, &server).stream(request_with_tools())).await;
    let request = &server.requests()[0];
    assert_eq!(request.path, "/api/chat");
    let body = &request.body;
    assert_eq!(body["model"], "llama-test");
    assert_eq!(body["stream"], true);
    assert_eq!(body["options"]["num_predict"], 1000);
    assert_eq!(body["options"]["stop"], json!(["END"]));
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(
        messages[0],
        json!({"role": "system", "content": "You are LocalGPT."})
    );
    assert_eq!(
        messages[2]["tool_calls"][0]["function"]["arguments"],
        json!({"query": "x"})
    );
    assert_eq!(
        messages[3],
        json!({"role": "tool", "content": "x is 42", "tool_name": "memory_search"})
    );
}

#[tokio::test]
async fn factory_wires_config_keys_and_base_urls() {
    let server = ScriptedServer::start(
        localgpt_provider_script::Script::new()
            .turn(Turn::text(["from anthropic"]))
            .turn(Turn::text(["from openai"]))
            .turn(Turn::text(["from ollama"])),
    )
    .await;
    let mut config = Config::default();
    config.providers.anthropic.api_key = Some(Secret::new("sk-from-config"));
    config.providers.anthropic.base_url = Some(server.base_url());
    config.providers.openai.base_url = Some(server.url("v1"));
    config.providers.ollama.endpoint = server.base_url();
    config
        .agent
        .aliases
        .insert("mine".into(), "openai/qwen2.5-7b".into());
    let factory = ModelFactory::new(&config)
        .with_env(|_| None)
        .with_retry(fast_retry());
    for (reference, expected) in [
        ("sonnet", "from anthropic"),
        ("mine", "from openai"),
        ("ollama/llama3.2", "from ollama"),
    ] {
        let model = factory.create(reference).unwrap();
        let (events, error) = collect(model.stream(simple_request("hi"))).await;
        assert_eq!(error, None, "{reference}");
        assert_eq!(text_of(&events), expected);
    }
    let requests = server.requests();
    assert_eq!(requests[0].header("x-api-key"), Some("sk-from-config"));
    assert_eq!(requests[0].body["model"], "claude-sonnet-4-6");
    assert_eq!(
        requests[1].header("authorization"),
        None,
        "no key, no header"
    );
    assert_eq!(requests[1].body["model"], "qwen2.5-7b");
    assert_eq!(requests[2].body["model"], "llama3.2");
}

#[tokio::test]
async fn openai_non_streaming_answers_are_served_too() {
    let server = ScriptedServer::start(Turn::text(["Hel", "lo"]).and_tool_call("t", "{}")).await;
    let client = reqwest::Client::new();
    let response = client
        .post(server.url("v1/chat/completions"))
        .body(json!({"model": "m", "messages": []}).to_string())
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "Hello");
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
        "{}"
    );
}
