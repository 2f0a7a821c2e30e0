//! Recall lines embedded ahead of time: the index lists every line active recall would weigh
//! whose vector is not cached (each once, whole chunks, newest first, across pages), stops
//! listing it once its vector is kept, lists only new lines after an edit, and a vector kept
//! this way is what `embed_texts` finds for the same line — no second embedding.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;

use localgpt_core::embed::Embedder;
use localgpt_memory::recall_lines::{compared_text, recall_statement};
use localgpt_memory::{IndexSettings, MemoryIndex};
use support::{HashEmbedder, write};

fn open(root: &std::path::Path, embedder: Option<Arc<HashEmbedder>>) -> MemoryIndex {
    let mut index = MemoryIndex::open(
        root.join("index.sqlite"),
        IndexSettings::new(root.join("ws")),
        embedder.map(|model| model as Arc<dyn localgpt_core::embed::Embedder>),
    )
    .unwrap();
    index.ensure_fresh().unwrap();
    index
}

/// Every text listed, paging with `page` texts at a time.
fn all_uncached(index: &MemoryIndex, page: usize) -> Vec<String> {
    let mut before = i64::MAX;
    let mut texts = Vec::new();
    loop {
        let batch = index.uncached_recall_lines(before, page).unwrap().unwrap();
        texts.extend(batch.texts);
        match batch.next_before {
            Some(next) => before = next,
            None => return texts,
        }
    }
}

fn workspace(root: &std::path::Path) {
    write(
        root,
        "ws/memory/2026-11-30.md",
        "# Monday\n\n- The spare key is under the blue flowerpot.\n- ok\n- [ ] Call the plumber about the leak\n",
    );
    write(
        root,
        "ws/MEMORY.md",
        "# Memory\n\n1. My bike lock code is 4417.\n2. The spare key is under the blue flowerpot.\n",
    );
    let long = format!("Notes: {}", "word ".repeat(80));
    write(root, "ws/knowledge/long.md", &format!("{long}\n"));
    for n in 0..40 {
        write(
            root,
            &format!("ws/knowledge/topic-{n:02}.md"),
            &format!("# Topic {n}\n\nFact number {n} about topic {n}.\n"),
        );
    }
}

#[test]
fn every_uncached_line_is_listed_once_across_pages() {
    let dir = tempfile::tempdir().unwrap();
    workspace(dir.path());
    let index = open(dir.path(), Some(Arc::new(HashEmbedder::new("hash-64", 64))));

    let whole = all_uncached(&index, 10_000);
    let paged = all_uncached(&index, 3);
    let unique: BTreeSet<&String> = whole.iter().collect();
    assert_eq!(unique.len(), whole.len(), "a text listed twice: {whole:?}");
    let paged_set: BTreeSet<&String> = paged.iter().collect();
    assert_eq!(unique, paged_set, "paging lost or added lines");

    assert!(whole.contains(&"The spare key is under the blue flowerpot.".to_owned()));
    assert!(whole.contains(&"Call the plumber about the leak".to_owned()));
    assert!(whole.contains(&"My bike lock code is 4417.".to_owned()));
    assert!(
        whole.contains(&"Monday".to_owned()),
        "headings are weighed as text"
    );
    assert!(!whole.iter().any(|text| text == "ok"), "too short to weigh");
    let long = whole
        .iter()
        .find(|text| text.starts_with("Notes:"))
        .unwrap();
    assert_eq!(
        long.chars().count(),
        200,
        "compared by its first 200 characters"
    );
    // 40 topics × (heading + fact) + the notes above.
    assert!(whole.len() >= 80, "{}", whole.len());
}

#[test]
fn kept_vectors_are_what_recall_finds_and_only_new_lines_are_listed_after_an_edit() {
    let dir = tempfile::tempdir().unwrap();
    workspace(dir.path());
    let embedder = Arc::new(HashEmbedder::new("hash-64", 64));
    let mut index = open(dir.path(), Some(Arc::clone(&embedder)));

    let texts = all_uncached(&index, 10_000);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let vectors = embedder.embed(&refs).unwrap();
    index.cache_vectors(&texts, &vectors).unwrap();
    assert_eq!(all_uncached(&index, 10_000), Vec::<String>::new());

    // Recall compares a line by `compared_text(recall_statement(line))`: that text is cached now,
    // so comparing it embeds nothing.
    let line = "- [ ] Call the plumber about the leak";
    let compared = compared_text(&recall_statement(line).unwrap());
    let before = embedder.count();
    let found = index.embed_texts(&[&compared]).unwrap().unwrap();
    assert_eq!(embedder.count(), before, "a kept line was embedded again");
    assert_eq!(found[0], embedder.embed(&[&compared]).unwrap()[0]);

    write(
        dir.path(),
        "ws/memory/2026-11-30.md",
        "# Monday\n\n- The spare key is under the blue flowerpot.\n- The boiler was serviced on Friday.\n",
    );
    index.ensure_fresh().unwrap();
    assert_eq!(
        all_uncached(&index, 10_000),
        vec!["The boiler was serviced on Friday.".to_owned()]
    );
}

#[test]
fn without_an_embedding_model_there_is_nothing_to_list() {
    let dir = tempfile::tempdir().unwrap();
    workspace(dir.path());
    let index = open(dir.path(), None);
    assert_eq!(index.uncached_recall_lines(i64::MAX, 10).unwrap(), None);
    index
        .cache_vectors(&["x".to_owned()], &[vec![1.0]])
        .unwrap();
}

#[test]
fn a_searched_question_is_embedded_once_and_not_kept() {
    let dir = tempfile::tempdir().unwrap();
    workspace(dir.path());
    let embedder = Arc::new(HashEmbedder::new("hash-64", 64));
    let index = open(dir.path(), Some(Arc::clone(&embedder)));
    let question = "where is the spare key";
    index
        .search(question, localgpt_memory::SearchOptions::default())
        .unwrap();
    let before = embedder.count();
    index.embed_texts(&[question]).unwrap();
    assert_eq!(embedder.count(), before, "the question was embedded twice");
    // Questions are not written to the on-disk cache: a fresh handle embeds it again.
    drop(index);
    let index = open(dir.path(), Some(Arc::clone(&embedder)));
    let before = embedder.count();
    index.embed_texts(&[question]).unwrap();
    assert_eq!(embedder.count(), before + 1);
}
