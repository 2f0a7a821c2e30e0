//! Torn and damaged transcripts against the real session store: a last line cut at every byte
//! (inside a multi-byte character too) is set aside and the next entry starts clean; bad bytes and
//! bad lines in the middle hide nothing else.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use localgpt_agent::runtime::{TurnTrust, transcript};
use localgpt_agent::sessions::{SessionStore, read_transcript, torn_path};

/// A transcript with a header and `entries` complete message lines.
fn transcript_lines(id: &str, entries: usize) -> Vec<String> {
    let mut lines = vec![format!(
        r#"{{"type":"session","version":3,"id":"{id}","timestamp":"2026-01-01T00:00:00.000Z","cwd":"/"}}"#
    )];
    let mut parent = "null".to_owned();
    for n in 0..entries {
        let role = if n % 2 == 0 { "user" } else { "assistant" };
        let content = if role == "user" {
            format!(r#""question {n}: é€😀""#)
        } else {
            format!(r#"[{{"type":"text","text":"answer {n} ✓"}}]"#)
        };
        lines.push(format!(
            r#"{{"type":"message","id":"e{n}","parentId":{parent},"timestamp":"2026-01-01T00:00:00.000Z","message":{{"role":"{role}","content":{content},"timestamp":0}}}}"#
        ));
        parent = format!("\"e{n}\"");
    }
    lines
}

#[test]
fn a_torn_last_line_is_set_aside_at_every_cut_and_the_next_entry_starts_clean() {
    let dir = tempfile::tempdir().unwrap();
    let sessions = dir.path().join("sessions");
    std::fs::create_dir_all(&sessions).unwrap();
    let store = SessionStore::new(&sessions);
    let lines = transcript_lines("torn", 3);
    let complete = format!("{}\n", lines[..3].join("\n"));
    let last = lines[3].as_bytes();
    let path = sessions.join("torn.jsonl");
    for cut in 0..=last.len() {
        let _ = std::fs::remove_file(torn_path(&path));
        let mut bytes = complete.clone().into_bytes();
        bytes.extend_from_slice(&last[..cut]);
        std::fs::write(&path, &bytes).unwrap();

        // Reading never fails and never shows the torn line.
        let listed = store.list().unwrap();
        assert_eq!(listed.len(), 1, "cut {cut}");
        let whole = cut == last.len();
        assert_eq!(listed[0].messages, if whole { 3 } else { 2 }, "cut {cut}");

        let (mut writer, saved) = store.resume("torn").unwrap();
        assert_eq!(saved.entries.len(), if whole { 3 } else { 2 }, "cut {cut}");
        writer
            .append_user(
                transcript::user_message("after the crash"),
                &TurnTrust::Owner,
            )
            .unwrap();
        drop(writer);
        let repaired = std::fs::read(&path).unwrap();
        assert!(repaired.starts_with(complete.as_bytes()), "cut {cut}");
        let reread = read_transcript(&path).unwrap();
        assert_eq!(reread.skipped_lines, 0, "cut {cut}");
        let texts: Vec<String> = reread.messages().iter().map(|m| m.text()).collect();
        assert_eq!(texts.last().unwrap(), "after the crash", "cut {cut}");
        assert_eq!(texts.len(), if whole { 4 } else { 3 }, "cut {cut}");
        let torn = std::fs::read(torn_path(&path)).unwrap_or_default();
        if cut == 0 || whole {
            assert!(torn.is_empty(), "cut {cut}");
        } else {
            assert!(torn.starts_with(&last[..cut]), "cut {cut}: torn bytes kept");
        }
    }
}

#[test]
fn bad_bytes_and_bad_lines_in_the_middle_hide_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let sessions = dir.path().join("sessions");
    std::fs::create_dir_all(&sessions).unwrap();
    let store = SessionStore::new(&sessions);
    let lines = transcript_lines("middle", 4);
    // A multi-byte character cut in the middle of a line, then a line of garbage.
    let mut bytes = format!("{}\n{}\n{}\n", lines[0], lines[1], lines[2]).into_bytes();
    let mut cut_char = lines[3].clone().into_bytes();
    let euro = cut_char
        .windows(3)
        .position(|window| window == "€".as_bytes())
        .unwrap();
    cut_char.remove(euro + 2);
    bytes.extend_from_slice(&cut_char);
    bytes.extend_from_slice(b"\n\xff\xfe not json at all {\n");
    bytes.extend_from_slice(format!("{}\n", lines[4]).as_bytes());
    std::fs::write(sessions.join("middle.jsonl"), &bytes).unwrap();
    // A file that is nothing but noise, and one with a torn header.
    std::fs::write(sessions.join("noise.jsonl"), b"\xff\xfe\x00garbage").unwrap();
    std::fs::write(sessions.join("half.jsonl"), &lines[0].as_bytes()[..20]).unwrap();

    let listed = store.list().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].id, "middle");
    let saved = store.load("middle").unwrap();
    assert_eq!(saved.skipped_lines, 1);
    let texts: Vec<String> = saved.messages().iter().map(|m| m.text()).collect();
    assert_eq!(texts.len(), 4, "{texts:?}");
    assert!(texts[2].contains("question 2"), "{texts:?}");
    assert!(texts[2].contains('\u{fffd}'), "{texts:?}");
    assert!(store.load("noise").is_err());
}
