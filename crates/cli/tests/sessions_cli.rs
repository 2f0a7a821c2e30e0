//! `localgpt sessions …` on transcripts written by the session store.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::localgpt;
use localgpt_agent::sessions::{SessionStore, TranscriptMessage};
use predicates::prelude::*;

fn saved_session(home: &Path) -> String {
    let store = SessionStore::new(home.join("state/sessions"));
    let mut writer = store.create(&home.join("workspace")).unwrap();
    writer
        .append_message(TranscriptMessage::User {
            content: serde_json::json!("What is in MEMORY.md?"),
            timestamp: 1,
        })
        .unwrap();
    writer
        .append_message(TranscriptMessage::Assistant {
            content: vec![serde_json::json!({"type": "text", "text": "Your notes."})],
            provider: "local".into(),
            model: "smollm2-135m".into(),
            usage: None,
            stop_reason: "stop".into(),
            error_message: None,
            timestamp: 2,
        })
        .unwrap();
    writer.id().to_owned()
}

#[test]
fn list_show_export_and_delete() {
    let home = tempfile::tempdir().unwrap();
    localgpt(home.path())
        .args(["sessions", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("No saved sessions"));
    let id = saved_session(home.path());
    localgpt(home.path())
        .args(["sessions", "list"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains(&id[..8])
                .and(predicate::str::contains("What is in MEMORY.md?")),
        );
    localgpt(home.path())
        .args(["sessions", "show", &id[..8]])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("## You\n\nWhat is in MEMORY.md?")
                .and(predicate::str::contains("Your notes.")),
        );
    let out = home.path().join("export.md");
    localgpt(home.path())
        .args(["sessions", "export", &id, "-o", out.to_str().unwrap()])
        .assert()
        .success();
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .contains("## Assistant (smollm2-135m)")
    );
    localgpt(home.path())
        .args(["sessions", "rm", &id])
        .assert()
        .success();
    localgpt(home.path())
        .args(["sessions", "show", &id])
        .assert()
        .failure()
        .stderr(predicate::str::contains("no session"));
    localgpt(home.path())
        .args(["sessions", "show", "../../etc/passwd"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("not a session id"));
}
