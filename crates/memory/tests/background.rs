//! Keyword-first indexing with embedding in the background: a reindex that leaves embedding for
//! later calls no model and makes every file keyword-searchable; a worker then takes the pending
//! chunks (most recently changed files first), and vectors of chunks that changed meanwhile are
//! not stored against the new text.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use localgpt_core::embed::Embedder;
use localgpt_memory::{IndexSettings, MemoryIndex, SearchMode, SearchOptions};
use support::{HashEmbedder, write};

fn open(root: &std::path::Path, embedder: &Arc<HashEmbedder>) -> MemoryIndex {
    let mut index = MemoryIndex::open(
        root.join("index.sqlite"),
        IndexSettings::new(root.join("ws")),
        Some(Arc::clone(embedder) as Arc<dyn Embedder>),
    )
    .unwrap();
    index.set_embed_later(true);
    index
}

fn workspace(root: &std::path::Path) {
    for n in 0..12 {
        write(
            root,
            &format!("ws/knowledge/topic-{n:02}.md"),
            &format!("# Topic {n}\n\nThe heron number {n} nests by the reservoir.\n"),
        );
    }
}

/// Embeds every pending chunk, `batch` at a time, as the daemon's worker does.
fn drain(index: &mut MemoryIndex, embedder: &HashEmbedder, batch: usize) -> Vec<i64> {
    let mut order = Vec::new();
    loop {
        let pending = index.pending_chunks(batch).unwrap();
        if pending.is_empty() {
            return order;
        }
        let inputs: Vec<&str> = pending.iter().map(|chunk| chunk.input.as_str()).collect();
        let vectors = embedder.embed(&inputs).unwrap();
        let stored = index.store_chunk_vectors(&pending, &vectors).unwrap();
        assert_eq!(stored, pending.len());
        order.extend(pending.iter().map(|chunk| chunk.id));
    }
}

#[test]
fn keyword_first_then_every_chunk_gets_its_vector() {
    let dir = tempfile::tempdir().unwrap();
    workspace(dir.path());
    let embedder = Arc::new(HashEmbedder::new("hash-64", 64));
    let mut index = open(dir.path(), &embedder);

    let report = index.ensure_fresh().unwrap();
    assert_eq!(report.files_indexed, 12);
    assert_eq!(
        embedder.count(),
        0,
        "a keyword-first reindex called the model"
    );
    assert_eq!(index.pending_chunk_count().unwrap(), 12);
    let hits = index
        .search("heron reservoir", SearchOptions::default())
        .unwrap();
    assert!(
        !hits.results.is_empty(),
        "keyword search does not work before embedding"
    );

    drain(&mut index, &embedder, 5);
    assert_eq!(index.pending_chunk_count().unwrap(), 0);
    assert_eq!(index.stats().unwrap().embedded_chunks, 12);
    let vector = index
        .search(
            "heron number 7",
            SearchOptions {
                mode: SearchMode::Vector,
                ..SearchOptions::default()
            },
        )
        .unwrap();
    assert!(
        vector.results[0].path.contains("topic-07"),
        "{:?}",
        vector.results
    );

    // The index is complete: a reindex that embeds by itself has nothing to do.
    index.set_embed_later(false);
    let before = embedder.count();
    index.ensure_fresh().unwrap();
    assert_eq!(embedder.count(), before);
}

#[test]
fn the_newest_files_are_embedded_first() {
    let dir = tempfile::tempdir().unwrap();
    workspace(dir.path());
    let old = SystemTime::now() - Duration::from_secs(86_400);
    for n in 0..12 {
        let path = dir.path().join(format!("ws/knowledge/topic-{n:02}.md"));
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(old + Duration::from_secs(n * 60))
            .unwrap();
    }
    let embedder = Arc::new(HashEmbedder::new("hash-64", 64));
    let mut index = open(dir.path(), &embedder);
    index.ensure_fresh().unwrap();
    let first = index.pending_chunks(1).unwrap();
    assert!(
        first[0].input.contains("Topic 11"),
        "the newest file (topic 11) was not first: {:?}",
        first[0].input
    );
}

#[test]
fn a_vector_for_text_that_changed_meanwhile_is_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    workspace(dir.path());
    let embedder = Arc::new(HashEmbedder::new("hash-64", 64));
    let mut index = open(dir.path(), &embedder);
    index.ensure_fresh().unwrap();

    let pending = index.pending_chunks(100).unwrap();
    let inputs: Vec<&str> = pending.iter().map(|chunk| chunk.input.as_str()).collect();
    let vectors = embedder.embed(&inputs).unwrap();

    // While the worker embeds, a file changes and is reindexed.
    write(
        dir.path(),
        "ws/knowledge/topic-03.md",
        "# Topic 3\n\nThe herons moved to the quarry.\n",
    );
    index.ensure_fresh().unwrap();
    let stored = index.store_chunk_vectors(&pending, &vectors).unwrap();
    assert_eq!(
        stored, 11,
        "the old text's vector was stored for the new chunk"
    );
    let left = index.pending_chunks(100).unwrap();
    assert_eq!(left.len(), 1);
    assert!(left[0].input.contains("quarry"));
    assert_eq!(index.pending_chunk_count().unwrap(), 1);
    drain(&mut index, &embedder, 5);
    assert_eq!(index.pending_chunk_count().unwrap(), 0);
}

#[test]
fn hybrid_search_uses_the_vectors_that_exist() {
    let dir = tempfile::tempdir().unwrap();
    workspace(dir.path());
    let embedder = Arc::new(HashEmbedder::new("hash-64", 64));
    let mut index = open(dir.path(), &embedder);
    index.ensure_fresh().unwrap();
    let some = index.pending_chunks(4).unwrap();
    let inputs: Vec<&str> = some.iter().map(|chunk| chunk.input.as_str()).collect();
    let vectors = embedder.embed(&inputs).unwrap();
    index.store_chunk_vectors(&some, &vectors).unwrap();

    let hybrid = index
        .search("heron reservoir nests", SearchOptions::default())
        .unwrap();
    assert!(!hybrid.results.is_empty());
    let vector = index
        .search(
            "heron reservoir nests",
            SearchOptions {
                mode: SearchMode::Vector,
                limit: 50,
                ..SearchOptions::default()
            },
        )
        .unwrap();
    assert_eq!(
        vector.results.len(),
        4,
        "vector search saw chunks with no vector"
    );
}
