//! Session transcripts on real files: append-only writing, resume, listing, OpenClaw files, and
//! damaged input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use localgpt_agent::sessions::{EntryBody, SessionError, SessionStore, TranscriptMessage};
use serde_json::json;

fn user(text: &str) -> TranscriptMessage {
    TranscriptMessage::User {
        content: json!(text),
        timestamp: 1,
    }
}

fn assistant(text: &str) -> TranscriptMessage {
    TranscriptMessage::Assistant {
        content: vec![json!({"type": "text", "text": text})],
        provider: "anthropic".into(),
        model: "claude-sonnet-4-5".into(),
        usage: None,
        stop_reason: "stop".into(),
        error_message: None,
        timestamp: 2,
    }
}

#[test]
fn entries_are_appended_and_linked_and_files_only_grow() {
    let dir = tempfile::tempdir().unwrap();
    let store = SessionStore::new(dir.path().join("sessions"));
    let mut writer = store.create(Path::new("/ws")).unwrap();
    let first = writer
        .append_message(user("Where is the spare key?"))
        .unwrap();
    let size_after_first = std::fs::metadata(writer.path()).unwrap().len();
    let second = writer
        .append_message(assistant("Under the blue flowerpot."))
        .unwrap();
    assert!(std::fs::metadata(writer.path()).unwrap().len() > size_after_first);
    let text = std::fs::read_to_string(writer.path()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["type"], "session");
    assert_eq!(lines[0]["version"], 3);
    assert_eq!(lines[1]["parentId"], serde_json::Value::Null);
    assert_eq!(lines[2]["parentId"], first.as_str());
    assert_eq!(lines[2]["id"], second.as_str());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(writer.path())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
}

#[test]
fn resume_by_prefix_continues_the_branch_and_latest_finds_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = SessionStore::new(dir.path());
    let mut writer = store.create(Path::new("/ws")).unwrap();
    writer.append_message(user("first question")).unwrap();
    let id = writer.id().to_owned();
    drop(writer);
    let (mut resumed, transcript) = store.resume(&id[..8]).unwrap();
    assert_eq!(transcript.messages().len(), 1);
    resumed.append_message(assistant("an answer")).unwrap();
    let transcript = store.load(&id).unwrap();
    assert_eq!(
        transcript
            .messages()
            .iter()
            .map(|m| m.text())
            .collect::<Vec<_>>(),
        ["first question", "an answer"]
    );
    assert_eq!(store.latest().unwrap().as_deref(), Some(id.as_str()));
    let listed = store.list().unwrap();
    assert_eq!(listed[0].title, "first question");
    assert_eq!(listed[0].messages, 2);
    assert_eq!(listed[0].model.as_deref(), Some("claude-sonnet-4-5"));
    assert!(
        store
            .load(&id)
            .unwrap()
            .to_markdown()
            .contains("## Assistant (claude-sonnet-4-5)\n\nan answer")
    );
}

#[test]
fn ids_cannot_reach_outside_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = SessionStore::new(dir.path().join("sessions"));
    for bad in ["../secret", "a/b", "", "..", "x.jsonl"] {
        assert!(
            matches!(store.load(bad), Err(SessionError::BadId(_))),
            "{bad}"
        );
    }
    assert!(matches!(
        store.load("deadbeef"),
        Err(SessionError::NotFound(_))
    ));
}

#[test]
fn openclaw_transcripts_load_and_bad_lines_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir
        .path()
        .join("0b1c2d3e-aaaa-bbbb-cccc-000000000001.jsonl");
    std::fs::write(
        &path,
        concat!(
            r#"{"type":"session","version":3,"id":"0b1c2d3e-aaaa-bbbb-cccc-000000000001","timestamp":"2026-01-18T00:19:00.000Z","cwd":"/home/me/.openclaw/workspace"}"#, "\n",
            r#"{"type":"message","id":"a1","parentId":null,"timestamp":"2026-01-18T00:19:01.000Z","message":{"role":"user","content":[{"type":"text","text":"[Telegram +1555] hi"}],"timestamp":1}}"#, "\n",
            "{not json\n",
            r#"{"type":"message","id":"a2","parentId":"a1","timestamp":"2026-01-18T00:19:02.000Z","message":{"role":"assistant","content":[{"type":"text","text":"abandoned branch"}],"timestamp":2}}"#, "\n",
            r#"{"type":"message","id":"a3","parentId":"a1","timestamp":"2026-01-18T00:19:03.000Z","message":{"role":"assistant","content":[{"type":"text","text":"hello"}],"timestamp":3}}"#, "\n",
            r#"{"type":"session_info","id":"a4","parentId":"a3","timestamp":"2026-01-18T00:19:04.000Z","name":"Greeting"}"#, "\n",
        ),
    )
    .unwrap();
    let store = SessionStore::new(dir.path());
    let transcript = store.load("0b1c2d3e").unwrap();
    assert_eq!(transcript.skipped_lines, 1);
    let texts: Vec<String> = transcript.messages().iter().map(|m| m.text()).collect();
    assert_eq!(
        texts,
        ["[Telegram +1555] hi", "hello"],
        "the active branch skips the abandoned reply"
    );
    assert_eq!(store.list().unwrap()[0].title, "Greeting");
    assert!(matches!(
        transcript.entries.last().unwrap().body,
        EntryBody::SessionInfo { .. }
    ));
    std::fs::write(dir.path().join("notes.jsonl"), "{\"type\":\"message\"}\n").unwrap();
    assert!(matches!(
        store.load("notes"),
        Err(SessionError::NotATranscript(_))
    ));
}

#[test]
fn a_recorded_origin_and_a_rename_show_in_the_list_but_not_in_the_conversation() {
    let dir = tempfile::tempdir().unwrap();
    let store = SessionStore::new(dir.path().join("sessions"));
    let mut writer = store.create(Path::new("/work")).unwrap();
    writer.append_origin("job digest").unwrap();
    writer.append_message(user("Summarise yesterday")).unwrap();
    writer.append_message(assistant("Three notes.")).unwrap();
    let id = writer.id().to_owned();
    store.rename(&id, "  Daily digest ").unwrap();
    let listed = store.list().unwrap();
    assert_eq!(listed[0].origin.as_deref(), Some("job digest"));
    assert_eq!(listed[0].title, "Daily digest");
    assert_eq!(listed[0].messages, 2);
    let transcript = store.load(&id).unwrap();
    assert_eq!(transcript.messages().len(), 2);
    // The origin is a Pi `custom` entry, which OpenClaw keeps out of the model's context.
    let raw = std::fs::read_to_string(store.find(&id).unwrap()).unwrap();
    let custom: serde_json::Value = serde_json::from_str(raw.lines().nth(1).unwrap()).unwrap();
    assert_eq!(custom["type"], "custom");
    assert_eq!(custom["customType"], "localgpt.origin");
    // The conversation continues after the rename.
    let (mut resumed, _) = store.resume(&id).unwrap();
    resumed.append_message(user("And today?")).unwrap();
    assert_eq!(store.load(&id).unwrap().messages().len(), 3);
}

#[test]
fn listing_again_sees_every_change_to_a_session() {
    let dir = tempfile::tempdir().unwrap();
    let store = SessionStore::new(dir.path().join("sessions"));
    let mut writer = store.create(Path::new("/work")).unwrap();
    writer.append_message(user("First question")).unwrap();
    let id = writer.id().to_owned();
    let shared = store.clone();
    assert_eq!(store.list().unwrap()[0].messages, 1);
    // Unchanged: the same answer (from the cache the clones share).
    assert_eq!(shared.list().unwrap(), store.list().unwrap());
    writer.append_message(assistant("An answer")).unwrap();
    assert_eq!(shared.list().unwrap()[0].messages, 2);
    store.rename(&id, "Renamed").unwrap();
    assert_eq!(shared.list().unwrap()[0].title, "Renamed");
    store.delete(&id).unwrap();
    assert!(shared.list().unwrap().is_empty());
}
