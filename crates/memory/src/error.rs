//! What can go wrong in the memory engine, in words a user can act on.

use std::path::PathBuf;

/// A memory-engine failure.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// File system failure.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// SQLite failure.
    #[error(
        "memory index {path}: {source} (the index can always be rebuilt: `localgpt memory reindex --force`)"
    )]
    Sqlite {
        /// The index file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The index file is damaged (not a database, corrupt pages, or a schema that is not
    /// LocalGPT's). The index is derived data: opening it moves the file aside and rebuilds.
    #[error("memory index {path} is damaged: {reason}")]
    Corrupt {
        /// The index file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The index was written by a newer LocalGPT.
    #[error(
        "memory index {path} has schema version {found}, newer than this LocalGPT understands ({supported}); upgrade LocalGPT or delete the file to rebuild it"
    )]
    NewerSchema {
        /// The index file.
        path: PathBuf,
        /// Version in the file.
        found: i64,
        /// Newest version understood.
        supported: i64,
    },
    /// The embedding model failed.
    #[error("embedding failed: {0}")]
    Embedding(#[from] localgpt_core::embed::EmbedError),
    /// The query cannot be searched.
    #[error("{0}")]
    BadQuery(String),
    /// Vector search was asked for but no embedding model is configured or indexed.
    #[error("vector search needs an embedding model: {0}")]
    NoVectors(String),
    /// The file watcher could not start.
    #[error("watching {path}: {message}")]
    Watch {
        /// The folder.
        path: PathBuf,
        /// What failed.
        message: String,
    },
}

impl MemoryError {
    /// Whether this error means the index file itself is damaged (SQLite reports a corrupt or
    /// non-database file, or the schema check failed), so rebuilding it is the cure.
    pub fn is_corruption(&self) -> bool {
        match self {
            Self::Corrupt { .. } => true,
            Self::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
            ),
            _ => false,
        }
    }

    pub(crate) fn sqlite(path: &std::path::Path, source: rusqlite::Error) -> Self {
        Self::Sqlite {
            path: path.to_owned(),
            source,
        }
    }
}
