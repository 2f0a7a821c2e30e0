//! `localgpt memory …` end to end on a temp workspace (keyword-only: no embedding model).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::localgpt;
use predicates::prelude::*;

fn home_with_notes() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    localgpt(home.path())
        .args(["config", "init"])
        .assert()
        .success();
    localgpt(home.path())
        .args(["config", "set", "memory.embedding", "none"])
        .assert()
        .success();
    let ws = home.path().join("workspace");
    std::fs::write(
        ws.join("MEMORY.md"),
        "# Home\n\nThe spare house key is under the blue flowerpot.\n",
    )
    .unwrap();
    std::fs::write(
        ws.join("memory/2026-11-20.md"),
        "# Notes\n\nCalled the plumber about the kitchen sink.\n",
    )
    .unwrap();
    home
}

#[test]
fn reindex_then_search_and_stats() {
    let home = home_with_notes();
    localgpt(home.path())
        .args(["memory", "reindex"])
        .assert()
        .success()
        .stdout(predicate::str::contains("8 files: 8 indexed"));
    let output = localgpt(home.path())
        .args(["memory", "search", "where is the spare key", "--json"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["mode"], "keyword");
    assert_eq!(json["results"][0]["path"], "MEMORY.md");
    assert_eq!(json["results"][0]["start_line"], 1);
    assert!(
        json["results"][0]["snippet"]
            .as_str()
            .unwrap()
            .contains("**spare**")
    );
    localgpt(home.path())
        .args(["memory", "search", "plumber"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "1. memory/2026-11-20.md:1-3  § Notes",
        ));
    let stats = localgpt(home.path())
        .args(["memory", "stats", "--json"])
        .output()
        .unwrap();
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(stats["files"], 8);
    assert_eq!(stats["embedded_chunks"], 0);
}

#[test]
fn search_refreshes_the_index_first() {
    let home = home_with_notes();
    localgpt(home.path())
        .args(["memory", "reindex"])
        .assert()
        .success();
    std::fs::write(
        home.path().join("workspace/knowledge/boat.md"),
        "The sailboat is moored at pier seven.\n",
    )
    .unwrap();
    localgpt(home.path())
        .args(["memory", "search", "sailboat"])
        .assert()
        .success()
        .stdout(predicate::str::contains("knowledge/boat.md"));
}

#[test]
fn bad_queries_and_missing_vectors_are_explained() {
    let home = home_with_notes();
    localgpt(home.path())
        .args(["memory", "search", "   "])
        .assert()
        .failure()
        .stderr(predicate::str::contains("the search query is empty"));
    localgpt(home.path())
        .args(["memory", "search", "key", "--mode", "vector"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "vector search needs an embedding model",
        ));
    localgpt(home.path())
        .args(["memory", "search", "key", "--mode", "fuzzy"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("unknown search mode `fuzzy`"));
}
