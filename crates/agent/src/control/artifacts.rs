//! Artifact storage: what untrusted inputs produced (and other results kept for the owner), as
//! content-addressed files under `state/artifacts/` plus an append-only index recording where each
//! came from. Content is never executed or loaded into a prompt by this store.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use localgpt_core::ingress::{Source, TrustLevel};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Why an artifact could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// File system failure.
    #[error("artifact store {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The id is not a sha256 hex digest (guards the file system from path tricks).
    #[error("`{0}` is not an artifact id (64 hex characters)")]
    BadId(String),
    /// No artifact has this id.
    #[error("no artifact `{0}`")]
    NotFound(String),
}

/// One index record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactRecord {
    /// sha256 of the content, hex.
    pub id: String,
    /// The adapter the input came through.
    pub source: Source,
    /// Its trust.
    pub trust: TrustLevel,
    /// The session it belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// A one-line description for listings.
    pub title: String,
    /// Size in bytes.
    pub bytes: u64,
    /// When it was stored (RFC 3339).
    pub stored_at: String,
}

/// The artifact folder.
#[derive(Debug, Clone)]
pub struct ArtifactStore {
    dir: PathBuf,
}

impl ArtifactStore {
    /// A store over `dir` (normally `state/artifacts`).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Stores `content` and records it; identical content is stored once.
    pub fn put(
        &self,
        content: &[u8],
        source: Source,
        trust: TrustLevel,
        session_id: Option<&str>,
        title: &str,
    ) -> Result<ArtifactRecord, ArtifactError> {
        let id = hex::encode(Sha256::digest(content));
        let path = self.content_path(&id);
        if !path.exists() {
            localgpt_core::fs::write_atomic(&path, content)
                .map_err(|source| io_error(&path, source))?;
        }
        let record = ArtifactRecord {
            id,
            source,
            trust,
            session_id: session_id.map(str::to_owned),
            title: title.chars().take(200).collect(),
            bytes: content.len() as u64,
            stored_at: jiff::Timestamp::now().to_string(),
        };
        let index = self.index_path();
        let mut line = serde_json::to_vec(&record)
            .map_err(|error| io_error(&index, std::io::Error::other(error)))?;
        line.push(b'\n');
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&index)
            .map_err(|source| io_error(&index, source))?;
        file.write_all(&line)
            .map_err(|source| io_error(&index, source))?;
        file.sync_data()
            .map_err(|source| io_error(&index, source))?;
        Ok(record)
    }

    /// Index records, newest first (at most `limit`).
    pub fn list(&self, limit: usize) -> Result<Vec<ArtifactRecord>, ArtifactError> {
        let index = self.index_path();
        let file = match std::fs::File::open(&index) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(io_error(&index, source)),
        };
        let mut records: Vec<ArtifactRecord> = BufReader::new(file)
            .lines()
            .map_while(Result::ok)
            .filter_map(|line| serde_json::from_str(&line).ok())
            .collect();
        records.reverse();
        records.truncate(limit);
        Ok(records)
    }

    /// The content of an artifact.
    pub fn read(&self, id: &str) -> Result<Vec<u8>, ArtifactError> {
        if id.len() != 64
            || !id
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        {
            return Err(ArtifactError::BadId(id.to_owned()));
        }
        let path = self.content_path(id);
        match std::fs::read(&path) {
            Ok(content) => Ok(content),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                Err(ArtifactError::NotFound(id.to_owned()))
            }
            Err(source) => Err(io_error(&path, source)),
        }
    }

    fn content_path(&self, id: &str) -> PathBuf {
        self.dir.join(&id[..2]).join(id)
    }

    fn index_path(&self) -> PathBuf {
        self.dir.join("index.jsonl")
    }
}

fn io_error(path: &Path, source: std::io::Error) -> ArtifactError {
    ArtifactError::Io {
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_addressed_by_hash_and_indexed() {
        let dir = tempfile::tempdir().unwrap();
        let store = ArtifactStore::new(dir.path().join("artifacts"));
        let first = store
            .put(
                b"forwarded text",
                Source::Telegram,
                TrustLevel::UntrustedEvent,
                Some("s1"),
                "from @stranger",
            )
            .unwrap();
        let again = store
            .put(
                b"forwarded text",
                Source::Telegram,
                TrustLevel::UntrustedEvent,
                None,
                "again",
            )
            .unwrap();
        assert_eq!(first.id, again.id);
        assert_eq!(store.read(&first.id).unwrap(), b"forwarded text");
        let listed = store.list(10).unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].title, "again");
        assert_eq!(listed[1].session_id.as_deref(), Some("s1"));
    }

    #[test]
    fn ids_are_checked_before_touching_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = ArtifactStore::new(dir.path());
        assert!(matches!(
            store.read("../../etc/passwd"),
            Err(ArtifactError::BadId(_))
        ));
        assert!(matches!(
            store.read(&"a".repeat(64)),
            Err(ArtifactError::NotFound(_))
        ));
        assert!(store.list(5).unwrap().is_empty());
    }
}
