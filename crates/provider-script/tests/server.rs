//! The scripted server's own behaviour, seen from a plain HTTP client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use localgpt_provider_script::{Script, ScriptedServer, Turn, split_in_three};
use serde_json::{Value, json};

async fn post(server: &ScriptedServer, path: &str, body: Value) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(server.url(path))
        .header("x-test", "yes")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn records_requests_and_serves_turns_in_order() {
    let server = ScriptedServer::start(
        Script::new()
            .turn(Turn::text(["a"]))
            .turn(Turn::rate_limited(7)),
    )
    .await;
    let (status, body) = post(
        &server,
        "/v1/messages",
        json!({"model": "m", "stream": true}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.contains("event: message_stop"), "{body}");
    let response = reqwest::Client::new()
        .post(server.url("/api/chat"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].header("X-Test"), Some("yes"));
    assert_eq!(requests[0].body["model"], "m");
    assert_eq!(server.remaining_turns(), 0);
}

#[tokio::test]
async fn exhausted_script_is_a_clear_bad_request() {
    let server = ScriptedServer::start(Script::new()).await;
    let (status, body) = post(&server, "/v1/chat/completions", json!({})).await;
    assert_eq!(status, 400);
    assert!(body.contains("script exhausted"), "{body}");
}

#[tokio::test]
async fn ollama_tags_and_non_streaming_chat() {
    let server = ScriptedServer::start(Turn::text(["Hel", "lo"]).usage(3, 2)).await;
    let tags = reqwest::get(server.url("/api/tags")).await.unwrap();
    assert!(tags.text().await.unwrap().contains("scripted:latest"));
    let (status, body) = post(&server, "/api/chat", json!({"model": "x", "stream": false})).await;
    assert_eq!(status, 200);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["message"]["content"], "Hello");
    assert_eq!(body["done"], true);
    assert_eq!(body["eval_count"], 2);
}

#[test]
fn arguments_split_into_three_pieces_on_character_boundaries() {
    assert_eq!(split_in_three("ab"), ["ab"]);
    assert_eq!(split_in_three("aébécé").concat(), "aébécé");
    assert_eq!(split_in_three("aébécé").len(), 3);
}
