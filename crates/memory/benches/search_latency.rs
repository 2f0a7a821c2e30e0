//! Search latency and index throughput at 10k and 100k chunks, in-process.
//!
//! Builds a synthetic workspace of markdown notes (real words, random mixtures), indexes it with a
//! deterministic 384-dimension embedder (hashed bag of words: the vector machinery is real, the
//! model is not, so query embedding time is excluded), then times keyword, vector and hybrid
//! searches and reports p50/p99, plus recall@10 of the binary-candidate vector search against an
//! exact scan. Run: `cargo bench -p localgpt-memory --bench search_latency [-- 10000 100000]`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::Instant;

use localgpt_core::embed::{EmbedError, Embedder};
use localgpt_memory::{IndexSettings, MemoryIndex, SearchMode, SearchOptions};

struct HashEmbedder;

impl Embedder for HashEmbedder {
    fn model_id(&self) -> &str {
        "bench-hash-384"
    }
    fn dimension(&self) -> usize {
        384
    }
    fn max_tokens(&self) -> usize {
        256
    }
    fn count_tokens(&self, text: &str) -> Result<usize, EmbedError> {
        Ok(text.split_whitespace().count())
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts.iter().map(|text| hash_vector(text)).collect())
    }
}

fn hash_vector(text: &str) -> Vec<f32> {
    let mut vector = vec![0.0f32; 384];
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let hash = word.bytes().fold(1469598103934665603u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(1099511628211)
        });
        vector[(hash % 384) as usize] += 1.0;
        vector[((hash >> 20) % 384) as usize] -= 0.5;
    }
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
    vector.iter().map(|x| x / norm).collect()
}

const WORDS: &[&str] = &[
    "memory",
    "index",
    "search",
    "garden",
    "kitchen",
    "plumber",
    "invoice",
    "project",
    "rust",
    "python",
    "meeting",
    "travel",
    "flight",
    "hotel",
    "budget",
    "doctor",
    "appointment",
    "birthday",
    "gift",
    "recipe",
    "pasta",
    "tomato",
    "server",
    "deploy",
    "database",
    "backup",
    "password",
    "manager",
    "weekly",
    "review",
    "notes",
    "idea",
    "book",
    "reading",
    "music",
    "guitar",
    "lesson",
    "school",
    "homework",
    "car",
    "repair",
    "insurance",
    "tax",
    "return",
    "bank",
    "transfer",
    "loan",
    "house",
    "key",
    "flowerpot",
    "blue",
    "red",
    "green",
    "window",
    "door",
    "roof",
    "paint",
    "weekend",
    "holiday",
    "beach",
    "mountain",
    "hiking",
    "boots",
    "jacket",
    "rain",
];

fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn sentence(state: &mut u64, words: usize) -> String {
    (0..words)
        .map(|_| WORDS[(next(state) % WORDS.len() as u64) as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

fn percentile(times: &mut [f64], p: f64) -> f64 {
    times.sort_by(f64::total_cmp);
    times[((times.len() as f64 - 1.0) * p).round() as usize]
}

fn run(chunks: usize) {
    let dir = tempfile::tempdir().unwrap();
    let workspace = dir.path().join("ws");
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ chunks as u64;
    // Ten chunk-sized sections per file.
    let files = chunks / 10;
    for file in 0..files {
        let mut text = String::new();
        for section in 0..10 {
            text.push_str(&format!(
                "## Section {section}\n\n{}\n\n",
                sentence(&mut state, 150)
            ));
        }
        let path = workspace.join(format!("notes/{:04}/{file}.md", file / 500));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let mut settings = IndexSettings::new(&workspace);
    settings.chunk_tokens = 200;
    let embedder: Arc<dyn Embedder> = Arc::new(HashEmbedder);
    let mut index =
        MemoryIndex::open(dir.path().join("index.sqlite"), settings, Some(embedder)).unwrap();
    let started = Instant::now();
    let report = index.reindex(false, &mut |_| {}).unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let stats = index.stats().unwrap();
    println!(
        "\n{} chunks in {} files: indexed in {:.1} s ({:.0} files/s, {:.0} chunks/s, hash embedder), index {:.0} MB",
        stats.chunks,
        report.files_seen,
        seconds,
        report.files_seen as f64 / seconds,
        stats.chunks as f64 / seconds,
        stats.index_bytes as f64 / 1e6
    );
    let queries: Vec<String> = (0..60).map(|_| sentence(&mut state, 4)).collect();
    for mode in [SearchMode::Keyword, SearchMode::Vector, SearchMode::Hybrid] {
        let options = SearchOptions {
            limit: 10,
            mode,
            recency_half_life_days: None,
        };
        for query in queries.iter().take(5) {
            index.search(query, options).unwrap();
        }
        let mut times: Vec<f64> = queries
            .iter()
            .map(|query| {
                let start = Instant::now();
                index.search(query, options).unwrap();
                start.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        println!(
            "  {:<8} p50 {:6.2} ms   p99 {:6.2} ms",
            format!("{mode:?}").to_lowercase(),
            percentile(&mut times, 0.5),
            percentile(&mut times, 0.99)
        );
    }
    // Recall of binary candidates + exact rescoring against an exact scan of every vector.
    let connection = rusqlite::Connection::open(dir.path().join("index.sqlite")).unwrap();
    let all: Vec<(i64, Vec<f32>)> = connection
        .prepare("SELECT chunk_id, embedding FROM chunk_vectors")
        .unwrap()
        .query_map([], |row| {
            let blob: Vec<u8> = row.get(1)?;
            Ok((
                row.get(0)?,
                blob.chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut recall = 0.0;
    for query in queries.iter().take(20) {
        let q = hash_vector(query);
        let mut exact: Vec<(i64, f32)> = all
            .iter()
            .map(|(id, v)| (*id, v.iter().zip(&q).map(|(a, b)| a * b).sum()))
            .collect();
        exact.sort_by(|a, b| b.1.total_cmp(&a.1));
        let truth: Vec<i64> = exact.iter().take(10).map(|(id, _)| *id).collect();
        let found = index
            .search(
                query,
                SearchOptions {
                    limit: 10,
                    mode: SearchMode::Vector,
                    recency_half_life_days: None,
                },
            )
            .unwrap();
        recall += found
            .results
            .iter()
            .filter(|hit| truth.contains(&hit.chunk_id))
            .count() as f64
            / 10.0;
    }
    println!("  vector recall@10 vs exact scan: {:.3}", recall / 20.0);
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|arg| arg.parse().ok())
        .collect();
    for chunks in if sizes.is_empty() {
        vec![10_000, 100_000]
    } else {
        sizes
    } {
        run(chunks);
    }
}
