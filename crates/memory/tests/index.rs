//! The index on real SQLite files: incremental reindexing, model changes, search modes and
//! awkward queries.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use localgpt_memory::{Fusion, IndexSettings, MemoryError, MemoryIndex, SearchMode, SearchOptions};
use support::{HashEmbedder, write};

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    write(
        &ws,
        "MEMORY.md",
        "# Home\n\nThe spare house key is under the blue flowerpot.\n",
    );
    write(
        &ws,
        "memory/2026-11-20.md",
        "# Notes\n\nCalled the plumber about the kitchen sink.\n",
    );
    write(
        &ws,
        "knowledge/rust.md",
        "# Rust\n\n## Ownership\n\nEvery value has one owner; borrowing lends access.\n",
    );
    dir
}

fn open(dir: &tempfile::TempDir, embedder: Option<Arc<HashEmbedder>>) -> MemoryIndex {
    let settings = IndexSettings::new(dir.path().join("ws"));
    MemoryIndex::open(
        dir.path().join("state/index.sqlite"),
        settings,
        embedder.map(|e| e as Arc<dyn localgpt_core::embed::Embedder>),
    )
    .unwrap()
}

fn options(mode: SearchMode) -> SearchOptions {
    SearchOptions {
        limit: 5,
        mode,
        recency_half_life_days: None,
        source: None,
    }
}

#[test]
fn keyword_search_finds_files_with_lines_and_headings() {
    let dir = workspace();
    let mut index = open(&dir, None);
    let report = index.reindex(false, &mut |_| {}).unwrap();
    assert_eq!((report.files_seen, report.files_indexed), (3, 3));
    let results = index
        .search("where is the spare key?", SearchOptions::default())
        .unwrap();
    assert_eq!(results.mode, SearchMode::Keyword);
    assert!(
        results
            .note
            .as_deref()
            .unwrap()
            .contains("keyword results only")
    );
    let hit = &results.results[0];
    assert_eq!(hit.path, "MEMORY.md");
    assert_eq!((hit.start_line, hit.end_line), (1, 3));
    assert_eq!(hit.headings, ["Home"]);
    assert!(hit.snippet.contains("**spare**"), "{}", hit.snippet);
    let rust = index
        .search("borrowing", options(SearchMode::Keyword))
        .unwrap();
    assert_eq!(
        rust.results[0].headings,
        ["Rust"],
        "a small file is one chunk under its first heading"
    );
}

#[test]
fn reindex_touches_only_what_changed() {
    let dir = workspace();
    let embedder = Arc::new(HashEmbedder::new("hash-64", 64));
    let mut index = open(&dir, Some(embedder.clone()));
    index.reindex(false, &mut |_| {}).unwrap();
    let first_calls = embedder.count();
    assert_eq!(first_calls, 3);
    let again = index.ensure_fresh().unwrap();
    assert_eq!(again.files_indexed, 0);
    assert_eq!(
        embedder.count(),
        first_calls,
        "nothing changed, nothing embedded"
    );

    let ws = dir.path().join("ws");
    write(
        &ws,
        "memory/2026-11-21.md",
        "# Notes\n\nBought basil seeds.\n",
    );
    std::fs::remove_file(ws.join("knowledge/rust.md")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    write(
        &ws,
        "MEMORY.md",
        "# Home\n\nThe spare house key is under the red flowerpot.\n",
    );
    let report = index.ensure_fresh().unwrap();
    assert_eq!((report.files_indexed, report.files_removed), (2, 1));
    assert_eq!(embedder.count(), first_calls + 2);
    let stats = index.stats().unwrap();
    assert_eq!(
        (stats.files, stats.chunks, stats.embedded_chunks),
        (3, 3, 3)
    );
    assert!(
        index
            .search("borrowing owner", options(SearchMode::Keyword))
            .unwrap()
            .results
            .is_empty()
    );
    assert_eq!(
        index
            .search("red flowerpot", options(SearchMode::Vector))
            .unwrap()
            .results[0]
            .path,
        "MEMORY.md"
    );

    // A rename is a delete plus an add; the moved text comes from the cache.
    std::fs::rename(ws.join("memory/2026-11-21.md"), ws.join("memory/garden.md")).unwrap();
    let report = index.ensure_fresh().unwrap();
    assert_eq!(
        (
            report.files_indexed,
            report.files_removed,
            report.embeddings_computed
        ),
        (1, 1, 0)
    );
}

#[test]
fn touching_a_file_without_changing_it_re_embeds_nothing() {
    let dir = workspace();
    let embedder = Arc::new(HashEmbedder::new("hash-64", 64));
    let mut index = open(&dir, Some(embedder.clone()));
    index.reindex(false, &mut |_| {}).unwrap();
    let before = embedder.count();
    let path = dir.path().join("ws/MEMORY.md");
    let text = std::fs::read_to_string(&path).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&path, text).unwrap();
    let report = index.ensure_fresh().unwrap();
    assert_eq!(report.files_indexed, 0);
    assert_eq!(embedder.count(), before);
}

#[test]
fn changing_the_model_re_embeds_everything_at_the_new_dimension() {
    let dir = workspace();
    let mut index = open(&dir, Some(Arc::new(HashEmbedder::new("hash-64", 64))));
    index.reindex(false, &mut |_| {}).unwrap();
    drop(index);
    let bigger = Arc::new(HashEmbedder::new("hash-128", 128));
    let mut index = open(&dir, Some(bigger.clone()));
    let report = index.reindex(false, &mut |_| {}).unwrap();
    assert_eq!(report.files_indexed, 0, "files did not change");
    assert_eq!(report.embeddings_computed, 3);
    let stats = index.stats().unwrap();
    assert_eq!(stats.embedding_model.as_deref(), Some("hash-128"));
    assert_eq!(stats.embedding_dimension, Some(128));
    assert_eq!(stats.embedded_chunks, 3);
    assert_eq!(
        index
            .search("plumber sink", options(SearchMode::Vector))
            .unwrap()
            .results[0]
            .path,
        "memory/2026-11-20.md"
    );
}

#[test]
fn keyword_only_index_gains_vectors_when_a_model_arrives() {
    let dir = workspace();
    open(&dir, None).reindex(false, &mut |_| {}).unwrap();
    let embedder = Arc::new(HashEmbedder::new("hash-64", 64));
    let mut index = open(&dir, Some(embedder.clone()));
    assert!(matches!(
        index.search("key", options(SearchMode::Vector)),
        Err(MemoryError::NoVectors(_))
    ));
    index.ensure_fresh().unwrap();
    assert_eq!(embedder.count(), 3, "three chunks embedded, nothing else");
    assert_eq!(
        index
            .search("key", options(SearchMode::Hybrid))
            .unwrap()
            .mode,
        SearchMode::Hybrid
    );
}

#[test]
fn awkward_queries_work_or_explain() {
    let dir = workspace();
    let mut index = open(&dir, Some(Arc::new(HashEmbedder::new("hash-64", 64))));
    index.reindex(false, &mut |_| {}).unwrap();
    for query in [
        "\"spare",
        "key AND",
        "NEAR(key, spare)",
        "key*",
        "col:key",
        "spare -key",
        "日本語",
        "'; DROP TABLE chunks; --",
        "^key",
    ] {
        let result = index.search(query, SearchOptions::default());
        assert!(result.is_ok(), "{query}: {result:?}");
    }
    for query in ["", "   ", "!!! ???", "((("] {
        let error = index.search(query, SearchOptions::default()).unwrap_err();
        assert!(
            matches!(error, MemoryError::BadQuery(_)),
            "{query}: {error}"
        );
    }
    assert!(
        index
            .search("blue flowerpot", SearchOptions::default())
            .unwrap()
            .results[0]
            .path
            == "MEMORY.md"
    );
}

#[test]
fn bad_files_are_skipped_with_their_names() {
    let dir = workspace();
    let ws = dir.path().join("ws");
    std::fs::write(ws.join("latin1.md"), b"caf\xe9").unwrap();
    std::fs::write(ws.join("binary.md"), b"\x00\x01\x02").unwrap();
    write(&ws, "empty.md", "");
    let mut index = open(&dir, None);
    let report = index.reindex(false, &mut |_| {}).unwrap();
    let skipped: Vec<String> = report
        .skipped
        .iter()
        .map(|s| format!("{}: {}", s.path.display(), s.reason))
        .collect();
    assert!(
        skipped
            .iter()
            .any(|s| s.contains("latin1.md") && s.contains("not UTF-8")),
        "{skipped:?}"
    );
    assert!(
        skipped
            .iter()
            .any(|s| s.contains("binary.md") && s.contains("binary")),
        "{skipped:?}"
    );
    assert_eq!(
        index.stats().unwrap().files,
        3 + 1,
        "the empty file is indexed with no chunks"
    );
}

#[test]
fn recency_weighting_prefers_recent_daily_logs() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let today = jiff::Zoned::now().date();
    let old = today.checked_sub(jiff::Span::new().days(120)).unwrap();
    write(
        &ws,
        &format!("memory/{old}.md"),
        "dentist appointment booked\n",
    );
    write(
        &ws,
        &format!("memory/{today}.md"),
        "dentist appointment moved\n",
    );
    let mut index =
        MemoryIndex::open(dir.path().join("i.sqlite"), IndexSettings::new(&ws), None).unwrap();
    index.reindex(false, &mut |_| {}).unwrap();
    let recent = index
        .search(
            "dentist appointment",
            SearchOptions {
                recency_half_life_days: Some(30.0),
                source: None,
                ..options(SearchMode::Keyword)
            },
        )
        .unwrap();
    assert_eq!(recent.results[0].path, format!("memory/{today}.md"));
}

#[test]
fn a_new_model_is_not_searched_against_the_old_models_vectors() {
    let dir = workspace();
    open(&dir, Some(Arc::new(HashEmbedder::new("hash-64", 64))))
        .reindex(false, &mut |_| {})
        .unwrap();
    // Same dimension, different model: the stored vectors mean nothing to it until reindexed.
    let index = open(&dir, Some(Arc::new(HashEmbedder::new("other-64", 64))));
    let results = index.search("spare key", SearchOptions::default()).unwrap();
    assert_eq!(results.mode, SearchMode::Keyword);
    assert!(results.note.unwrap().contains("hash-64"));
    assert!(matches!(
        index.search("spare key", options(SearchMode::Vector)),
        Err(MemoryError::NoVectors(_))
    ));
}

#[test]
fn both_fusions_rank_the_obvious_answer_first() {
    let dir = workspace();
    let mut index = open(&dir, Some(Arc::new(HashEmbedder::new("hash-64", 64))));
    index.reindex(false, &mut |_| {}).unwrap();
    assert_eq!(index.fusion(), Fusion::Agreement);
    for fusion in [
        Fusion::Agreement,
        Fusion::Confidence,
        Fusion::ZScore { vector_weight: 0.5 },
        Fusion::ReciprocalRank { k: 60.0 },
        Fusion::MinMax { vector_weight: 0.7 },
    ] {
        index.set_fusion(fusion);
        let results = index
            .search("plumber kitchen sink", SearchOptions::default())
            .unwrap();
        assert_eq!(results.mode, SearchMode::Hybrid);
        assert_eq!(
            results.results[0].path, "memory/2026-11-20.md",
            "{fusion:?}"
        );
        assert!(results.results.windows(2).all(|w| w[0].score >= w[1].score));
    }
}

#[test]
fn ensure_fresh_on_an_unchanged_index_writes_nothing() {
    let dir = workspace();
    let mut index = open(&dir, Some(Arc::new(HashEmbedder::new("hash-64", 64))));
    index.reindex(false, &mut |_| {}).unwrap();
    let before = index.stats().unwrap();
    assert!(before.last_indexed.is_some());
    std::thread::sleep(std::time::Duration::from_millis(5));
    let report = index.ensure_fresh().unwrap();
    assert!(!report.changed_anything());
    let after = index.stats().unwrap();
    assert_eq!(before.last_indexed, after.last_indexed);
    assert_eq!(
        (after.files, after.chunks, after.embedded_chunks),
        (3, 3, 3)
    );
    assert_eq!(after.embedding_model.as_deref(), Some("hash-64"));
    assert!(after.index_bytes > 0);
    // `force` re-chunks everything but every vector comes from the cache.
    let forced = index.reindex(true, &mut |_| {}).unwrap();
    assert_eq!((forced.files_indexed, forced.embeddings_computed), (3, 0));
}

#[test]
fn keyword_index_of_400_small_files_reports_every_file_and_then_has_nothing_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    for n in 0..400 {
        let body: String = (0..20)
            .map(|line| {
                format!(
                    "- item {line} of note {n}: some words about topic {}\n",
                    n % 13
                )
            })
            .collect();
        write(
            &ws,
            &format!("notes/{}/note-{n}.md", n / 50),
            &format!("# Note {n}\n\n## Part\n\n{body}"),
        );
    }
    let mut index =
        MemoryIndex::open(dir.path().join("i.sqlite"), IndexSettings::new(&ws), None).unwrap();
    let mut progress = Vec::new();
    let report = index.reindex(false, &mut |p| progress.push(p)).unwrap();
    assert_eq!(report.files_indexed, 400);
    assert!(matches!(
        progress.last(),
        Some(localgpt_memory::Progress::Files {
            done: 400,
            total: 400
        })
    ));
    // Timing is measured in BENCHMARKS.md (crates/memory/benches), not here.
    let again = index.ensure_fresh().unwrap();
    assert_eq!((again.files_indexed, again.files_removed), (0, 0));
}

#[test]
fn vector_search_sees_changes_made_after_it_first_ran() {
    let dir = workspace();
    let embedder = Arc::new(HashEmbedder::new("hash-64", 64));
    let mut index = open(&dir, Some(embedder.clone()));
    index.reindex(false, &mut |_| {}).unwrap();
    let paths = |index: &MemoryIndex, query: &str| -> Vec<String> {
        index
            .search(query, options(SearchMode::Vector))
            .unwrap()
            .results
            .into_iter()
            .map(|hit| hit.path)
            .collect()
    };
    assert!(!paths(&index, "pelican migration").contains(&"birds.md".to_owned()));
    // A new file indexed through this index, and one indexed by another process.
    write(
        &dir.path().join("ws"),
        "birds.md",
        "# Birds\n\npelican migration\n",
    );
    index.ensure_fresh().unwrap();
    assert_eq!(paths(&index, "pelican migration")[0], "birds.md");
    write(
        &dir.path().join("ws"),
        "fish.md",
        "# Fish\n\nsalmon ladder\n",
    );
    open(&dir, Some(embedder)).ensure_fresh().unwrap();
    assert_eq!(paths(&index, "salmon ladder")[0], "fish.md");
    // And deletions are seen too.
    std::fs::remove_file(dir.path().join("ws/birds.md")).unwrap();
    index.ensure_fresh().unwrap();
    assert!(!paths(&index, "pelican migration").contains(&"birds.md".to_owned()));
}

#[test]
fn words_in_most_chunks_do_not_drown_a_rare_one() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    for number in 0..1_200 {
        write(
            &ws,
            &format!("notes/{number}.md"),
            &format!("# Note {number}\n\nmeeting notes about the project {number}\n"),
        );
    }
    write(
        &ws,
        "notes/odd.md",
        "# Odd\n\nmeeting about the zeppelin hangar\n",
    );
    let mut index = open(&dir, None);
    index.reindex(false, &mut |_| {}).unwrap();
    let top = |query: &str| {
        index
            .search(query, options(SearchMode::Keyword))
            .unwrap()
            .results
            .first()
            .map(|hit| hit.path.clone())
    };
    assert_eq!(
        top("meeting notes zeppelin").as_deref(),
        Some("notes/odd.md")
    );
    // A query made only of common words still finds something.
    assert!(top("meeting notes").is_some());
}

#[test]
fn only_indexed_files_inside_the_roots_can_be_read_back() {
    let dir = workspace();
    let mut index = open(&dir, None);
    index.reindex(false, &mut |_| {}).unwrap();
    let file = index.indexed_file("knowledge/rust.md").unwrap().unwrap();
    assert_eq!(file.path, "knowledge/rust.md");
    assert!(file.text.contains("## Ownership"));
    std::fs::write(dir.path().join("secret.md"), "# Secret\n").unwrap();
    for outside in [
        "../secret.md",
        "ws/../secret.md",
        "/etc/passwd",
        "missing.md",
        "",
    ] {
        assert_eq!(index.indexed_file(outside).unwrap(), None, "{outside}");
    }
    // A file indexed while inside that later becomes a link to the outside is not followed.
    #[cfg(unix)]
    {
        let inside = dir.path().join("ws/knowledge/rust.md");
        std::fs::remove_file(&inside).unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.md"), &inside).unwrap();
        assert_eq!(index.indexed_file("knowledge/rust.md").unwrap(), None);
    }
}
