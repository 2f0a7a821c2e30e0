//! Keyword search in Chinese, Japanese and Korean on real SQLite files: the CJK set in
//! `tests/data/cjk` (queries of one, two and three or more characters, some mixed with Latin words)
//! must find its notes and nothing for characters no note has; queries that try to smuggle FTS5
//! syntax through CJK text stay plain text; edited and deleted notes leave no stale matches; and an
//! index written before CJK search existed is migrated and searchable without a reindex.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};

use localgpt_memory::{IndexSettings, MemoryIndex, SearchMode, SearchOptions};
use support::{HashEmbedder, write};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/cjk")
}

/// A workspace holding every note of the CJK set under `memory/`.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(data().join("notes")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        write(
            &dir.path().join("ws"),
            &format!("memory/{name}"),
            &std::fs::read_to_string(&path).unwrap(),
        );
    }
    dir
}

fn open(dir: &tempfile::TempDir) -> MemoryIndex {
    MemoryIndex::open(
        dir.path().join("state/index.sqlite"),
        IndexSettings::new(dir.path().join("ws")),
        None,
    )
    .unwrap()
}

fn keyword(limit: usize) -> SearchOptions {
    SearchOptions {
        limit,
        mode: SearchMode::Keyword,
        recency_half_life_days: None,
        source: None,
    }
}

/// The note stems found for `query`, best first.
fn found(index: &MemoryIndex, query: &str, limit: usize) -> Vec<String> {
    index
        .search(query, keyword(limit))
        .unwrap()
        .results
        .into_iter()
        .map(|hit| {
            Path::new(&hit.path)
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// `(query, relevant note stems)`; an empty list means nothing may be found.
fn queries() -> Vec<(String, Vec<String>)> {
    std::fs::read_to_string(data().join("queries.tsv"))
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (query, relevant) = line.split_once('\t').unwrap();
            let relevant = if relevant == "-" {
                Vec::new()
            } else {
                relevant.split(',').map(str::to_owned).collect()
            };
            (query.to_owned(), relevant)
        })
        .collect()
}

#[test]
fn every_query_of_the_cjk_set_finds_its_notes_in_the_top_five() {
    let dir = workspace();
    let mut index = open(&dir);
    index.reindex(false, &mut |_| {}).unwrap();
    let (mut wanted, mut got, mut failures) = (0, 0, Vec::new());
    let set = queries();
    assert!(set.len() >= 40, "the set has its queries");
    for (query, relevant) in &set {
        let top = found(&index, query, 5);
        if relevant.is_empty() {
            if !top.is_empty() {
                failures.push(format!("{query}: expected nothing, got {top:?}"));
            }
            continue;
        }
        wanted += relevant.len();
        let hits = relevant.iter().filter(|note| top.contains(note)).count();
        got += hits;
        if hits < relevant.len() {
            failures.push(format!("{query}: wanted {relevant:?}, got {top:?}"));
        }
        // The first result is a relevant note.
        if !top.first().is_some_and(|first| relevant.contains(first)) {
            failures.push(format!("{query}: first result {top:?} is not relevant"));
        }
    }
    println!(
        "CJK set recall@5: {got}/{wanted} = {:.3}",
        got as f64 / wanted as f64
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn one_two_and_three_character_queries_mixed_with_latin() {
    let dir = workspace();
    let mut index = open(&dir);
    index.reindex(false, &mut |_| {}).unwrap();
    for (query, note) in [
        ("鍵", "ja-01"),
        ("钥匙", "zh-01"),
        ("植木鉢", "ja-01"),
        ("我的备用钥匙", "zh-01"),
        ("열쇠", "ko-01"),
        ("Alice 谈判", "zh-07"),
        ("Bob 締め切り", "ja-06"),
        ("Carol 예산", "ko-05"),
    ] {
        let top = found(&index, query, 3);
        assert_eq!(
            top.first().map(String::as_str),
            Some(note),
            "{query}: {top:?}"
        );
    }
    // Characters that are in the notes, but not next to each other, are not a two-character word.
    assert!(found(&index, "钥花", 5).is_empty());
    // A character no note has finds nothing, alone or inside a run of known ones.
    assert!(found(&index, "龍", 5).is_empty());
    // English search still works beside the CJK notes, and a snippet marks the CJK word.
    assert_eq!(found(&index, "flowerpot", 5), ["en-01"]);
    let hit = &index.search("花盆", keyword(1)).unwrap().results[0];
    assert!(hit.snippet.contains("**花盆**"), "{}", hit.snippet);
}

#[test]
fn fts_syntax_inside_cjk_queries_is_read_as_text() {
    let dir = workspace();
    let mut index = open(&dir);
    index.reindex(false, &mut |_| {}).unwrap();
    // Column filters, phrase quotes, NEAR, prefix stars and boolean words: none may match every
    // note, read another column on purpose, or make SQLite fail.
    for query in [
        "chars : 鍵",
        "grams:钥匙",
        "\"钥匙\" OR *",
        "钥匙\" OR chars : \"龍",
        "NEAR(钥匙 花盆)",
        "鯨*",
        "{grams chars}: 龍",
        "龍 AND NOT 鯨",
        "^鯨",
        "- 龍 -",
    ] {
        let result = index.search(query, keyword(50));
        let top = match result {
            Ok(results) => results.results,
            Err(error) => panic!("{query}: {error}"),
        };
        assert!(top.len() < 5, "{query} matched {} notes", top.len());
    }
    assert!(found(&index, "龍 AND NOT 鯨", 50).is_empty());
    assert!(found(&index, "\"鯨\" OR *", 50).is_empty());
    // A pasted CJK paragraph is a bounded query, not an error.
    let long = "我的备用钥匙藏在蓝色花盆下面".repeat(400);
    assert_eq!(
        found(&index, &long, 3).first().map(String::as_str),
        Some("zh-01")
    );
}

#[test]
fn edited_and_deleted_notes_leave_no_stale_cjk_matches() {
    let dir = workspace();
    let mut index = open(&dir);
    index.reindex(false, &mut |_| {}).unwrap();
    assert_eq!(found(&index, "钥匙", 5), ["zh-01"]);
    write(
        &dir.path().join("ws"),
        "memory/zh-01.md",
        "我把雨伞放在门口了。\n",
    );
    std::fs::remove_file(dir.path().join("ws/memory/ja-01.md")).unwrap();
    index.reindex(false, &mut |_| {}).unwrap();
    assert!(found(&index, "钥匙", 5).is_empty());
    assert!(found(&index, "植木鉢", 5).is_empty());
    assert_eq!(found(&index, "雨伞", 5), ["zh-01"]);
    // A forced rebuild keeps exactly one CJK row per CJK chunk.
    index.reindex(true, &mut |_| {}).unwrap();
    let connection = rusqlite::Connection::open(dir.path().join("state/index.sqlite")).unwrap();
    let rows: i64 = connection
        .query_row("SELECT count(*) FROM chunks_cjk", [], |row| row.get(0))
        .unwrap();
    assert_eq!(rows, 23, "24 CJK notes, one deleted, one chunk each");
}

#[test]
fn an_index_from_before_cjk_search_is_migrated_and_searchable() {
    let dir = workspace();
    let path = dir.path().join("state/index.sqlite");
    {
        let mut index = open(&dir);
        index.reindex(false, &mut |_| {}).unwrap();
    }
    // Make the file look like one written by the previous schema: no CJK table, version 1.
    {
        let connection = rusqlite::Connection::open(&path).unwrap();
        connection
            .execute_batch(
                "DROP TABLE chunks_cjk; DELETE FROM meta WHERE key = 'cjk_backfill';
                 UPDATE meta SET value = '1' WHERE key = 'schema_version';
                 PRAGMA user_version = 1;",
            )
            .unwrap();
    }
    let index = open(&dir);
    assert_eq!(found(&index, "钥匙", 5), ["zh-01"]);
    assert_eq!(found(&index, "열쇠", 5), ["ko-01"]);
    let connection = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = connection
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, localgpt_memory::SCHEMA_VERSION);
    let pending: i64 = connection
        .query_row(
            "SELECT count(*) FROM meta WHERE key = 'cjk_backfill'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(pending, 0, "the backfill finished and cleared its request");
}

#[test]
fn hybrid_search_keeps_a_lone_cjk_keyword_match_first() {
    // The vectors of a model that knows no CJK are noise on these notes: the one note that
    // holds the word must still come first when both rankings are fused.
    let dir = workspace();
    let embedder: std::sync::Arc<dyn localgpt_core::embed::Embedder> =
        std::sync::Arc::new(HashEmbedder::new("hash-64", 64));
    let mut index = MemoryIndex::open(
        dir.path().join("state/index.sqlite"),
        IndexSettings::new(dir.path().join("ws")),
        Some(embedder),
    )
    .unwrap();
    index.reindex(false, &mut |_| {}).unwrap();
    for (query, note) in [
        ("钥匙", "zh-01"),
        ("鍵", "ja-01"),
        ("열쇠", "ko-01"),
        ("植木鉢", "ja-01"),
    ] {
        let results = index.search(query, SearchOptions::default()).unwrap();
        assert_eq!(results.mode, SearchMode::Hybrid);
        assert!(
            results.results[0].path.ends_with(&format!("{note}.md")),
            "{query}: {:?}",
            results
                .results
                .iter()
                .map(|hit| &hit.path)
                .collect::<Vec<_>>()
        );
    }
}
