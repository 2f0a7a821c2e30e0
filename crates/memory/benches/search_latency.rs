//! Search latency and index throughput at 10k and 100k chunks, in-process.
//!
//! Builds a workspace of markdown notes whose words are drawn from the Cranfield abstracts (so word
//! frequencies are those of real text) and indexes it with a deterministic 384-dimension embedder:
//! each word is a fixed random dense vector and a text the normalised mean — dense like real
//! sentence embeddings, so binary quantisation behaves realistically (query embedding time is
//! excluded). Then times keyword, vector and hybrid searches with Cranfield's queries (p50/p99) and
//! measures recall@10 of binary candidates + exact rescoring against an exact scan.
//! With `LOCALGPT_BENCH_INDEX=path/index.sqlite` it also measures that recall on a real index, for
//! several candidate counts. With `LOCALGPT_BENCH_CJK=1` it also builds a keyword-only index where
//! every tenth file holds notes from `tests/data/cjk` and times the CJK set's queries beside English
//! ones. Run:
//! `cargo bench -p localgpt-memory --bench search_latency [-- 10000 100000]`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use localgpt_core::embed::{EmbedError, Embedder};
use localgpt_memory::{IndexSettings, MemoryIndex, SearchMode, SearchOptions};

struct WordVectorEmbedder;

impl Embedder for WordVectorEmbedder {
    fn model_id(&self) -> &str {
        "bench-word-vectors-384"
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
        Ok(texts.iter().map(|text| text_vector(text)).collect())
    }
}

fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn text_vector(text: &str) -> Vec<f32> {
    let mut vector = vec![0.0f32; 384];
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let mut state = word
            .to_lowercase()
            .bytes()
            .fold(1469598103934665603u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(1099511628211)
            })
            | 1;
        for value in &mut vector {
            *value += ((next(&mut state) >> 40) as f32 / (1u64 << 24) as f32) - 0.5;
        }
    }
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
    vector.iter().map(|x| x / norm).collect()
}

fn cranfield(file: &str) -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/data/cranfield")
            .join(file),
    )
    .unwrap()
}

/// Words near a random place of the corpus: real word frequencies and some topical coherence.
fn passage(corpus: &[&str], state: &mut u64, words: usize) -> String {
    let start = (next(state) % corpus.len() as u64) as usize;
    (0..words)
        .map(|i| corpus[(start + i * 3 + (next(state) % 3) as usize) % corpus.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

fn percentile(times: &mut [f64], p: f64) -> f64 {
    times.sort_by(f64::total_cmp);
    times[((times.len() as f64 - 1.0) * p).round() as usize]
}

fn read_vectors(connection: &rusqlite::Connection) -> Vec<(i64, Vec<f32>)> {
    connection
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
        .collect()
}

fn exact_top10(all: &[(i64, Vec<f32>)], query: &[f32]) -> Vec<i64> {
    let mut scored: Vec<(i64, f32)> = all
        .iter()
        .map(|(id, v)| (*id, v.iter().zip(query).map(|(a, b)| a * b).sum()))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored.iter().take(10).map(|(id, _)| *id).collect()
}

/// Removes the benchmark's folder unless it is kept for inspection.
struct Cleanup(PathBuf, bool);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if self.1 {
            std::fs::remove_dir_all(&self.0).ok();
        }
    }
}

fn run(chunks: usize, corpus: &[&str], queries: &[String]) {
    let dir = tempfile::tempdir().unwrap();
    let dir = match std::env::var("LOCALGPT_BENCH_DIR") {
        Ok(keep) => tempfile::Builder::new()
            .prefix(&format!("bench-{chunks}-"))
            .tempdir_in(keep)
            .unwrap()
            .keep(),
        Err(_) => dir.keep(),
    };
    let _cleanup = Cleanup(dir.clone(), std::env::var("LOCALGPT_BENCH_DIR").is_err());
    let workspace = dir.join("ws");
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ chunks as u64;
    for file in 0..chunks / 10 {
        let mut text = String::new();
        for section in 0..10 {
            text.push_str(&format!(
                "## Section {section}\n\n{}\n\n",
                passage(corpus, &mut state, 150)
            ));
        }
        let path = workspace.join(format!("notes/{:04}/{file}.md", file / 500));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let mut settings = IndexSettings::new(&workspace);
    settings.chunk_tokens = 200;
    let embedder: Arc<dyn Embedder> = Arc::new(WordVectorEmbedder);
    let mut index = MemoryIndex::open(dir.join("index.sqlite"), settings, Some(embedder)).unwrap();
    let started = Instant::now();
    let report = index.reindex(false, &mut |_| {}).unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let stats = index.stats().unwrap();
    println!(
        "\n{} chunks in {} files: indexed in {:.1} s ({:.0} files/s, {:.0} chunks/s with the synthetic embedder), index {:.0} MB",
        stats.chunks,
        report.files_seen,
        seconds,
        report.files_seen as f64 / seconds,
        stats.chunks as f64 / seconds,
        stats.index_bytes as f64 / 1e6
    );
    let started = Instant::now();
    let fresh = index.ensure_fresh().unwrap();
    assert!(!fresh.changed_anything());
    println!(
        "  ensure_fresh with nothing changed: {:.1} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    for mode in [SearchMode::Keyword, SearchMode::Vector, SearchMode::Hybrid] {
        let options = SearchOptions {
            limit: 10,
            mode,
            recency_half_life_days: None,
            source: None,
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
            "  {:<8} p50 {:6.2} ms   p99 {:6.2} ms  ({} queries)",
            format!("{mode:?}").to_lowercase(),
            percentile(&mut times, 0.5),
            percentile(&mut times, 0.99),
            times.len()
        );
    }
    let connection = rusqlite::Connection::open(dir.join("index.sqlite")).unwrap();
    let all = read_vectors(&connection);
    let mut recall = 0.0;
    for query in queries.iter().take(30) {
        let truth = exact_top10(&all, &text_vector(query));
        let found = index
            .search(
                query,
                SearchOptions {
                    limit: 10,
                    mode: SearchMode::Vector,
                    recency_half_life_days: None,
                    source: None,
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
    println!(
        "  vector recall@10 (binary candidates + exact rescoring) vs exact scan: {:.3}",
        recall / 30.0
    );
}

/// Recall@10 of binary candidates + exact rescoring on a real index, with stored chunk vectors as
/// queries, for several candidate counts.
fn real_index_recall(path: &str) {
    // Opening through the library registers sqlite-vec for every later connection.
    let _index = MemoryIndex::open(path, IndexSettings::new("/nonexistent"), None).unwrap();
    let connection = rusqlite::Connection::open(path).unwrap();
    let all = read_vectors(&connection);
    println!("\nreal index {path}: {} vectors", all.len());
    let queries: Vec<&(i64, Vec<f32>)> = all
        .iter()
        .step_by((all.len() / 50).max(1))
        .take(50)
        .collect();
    for candidates in [40, 100, 200, 400, 800] {
        let mut recall = 0.0;
        for (_, query) in &queries {
            let truth = exact_top10(&all, query);
            let blob: Vec<u8> = query.iter().flat_map(|v| v.to_le_bytes()).collect();
            let ids: Vec<i64> = connection
                .prepare("SELECT rowid FROM chunks_vec WHERE embedding MATCH vec_quantize_binary(?1) AND k = ?2")
                .unwrap()
                .query_map(rusqlite::params![blob, candidates], |row| row.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let candidates: Vec<(i64, Vec<f32>)> = all
                .iter()
                .filter(|(id, _)| ids.contains(id))
                .cloned()
                .collect();
            let found = exact_top10(&candidates, query);
            recall += found.iter().filter(|id| truth.contains(id)).count() as f64 / 10.0;
        }
        println!(
            "  {candidates:>4} binary candidates → recall@10 {:.3}",
            recall / queries.len() as f64
        );
    }
}

fn main() {
    let corpus_text = cranfield("cran.all.1400");
    let corpus: Vec<&str> = corpus_text
        .lines()
        .filter(|line| !line.starts_with('.'))
        .flat_map(str::split_whitespace)
        .filter(|word| word.chars().all(char::is_alphanumeric))
        .collect();
    let queries: Vec<String> = cranfield("cran.qry")
        .split(".I ")
        .skip(1)
        .filter_map(|block| block.split(".W").nth(1))
        .map(|text| text.split_whitespace().collect::<Vec<_>>().join(" "))
        .take(60)
        .collect();
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|arg| arg.parse().ok())
        .collect();
    for chunks in if sizes.is_empty() {
        vec![10_000, 100_000]
    } else {
        sizes
    } {
        run(chunks, &corpus, &queries);
    }
    if let Ok(path) = std::env::var("LOCALGPT_BENCH_INDEX") {
        real_index_recall(&path);
    }
    if std::env::var_os("LOCALGPT_BENCH_CJK").is_some() {
        cjk_latency(10_000, &corpus, &queries);
    }
}

/// Keyword search times for the CJK set's queries and for English ones on a keyword-only index of
/// `chunks / 10` files (chunked by the word estimate, so more chunks than the embedder's run), a
/// tenth of which end with three CJK notes.
fn cjk_latency(chunks: usize, corpus: &[&str], english: &[String]) {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/cjk");
    let mut notes: Vec<String> = std::fs::read_dir(data.join("notes"))
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .filter(|note| !note.is_ascii())
        .collect();
    notes.sort();
    let queries: Vec<String> = std::fs::read_to_string(data.join("queries.tsv"))
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| line.split('\t').next().map(str::to_owned))
        .filter(|query| !query.is_ascii())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let workspace = dir.path().join("ws");
    let mut state = 0x51_7CC1_B727_220Au64;
    for file in 0..chunks / 10 {
        let mut text = String::new();
        for section in 0..10 {
            text.push_str(&format!(
                "## Section {section}\n\n{}\n\n",
                passage(corpus, &mut state, 150)
            ));
        }
        if file % 10 == 0 {
            for offset in 0..3 {
                text.push_str(&notes[(file / 10 + offset * 7) % notes.len()]);
            }
        }
        let path = workspace.join(format!("notes/{:04}/{file}.md", file / 500));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let mut settings = IndexSettings::new(&workspace);
    settings.chunk_tokens = 200;
    let mut index = MemoryIndex::open(dir.path().join("index.sqlite"), settings, None).unwrap();
    let started = Instant::now();
    index.reindex(false, &mut |_| {}).unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let stats = index.stats().unwrap();
    println!(
        "\nCJK: {} chunks, every tenth file with CJK notes, keyword-only index in {seconds:.1} s",
        stats.chunks
    );
    let options = SearchOptions {
        limit: 10,
        mode: SearchMode::Keyword,
        recency_half_life_days: None,
        source: None,
    };
    for (label, list) in [("CJK", &queries), ("English", &english.to_vec())] {
        for query in list.iter().take(5) {
            index.search(query, options).unwrap();
        }
        let mut times: Vec<f64> = list
            .iter()
            .map(|query| {
                let start = Instant::now();
                index.search(query, options).unwrap();
                start.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        println!(
            "  keyword, {label:<7} queries: p50 {:6.2} ms   p99 {:6.2} ms  ({} queries)",
            percentile(&mut times, 0.5),
            percentile(&mut times, 0.99),
            times.len()
        );
    }
}
