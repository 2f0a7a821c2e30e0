//! Session transcripts of OpenClaw 2026.7 and later, which keeps them in each agent's SQLite
//! database (`agents/<id>/agent/openclaw-agent.sqlite`, table `transcript_events` holding the same
//! Pi JSON lines). The database is opened immutable — nothing in or beside it is touched, which
//! also means events a running OpenClaw still holds in its write-ahead log are not seen: stop
//! OpenClaw first — and each session is written out as the JSONL file LocalGPT (and older
//! OpenClaw) reads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rusqlite::{Connection, OpenFlags};

/// One session rebuilt from the database.
#[derive(Debug)]
pub struct StoredSession {
    /// The database it came from.
    pub database: PathBuf,
    /// Its id (the file name LocalGPT gives it).
    pub id: String,
    /// Its JSONL text.
    pub text: String,
}

/// Every agent database under `root`.
pub fn databases(root: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(root.join("agents"))
        .map(|agents| {
            agents
                .flatten()
                .map(|agent| agent.path().join("agent/openclaw-agent.sqlite"))
                .filter(|path| path.is_file())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// The sessions of one database, each as JSONL with its `session` header first.
pub fn read(database: &Path) -> anyhow::Result<Vec<StoredSession>> {
    let uri = format!("file:{}?immutable=1", database.display());
    let connection = Connection::open_with_flags(
        &uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
    )
    .with_context(|| format!("opening {} read-only", database.display()))?;
    let has_table: bool = connection
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'transcript_events'",
            [],
            |row| row.get::<_, i64>(0),
        )
        .map(|count| count > 0)
        .with_context(|| format!("reading {}", database.display()))?;
    if !has_table {
        return Ok(Vec::new());
    }
    let mut statement = connection
        .prepare("SELECT session_id, event_json FROM transcript_events ORDER BY session_id, seq")
        .with_context(|| format!("reading {}", database.display()))?;
    let rows = statement
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })
        .with_context(|| format!("reading {}", database.display()))?;
    let mut sessions: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in rows {
        let (id, event) = row.with_context(|| format!("reading {}", database.display()))?;
        sessions.entry(id).or_default().push(event);
    }
    Ok(sessions
        .into_iter()
        // Ids name files: anything but a plain id is left in the database.
        .filter(|(id, _)| {
            !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .map(|(id, events)| {
            let mut lines = Vec::with_capacity(events.len() + 1);
            let has_header = events
                .first()
                .and_then(|line| serde_json::from_str::<serde_json::Value>(line).ok())
                .is_some_and(|first| first["type"] == "session");
            if !has_header {
                let started = events
                    .first()
                    .and_then(|line| serde_json::from_str::<serde_json::Value>(line).ok())
                    .and_then(|first| first["timestamp"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                lines.push(
                    serde_json::json!({
                        "type": "session", "version": 3, "id": id,
                        "timestamp": started, "cwd": "",
                    })
                    .to_string(),
                );
            }
            lines.extend(events.into_iter().map(|line| line.trim_end().to_owned()));
            StoredSession {
                database: database.to_owned(),
                text: lines.join("\n") + "\n",
                id,
            }
        })
        .collect())
}
