//! The owner's event log: what the background work (heartbeat, jobs) has to tell the owner, one
//! JSON object per line in `state/events.jsonl`. Lines are appended with one write each, so
//! writers in different tasks never interleave; a torn last line (a crash mid-write) is skipped
//! when reading. The API and the web UI read it newest first.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// One entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerEvent {
    /// When it was recorded.
    pub at: Timestamp,
    /// What happened: `heartbeat`, `job`, `job_failed`, `job_timed_out`, `job_missed`, …
    pub kind: String,
    /// What it came from: `heartbeat`, or the job's name.
    pub source: String,
    /// The text for the owner.
    pub text: String,
}

/// Why the log could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("event log {path}: {source}")]
pub struct EventLogError {
    /// The log file.
    pub path: PathBuf,
    /// The OS error.
    pub source: std::io::Error,
}

/// The log file.
#[derive(Debug, Clone)]
pub struct EventLog {
    path: PathBuf,
}

impl EventLog {
    /// The log at `path` (created on the first record).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends an event stamped now and returns it.
    pub fn record(
        &self,
        kind: &str,
        source: &str,
        text: &str,
    ) -> Result<OwnerEvent, EventLogError> {
        let event = OwnerEvent {
            at: Timestamp::now(),
            kind: kind.to_owned(),
            source: source.to_owned(),
            text: text.to_owned(),
        };
        let mut line = serde_json::to_string(&event).map_err(|error| self.error(error.into()))?;
        line.push('\n');
        OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut file| {
                if ends_torn(&mut file)? {
                    line.insert(0, '\n');
                }
                file.write_all(line.as_bytes())
            })
            .map_err(|source| self.error(source))?;
        Ok(event)
    }

    /// The newest `limit` events, newest first (none when the log does not exist yet).
    pub fn recent(&self, limit: usize) -> Result<Vec<OwnerEvent>, EventLogError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(self.error(error)),
        };
        Ok(text
            .lines()
            .rev()
            .filter_map(|line| serde_json::from_str(line).ok())
            .take(limit)
            .collect())
    }

    fn error(&self, source: std::io::Error) -> EventLogError {
        EventLogError {
            path: self.path.clone(),
            source,
        }
    }
}

/// Whether the file's last line lacks its newline (a write cut short by a crash).
fn ends_torn(file: &mut std::fs::File) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    if file.metadata()?.len() == 0 {
        return Ok(false);
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_read_back_newest_first_and_torn_lines_skipped() {
        let folder = tempfile::tempdir().unwrap();
        let log = EventLog::new(folder.path().join("events.jsonl"));
        assert!(log.recent(10).unwrap().is_empty());
        log.record("heartbeat", "heartbeat", "The milk is low.")
            .unwrap();
        log.record("job", "digest", "Three new notes.").unwrap();
        // A crash mid-write leaves half a line behind.
        std::fs::OpenOptions::new()
            .append(true)
            .open(log.path())
            .unwrap()
            .write_all(b"{\"at\":\"2026-")
            .unwrap();
        let events = log.recent(10).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].source, "digest");
        assert_eq!(events[1].text, "The milk is low.");
        // The next record starts on a line of its own.
        log.record("heartbeat", "heartbeat", "After the crash.")
            .unwrap();
        let events = log.recent(10).unwrap();
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].text, "After the crash.");
        assert_eq!(log.recent(1).unwrap().len(), 1);
    }

    #[test]
    fn concurrent_writers_never_interleave_lines() {
        let folder = tempfile::tempdir().unwrap();
        let log = EventLog::new(folder.path().join("events.jsonl"));
        std::thread::scope(|scope| {
            for writer in 0..4 {
                let log = log.clone();
                scope.spawn(move || {
                    for index in 0..50 {
                        log.record("job", &format!("w{writer}"), &"x".repeat(500 + index))
                            .unwrap();
                    }
                });
            }
        });
        assert_eq!(log.recent(1000).unwrap().len(), 200);
    }
}
