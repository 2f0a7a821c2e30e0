//! Hybrid ranking under attack, on real SQLite indexes: a file split into dozens of chunks that
//! each repeat a query word, and a flood of decoy files each holding one of its words, try to push
//! the one note that answers the question off the top. Fusion is per file (a file's best chunk
//! speaks for it on each side), so neither many chunks nor many decoys add up to a better match.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use localgpt_memory::{Fusion, IndexSettings, MemoryIndex, SearchMode, SearchOptions};
use support::{HashEmbedder, write};

const FUSIONS: [Fusion; 5] = [
    Fusion::Agreement,
    Fusion::Confidence,
    Fusion::ZScore { vector_weight: 0.5 },
    Fusion::MinMax { vector_weight: 0.5 },
    Fusion::ReciprocalRank { k: 60.0 },
];

const ANSWER: &str = "notes/boiler.md";

fn index_of(dir: &tempfile::TempDir) -> MemoryIndex {
    let mut settings = IndexSettings::new(dir.path().join("ws"));
    settings.chunk_tokens = 48;
    settings.chunk_overlap = 0;
    let mut index = MemoryIndex::open(
        dir.path().join("state/index.sqlite"),
        settings,
        Some(
            Arc::new(HashEmbedder::new("hash-256", 256)) as Arc<dyn localgpt_core::embed::Embedder>
        ),
    )
    .unwrap();
    index.reindex(false, &mut |_| {}).unwrap();
    index
}

fn answer(ws: &std::path::Path) {
    write(
        ws,
        ANSWER,
        "# Boiler\n\nThe boiler service code is 4471; the heating engineer comes every March.\n",
    );
}

fn hybrid(limit: usize) -> SearchOptions {
    SearchOptions {
        limit,
        mode: SearchMode::Hybrid,
        recency_half_life_days: None,
        source: None,
    }
}

/// Each path's hits form one run: no file's chunks are split around another file's.
fn grouped(paths: &[String]) -> bool {
    let mut finished: Vec<&String> = Vec::new();
    for (at, path) in paths.iter().enumerate() {
        if finished.contains(&path) {
            return false;
        }
        if paths.get(at + 1) != Some(path) {
            finished.push(path);
        }
    }
    true
}

#[test]
fn a_file_of_many_chunks_repeating_query_words_neither_outranks_nor_splits_around_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    answer(&ws);
    // Forty sections, each a chunk with one or two of the question's words amid filler.
    let words = ["boiler", "service", "code", "heating", "engineer"];
    let spam: String = (0..40)
        .map(|i| {
            format!(
                "## Part {i}\n\n{} {} ledger orchard violet compass harbour lantern meadow.\n\n",
                words[i % words.len()],
                words[(i + 1) % words.len()]
            )
        })
        .collect();
    write(&ws, "inbox/pasted.md", &format!("# Pasted\n\n{spam}"));
    for variant in ["ledger", "orchard"] {
        write(
            &ws,
            &format!("notes/{variant}.md"),
            &format!("# {variant}\n\nA {variant} note about the garden.\n"),
        );
    }
    let mut index = index_of(&dir);
    for fusion in FUSIONS {
        index.set_fusion(fusion);
        for query in [
            "boiler service code",
            "what is the boiler service code for the heating engineer?",
            "heating engineer boiler",
        ] {
            let results = index.search(query, hybrid(20)).unwrap();
            assert_eq!(results.mode, SearchMode::Hybrid);
            let paths: Vec<String> = results.results.iter().map(|hit| hit.path.clone()).collect();
            assert_eq!(paths[0], ANSWER, "{fusion:?} {query:?}: {paths:?}");
            assert!(grouped(&paths), "{fusion:?} {query:?}: {paths:?}");
            assert!(
                results
                    .results
                    .windows(2)
                    .all(|w| w[0].score >= w[1].score && w[1].score.is_finite()),
                "{fusion:?} {query:?}"
            );
        }
    }
}

#[test]
fn a_flood_of_decoys_each_holding_one_query_word_cannot_bury_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    answer(&ws);
    // Sixty decoys: a rare query word each (rare words weigh most in BM25), in several spellings
    // and positions, some repeating it.
    let words = ["boiler", "Boiler", "BOILER", "4471", "engineer", "March"];
    for i in 0..60 {
        let word = words[i % words.len()];
        let repeat = if i % 3 == 0 {
            format!(" {word} {word}")
        } else {
            String::new()
        };
        write(
            &ws,
            &format!("decoys/{i:02}.md"),
            &format!("# Decoy {i}\n\n{word}{repeat} ledger orchard violet compass {i}.\n"),
        );
    }
    let mut index = index_of(&dir);
    for fusion in FUSIONS {
        index.set_fusion(fusion);
        for query in [
            "boiler service code 4471",
            "when does the heating engineer come for the boiler?",
        ] {
            let results = index.search(query, hybrid(10)).unwrap();
            let paths: Vec<&str> = results
                .results
                .iter()
                .map(|hit| hit.path.as_str())
                .collect();
            assert_eq!(paths[0], ANSWER, "{fusion:?} {query:?}: {paths:?}");
            assert_eq!(
                paths.iter().filter(|path| **path == ANSWER).count(),
                1,
                "{paths:?}"
            );
        }
    }
}
