//! `memory.embedding = "ollama"` end to end: the binary indexes and searches with vectors from a
//! loopback server speaking Ollama's `/api/embed`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

use common::localgpt;

/// A tiny Ollama embedding server: each text's vector counts a few marker words.
fn ollama() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                if let Some(value) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap();
                }
                if header == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).unwrap();
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let vectors: Vec<Vec<f32>> = json["input"]
                .as_array()
                .unwrap()
                .iter()
                .map(|text| {
                    let text = text.as_str().unwrap().to_lowercase();
                    ["boat", "key", "plumber", "the"]
                        .iter()
                        .map(|word| text.matches(word).count() as f32 + 0.01)
                        .collect()
                })
                .collect();
            let reply = serde_json::json!({"embeddings": vectors}).to_string();
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                reply.len()
            )
            .unwrap();
        }
    });
    base
}

#[test]
fn ollama_embeddings_index_and_search() {
    let home = tempfile::tempdir().unwrap();
    localgpt(home.path())
        .args(["config", "init"])
        .assert()
        .success();
    localgpt(home.path())
        .args(["config", "set", "memory.embedding", "ollama"])
        .assert()
        .success();
    localgpt(home.path())
        .args(["config", "set", "providers.ollama.endpoint", &ollama()])
        .assert()
        .success();
    std::fs::write(
        home.path().join("workspace/knowledge/boat.md"),
        "The boat is moored at pier seven.\n",
    )
    .unwrap();
    localgpt(home.path())
        .args(["memory", "reindex"])
        .assert()
        .success();
    let stats = localgpt(home.path())
        .args(["memory", "stats", "--json"])
        .output()
        .unwrap();
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(stats["embedding_model"], "ollama:nomic-embed-text");
    assert_eq!(stats["embedded_chunks"], stats["chunks"]);
    let found = localgpt(home.path())
        .args([
            "memory",
            "search",
            "boat boat",
            "--mode",
            "vector",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        found.status.success(),
        "{}",
        String::from_utf8_lossy(&found.stderr)
    );
    let found: serde_json::Value = serde_json::from_slice(&found.stdout).unwrap();
    assert_eq!(found["results"][0]["path"], "knowledge/boat.md");
}
