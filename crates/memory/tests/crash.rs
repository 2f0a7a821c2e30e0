//! `kill -9` in the middle of a reindex must leave an index that the next run repairs to exactly
//! the state a clean build gives. The test re-runs its own binary as the child that gets killed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use localgpt_core::embed::Embedder;
use localgpt_memory::{IndexSettings, MemoryIndex};
use support::{HashEmbedder, write};

const CHILD_ENV: &str = "LOCALGPT_CRASH_TEST_CHILD";

fn build_workspace(root: &Path) {
    for n in 0..1500 {
        let body: String = (0..12)
            .map(|line| {
                format!(
                    "Note {n} line {line}: alpha{} beta{} gamma{}\n",
                    n % 17,
                    line,
                    (n * line) % 31
                )
            })
            .collect();
        write(
            root,
            &format!("notes/{:03}/note-{n}.md", n / 100),
            &format!("# Note {n}\n\n{body}"),
        );
    }
}

fn open(index: &Path, workspace: &Path, delay: Duration) -> MemoryIndex {
    let embedder: Arc<dyn Embedder> = Arc::new(HashEmbedder {
        delay,
        ..HashEmbedder::new("hash-32", 32)
    });
    MemoryIndex::open(index, IndexSettings::new(workspace), Some(embedder)).unwrap()
}

/// Every chunk row with its text and whether it has a vector, sorted.
fn contents(index: &Path) -> Vec<(String, i64, i64, String, bool)> {
    let connection = rusqlite::Connection::open(index).unwrap();
    let integrity: String = connection
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let mut statement = connection
        .prepare("SELECT f.path, c.start_line, c.end_line, c.text, v.chunk_id IS NOT NULL FROM chunks c JOIN files f ON f.id = c.file_id LEFT JOIN chunk_vectors v ON v.chunk_id = c.id")
        .unwrap();
    let mut rows: Vec<_> = statement
        .query_map([], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rows.sort();
    let fts: i64 = connection
        .query_row("SELECT count(*) FROM chunks_fts", [], |row| row.get(0))
        .unwrap();
    assert_eq!(fts as usize, rows.len(), "FTS rows match chunk rows");
    rows
}

/// Not a test of its own: the child process that the test below starts and kills.
#[test]
#[ignore = "run only as the child of kill_during_reindex_is_repaired_by_the_next_run"]
fn crash_child_reindex() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let dir = Path::new(&dir);
    // Slow enough (about 2 s in all) that the parent's kills land mid-run.
    let mut index = open(
        &dir.join("index.sqlite"),
        &dir.join("ws"),
        Duration::from_millis(40),
    );
    index.reindex(false, &mut |_| {}).unwrap();
}

#[test]
fn kill_during_reindex_is_repaired_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let workspace = dir.path().join("ws");
    build_workspace(&workspace);
    let clean = dir.path().join("clean.sqlite");
    open(&clean, &workspace, Duration::ZERO)
        .reindex(false, &mut |_| {})
        .unwrap();
    let expected = contents(&clean);

    let mut killed_mid_run = 0;
    // (kill after, whether the index was first built keyword-only so that the child spends its
    // run filling in missing vectors rather than writing files)
    let attempts = [
        (60u64, false),
        (250, false),
        (700, false),
        (1200, false),
        (500, true),
        (1100, true),
    ];
    for (attempt, (delay_ms, keyword_first)) in attempts.into_iter().enumerate() {
        let crashed = dir.path().join("index.sqlite");
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", crashed.display()));
        }
        if keyword_first {
            MemoryIndex::open(&crashed, IndexSettings::new(&workspace), None)
                .unwrap()
                .reindex(false, &mut |_| {})
                .unwrap();
        }
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash_child_reindex", "--ignored", "--nocapture"])
            .env(CHILD_ENV, dir.path())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let finished_early = child.try_wait().unwrap().is_some();
        killed_mid_run += usize::from(!finished_early);
        child.kill().ok(); // SIGKILL on Unix
        child.wait().unwrap();
        if !crashed.exists() {
            continue;
        }
        let mut index = open(&crashed, &workspace, Duration::ZERO);
        index.reindex(false, &mut |_| {}).unwrap();
        drop(index);
        assert_eq!(
            contents(&crashed),
            expected,
            "attempt {attempt} (killed after {delay_ms} ms, keyword-only first: {keyword_first}, finished early: {finished_early})"
        );
    }
    assert!(
        killed_mid_run >= 4,
        "only {killed_mid_run} of {} children were killed before finishing",
        attempts.len()
    );
}
