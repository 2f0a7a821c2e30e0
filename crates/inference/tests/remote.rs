//! Remote embedding endpoints over real HTTP on loopback, speaking OpenAI's and Ollama's wire
//! formats, including a rate limit that is retried and a refused key.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use localgpt_core::embed::Embedder;
use localgpt_inference::{RemoteEmbedder, RemoteKind};

/// Serves embedding requests: vectors of `[len, 1, 0]` per input text. The first `fail_first`
/// requests get `status_first` instead. Returns the base URL and the request counter.
fn server(kind: RemoteKind, fail_first: usize, status_first: u16) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut length = 0;
            let mut authorized = false;
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                let lower = header.to_ascii_lowercase();
                if let Some(value) = lower.strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap();
                }
                authorized |= lower.starts_with("authorization: bearer good-key");
                if header == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).unwrap();
            let number = seen.fetch_add(1, Ordering::SeqCst);
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let inputs: Vec<String> = json["input"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect();
            let vectors: Vec<serde_json::Value> = inputs
                .iter()
                .map(|text| serde_json::json!([text.len() as f64, 1.0, 0.0]))
                .collect();
            let (status, reply) = if number < fail_first {
                (status_first, "{\"error\": \"slow down\"}".to_owned())
            } else if kind == RemoteKind::OpenAi && !authorized {
                (401, "{\"error\": {\"message\": \"bad key\"}}".to_owned())
            } else if kind == RemoteKind::OpenAi {
                assert!(
                    request_line.starts_with("POST /v1/embeddings "),
                    "{request_line}"
                );
                (200, serde_json::json!({"data": vectors.iter().map(|v| serde_json::json!({"embedding": v})).collect::<Vec<_>>()}).to_string())
            } else {
                assert!(
                    request_line.starts_with("POST /api/embed "),
                    "{request_line}"
                );
                (200, serde_json::json!({"embeddings": vectors}).to_string())
            };
            write!(stream, "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nRetry-After: 0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}", reply.len()).unwrap();
        }
    });
    (base, count)
}

#[test]
fn openai_compatible_endpoint_embeds_and_learns_the_dimension() {
    let (base, count) = server(RemoteKind::OpenAi, 0, 200);
    let embedder = RemoteEmbedder::connect(
        RemoteKind::OpenAi,
        &format!("{base}/v1"),
        "text-embedding-3-small",
        Some("good-key".into()),
        512,
    )
    .unwrap();
    assert_eq!(embedder.dimension(), 3);
    assert_eq!(embedder.model_id(), "openai:text-embedding-3-small");
    let vectors = embedder.embed(&["ab", "abcd"]).unwrap();
    assert_eq!(vectors.len(), 2);
    let norm: f32 = vectors[1].iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5, "vectors are normalised");
    assert_eq!(count.load(Ordering::SeqCst), 2, "one probe and one batch");
}

#[test]
fn ollama_endpoint_retries_rate_limits() {
    let (base, count) = server(RemoteKind::Ollama, 2, 429);
    let embedder =
        RemoteEmbedder::connect(RemoteKind::Ollama, &base, "nomic-embed-text", None, 2048).unwrap();
    assert_eq!(embedder.dimension(), 3);
    assert_eq!(
        count.load(Ordering::SeqCst),
        3,
        "two 429s, then the probe succeeded"
    );
    assert_eq!(embedder.embed(&["x"]).unwrap().len(), 1);
}

#[test]
fn refused_keys_and_dead_servers_are_clear_errors() {
    let (base, _) = server(RemoteKind::OpenAi, 0, 200);
    let error = RemoteEmbedder::connect(
        RemoteKind::OpenAi,
        &format!("{base}/v1"),
        "m",
        Some("wrong".into()),
        512,
    )
    .unwrap_err();
    assert!(error.to_string().contains("API key was refused"), "{error}");
    let (base, _) = server(RemoteKind::Ollama, 100, 500);
    let error = RemoteEmbedder::connect(RemoteKind::Ollama, &base, "m", None, 512).unwrap_err();
    assert!(
        error.to_string().contains("gave up after 4 attempts"),
        "{error}"
    );
}
