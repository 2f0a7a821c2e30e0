//! Embedding throughput on real text: Cranfield abstracts cut into 256-token chunks (the model's
//! window), embedded in calls of several sizes and thread counts.
//!
//! Run: `cargo bench -p localgpt-inference --bench embed_throughput -- MODEL.gguf [CHUNKS]`.
//! Compare with llama.cpp's `llama-bench -m MODEL.gguf -embd 1 -p 256 -n 0 -t 2`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::path::PathBuf;
use std::time::Instant;

use localgpt_core::embed::Embedder;
use localgpt_inference::LlamaEmbedder;

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"));
    let model = PathBuf::from(
        args.next()
            .expect("usage: embed_throughput MODEL.gguf [CHUNKS]"),
    );
    let count: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(128);
    let corpus = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/cranfield/cran.all.1400"),
    )
    .unwrap();
    let words: Vec<&str> = corpus
        .lines()
        .filter(|line| !line.starts_with('.'))
        .flat_map(str::split_whitespace)
        .collect();
    let probe = LlamaEmbedder::load(&model, None).unwrap();
    // Chunks of exactly 256 tokens with [CLS]/[SEP]: grow word windows until the tokenizer says so.
    let mut chunks = Vec::new();
    let mut start = 0;
    while chunks.len() < count && start < words.len() {
        let mut end = start + 150;
        while end < words.len() && probe.count_tokens(&words[start..end].join(" ")).unwrap() < 254 {
            end += 5;
        }
        chunks.push(words[start..end].join(" "));
        start = end;
    }
    let tokens: usize = chunks.iter().map(|c| probe.tokenize(c).len()).sum();
    println!(
        "{} chunks, {:.1} tokens each on average",
        chunks.len(),
        tokens as f64 / chunks.len() as f64
    );
    drop(probe);
    for threads in [1, 2] {
        let embedder = LlamaEmbedder::load(&model, Some(threads)).unwrap();
        let texts: Vec<&str> = chunks.iter().map(String::as_str).collect();
        embedder.embed(&texts[..4]).unwrap();
        for per_call in [1, 16, 32] {
            let started = Instant::now();
            for group in texts.chunks(per_call) {
                embedder.embed(group).unwrap();
            }
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "threads {threads}  texts/call {per_call:>3}: {:6.1} chunks/s  {:7.0} tokens/s",
                texts.len() as f64 / seconds,
                tokens as f64 / seconds
            );
        }
    }
}
