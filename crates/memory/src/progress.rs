//! What a reindex run reports as it goes and when it ends, and a file ready to be written: the
//! types the indexer and the embedding step share.

use crate::chunker::Chunk;
use crate::walk::{FoundFile, SkippedFile};

/// Where a reindex run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Files compared with the index.
    Scanned {
        /// Files found.
        files: usize,
        /// Of which changed.
        changed: usize,
    },
    /// Changed files written.
    Files {
        /// Done so far.
        done: usize,
        /// To do.
        total: usize,
    },
    /// Chunks embedded.
    Embeddings {
        /// Done so far.
        done: usize,
        /// To do.
        total: usize,
    },
}

/// What a reindex run did (serialized as the `--json` report and the API's `done` event).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReindexReport {
    /// Files found on disk.
    pub files_seen: usize,
    /// Files (re)chunked.
    pub files_indexed: usize,
    /// Files removed from the index because they are gone.
    pub files_removed: usize,
    /// Chunks written.
    pub chunks_written: usize,
    /// Vectors computed by the model (cache misses).
    pub embeddings_computed: usize,
    /// Vectors taken from the cache.
    pub embeddings_cached: usize,
    /// Files left out, with the reason.
    pub skipped: Vec<SkippedFile>,
}

impl ReindexReport {
    /// Whether the run changed anything.
    pub fn changed_anything(&self) -> bool {
        self.files_indexed > 0
            || self.files_removed > 0
            || self.embeddings_computed > 0
            || self.embeddings_cached > 0
    }
}

/// A changed file, chunked and ready to embed and write.
pub(crate) struct PreparedFile {
    pub(crate) found: FoundFile,
    pub(crate) hash: String,
    pub(crate) chunks: Vec<Chunk>,
}
