//! The background embedding worker on a real index: a keyword-first index gets every chunk's
//! vector, and every line recall would weigh is embedded, so a turn's recall embeds only the
//! question; the worker goes again by itself after the index changes, and stops when dropped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use localgpt_agent::embedding_worker::{EmbeddingWorker, warm_lines};
use localgpt_agent::recall::{RecallSettings, recall};
use localgpt_core::embed::{EmbedError, Embedder};
use localgpt_memory::MemoryHandle;
use localgpt_memory::{IndexSettings, MemoryIndex};

/// Hashed bag of words; counts the texts it embeds.
#[derive(Default)]
struct CountingEmbedder {
    texts: AtomicUsize,
    delay: Duration,
}

impl Embedder for CountingEmbedder {
    fn model_id(&self) -> &str {
        "counting-32"
    }
    fn dimension(&self) -> usize {
        32
    }
    fn max_tokens(&self) -> usize {
        256
    }
    fn count_tokens(&self, text: &str) -> Result<usize, EmbedError> {
        Ok(text.split_whitespace().count())
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.texts.fetch_add(texts.len(), Ordering::SeqCst);
        std::thread::sleep(self.delay);
        Ok(texts
            .iter()
            .map(|text| {
                let mut vector = [0.01f32; 32];
                for word in text.split(|c: char| !c.is_alphanumeric()) {
                    let slot = word
                        .to_lowercase()
                        .bytes()
                        .fold(7usize, |h, b| h.wrapping_mul(31).wrapping_add(b.into()));
                    vector[slot % 32] += 1.0;
                }
                let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
                vector.iter().map(|x| x / norm).collect()
            })
            .collect())
    }
}

fn home(notes: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let memory = dir.path().join("ws/memory");
    std::fs::create_dir_all(&memory).unwrap();
    for n in 0..notes {
        std::fs::write(
            memory.join(format!("2026-10-{:02}.md", n % 28 + 1)),
            format!(
                "# Day {n}\n\n- Walked the dog along the river {n}.\n- Bought {n} apples at the market.\n- The spare key is under the blue flowerpot.\n"
            ),
        )
        .unwrap();
    }
    dir
}

fn memory_of(dir: &tempfile::TempDir, embedder: Arc<CountingEmbedder>) -> MemoryHandle {
    let index = MemoryIndex::open(
        dir.path().join("index.sqlite"),
        IndexSettings::new(dir.path().join("ws")),
        Some(embedder as Arc<dyn Embedder>),
    )
    .unwrap();
    let memory = MemoryHandle::new(index);
    memory.refresh_now().unwrap();
    memory
}

#[tokio::test(flavor = "multi_thread")]
async fn a_warmed_index_embeds_only_the_question_during_recall() {
    let dir = home(20);
    let embedder = Arc::new(CountingEmbedder::default());
    let memory = memory_of(&dir, Arc::clone(&embedder));

    let stop = AtomicBool::new(false);
    let warmer_memory = memory.clone();
    let embedded = tokio::task::spawn_blocking(move || warm_lines(&warmer_memory, &stop))
        .await
        .unwrap()
        .unwrap();
    assert!(embedded > 20, "only {embedded} lines embedded");
    let again = AtomicBool::new(false);
    assert_eq!(
        warm_lines(&memory, &again).unwrap(),
        0,
        "a second pass re-embedded"
    );

    let before = embedder.texts.load(Ordering::SeqCst);
    let recalled = recall(
        &memory,
        "Where did I hide the spare key?",
        RecallSettings::default(),
    )
    .await
    .unwrap();
    let _ = recalled;
    assert_eq!(
        embedder.texts.load(Ordering::SeqCst) - before,
        1,
        "recall embedded more than the question: its lines were not the warmed ones"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_keyword_first_index_gets_its_vectors_in_the_background() {
    let dir = home(10);
    let embedder = Arc::new(CountingEmbedder::default());
    let index = MemoryIndex::open(
        dir.path().join("index.sqlite"),
        IndexSettings::new(dir.path().join("ws")),
        Some(Arc::clone(&embedder) as Arc<dyn Embedder>),
    )
    .unwrap();
    let memory = MemoryHandle::new(index);
    memory.embed_later().unwrap();
    memory.refresh_now().unwrap();
    assert_eq!(
        embedder.texts.load(Ordering::SeqCst),
        0,
        "indexing embedded inline"
    );
    let stats = memory.stats().await.unwrap();
    assert_eq!(stats.embedded_chunks, 0);

    let worker = EmbeddingWorker::start(memory.clone()).unwrap();
    wait_until_embedded(&memory).await;
    wait_until_warm(&memory).await;

    // A new note: the refresh itself wakes the worker (no kick from the caller).
    std::fs::write(
        dir.path().join("ws/memory/2026-11-29.md"),
        "- The canoe paddles hang in the garage.
",
    )
    .unwrap();
    memory.refresh_now().unwrap();
    wait_until_embedded(&memory).await;
    wait_until_warm(&memory).await;
    drop(worker);
}

async fn wait_until_embedded(memory: &MemoryHandle) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stats = memory.stats().await.unwrap();
        if stats.embedded_chunks == stats.chunks {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "chunks still without vectors after 30 s: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_background_warmer_follows_edits_and_stops_when_dropped() {
    let dir = home(5);
    let embedder = Arc::new(CountingEmbedder::default());
    let memory = memory_of(&dir, Arc::clone(&embedder));
    let warmer = EmbeddingWorker::start(memory.clone()).unwrap();
    wait_until_warm(&memory).await;

    let before = embedder.texts.load(Ordering::SeqCst);
    std::fs::write(
        dir.path().join("ws/memory/2026-11-30.md"),
        "- The boiler was serviced on Friday by Ana.\n",
    )
    .unwrap();
    // The refresh embeds the new chunk inline and wakes the worker, which embeds its line.
    memory.refresh_now().unwrap();
    warmer.kick();
    wait_until_warm(&memory).await;
    assert_eq!(embedder.texts.load(Ordering::SeqCst) - before, 2);
    drop(warmer);

    // A stop request ends a pass between batches, long before a slow model finishes them all.
    let dir = home(28);
    let slow = Arc::new(CountingEmbedder {
        delay: Duration::from_millis(300),
        ..CountingEmbedder::default()
    });
    let memory = memory_of(&dir, Arc::clone(&slow));
    let warmer = EmbeddingWorker::start(memory.clone()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    tokio::task::spawn_blocking(move || drop(warmer))
        .await
        .unwrap();
    assert!(
        uncached(&memory) > 0,
        "the warmer went on after it was dropped"
    );
}

fn uncached(memory: &MemoryHandle) -> usize {
    let memory = memory.clone();
    let mut count = 0;
    let mut before = i64::MAX;
    loop {
        let batch = memory
            .uncached_recall_lines(before, 1_000)
            .unwrap()
            .unwrap();
        count += batch.texts.len();
        match batch.next_before {
            Some(next) => before = next,
            None => return count,
        }
    }
}

async fn wait_until_warm(memory: &MemoryHandle) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while uncached(memory) > 0 {
        assert!(
            Instant::now() < deadline,
            "the warmer did not finish in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn searches_make_the_worker_yield_and_status_reads_do_not() {
    let dir = home(3);
    let memory = memory_of(&dir, Arc::new(CountingEmbedder::default()));
    let window = localgpt_agent::embedding_worker::BUSY_WINDOW;
    assert!(!memory.used_within(window));
    memory.stats().await.unwrap();
    assert!(!memory.used_within(window), "a status read counted as use");
    memory
        .search(
            "spare key".to_owned(),
            localgpt_memory::SearchOptions::default(),
        )
        .await
        .unwrap();
    assert!(memory.used_within(window));
}
