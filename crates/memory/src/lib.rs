//! LocalGPT's memory engine, usable on its own: a folder of markdown (the truth) indexed into one
//! SQLite file (derived; delete it and it is rebuilt) with FTS5 for keywords and sqlite-vec for
//! meaning, searched as one hybrid ranking.
//!
//! ```no_run
//! use localgpt_memory::{IndexSettings, MemoryIndex, SearchOptions};
//! # fn main() -> Result<(), localgpt_memory::MemoryError> {
//! let settings = IndexSettings::new("/home/me/.localgpt/workspace");
//! let mut index = MemoryIndex::open("/home/me/.localgpt/state/index.sqlite", settings, None)?;
//! index.ensure_fresh()?;
//! for hit in index.search("spare key", SearchOptions::default())?.results {
//!     println!("{}:{}-{} {}", hit.path, hit.start_line, hit.end_line, hit.snippet);
//! }
//! # Ok(()) }
//! ```
//!
//! The API is blocking (SQLite and model inference are); async callers use `spawn_blocking`.

mod background;
mod binary_scan;
pub mod chunker;
mod cjk;
mod embedding;
mod error;
mod file_fusion;
pub mod fusion;
pub mod handle;
mod indexed_file;
mod indexer;
mod progress;
pub mod provenance;
mod query;
pub mod recall_lines;
mod recovery;
mod roots;
mod schema;
mod search;
pub mod snippet;
mod source_filter;
mod vectors;
pub mod walk;
pub mod watcher;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use localgpt_core::embed::Embedder;
use localgpt_core::protected::ProtectedPaths;
use rusqlite::Connection;
use serde::Serialize;

pub use background::PendingChunk;
pub use error::MemoryError;
pub use fusion::{
    Fusion, agreement_fusion, confidence_fusion, min_max_fusion, reciprocal_rank_fusion,
    z_score_fusion,
};
pub use handle::{HandleError, MemoryHandle};
pub use indexed_file::IndexedFile;
pub use progress::{Progress, ReindexReport};
pub use provenance::WriteSource;
pub use recall_lines::LineBatch;
pub use roots::{MemoryRoots, Refusal};
pub use schema::SCHEMA_VERSION;
pub use search::{SearchHit, SearchMode, SearchOptions, SearchResults, query_terms};
pub use snippet::snippet;
pub use source_filter::SourceFilter;

/// What to index and how to cut it.
#[derive(Debug, Clone)]
pub struct IndexSettings {
    /// The markdown workspace.
    pub workspace: PathBuf,
    /// More folders to index.
    pub extra_paths: Vec<PathBuf>,
    /// Target chunk size in tokens (capped at the embedding model's window).
    pub chunk_tokens: usize,
    /// Tokens repeated between continuation chunks.
    pub chunk_overlap: usize,
    /// Larger files are skipped.
    pub max_file_size: u64,
    /// Places inside the workspace and extra paths that are never read (credential stores,
    /// LocalGPT's own configuration, state and models); see [`MemoryRoots`].
    pub protected: ProtectedPaths,
}

impl IndexSettings {
    /// Defaults for a workspace: 400-token chunks, 80 overlap, 4 MB file cap, the current
    /// user's credential stores protected.
    pub fn new(workspace: impl Into<PathBuf>) -> Self {
        Self {
            workspace: workspace.into(),
            extra_paths: Vec::new(),
            chunk_tokens: 400,
            chunk_overlap: 80,
            max_file_size: 4 << 20,
            protected: ProtectedPaths::for_current_user(&[]),
        }
    }

    /// The rule for which files may be read, for these folders (resolved now).
    pub fn roots(&self) -> MemoryRoots {
        MemoryRoots::new(&self.workspace, &self.extra_paths, self.protected.clone())
    }

    /// Settings from LocalGPT's configuration.
    pub fn from_config(paths: &localgpt_core::Paths, config: &localgpt_core::Config) -> Self {
        Self {
            workspace: paths.workspace(config),
            extra_paths: paths.extra_paths(config),
            chunk_tokens: config.memory.chunk_tokens as usize,
            chunk_overlap: config.memory.chunk_overlap as usize,
            max_file_size: config.memory.max_file_size.0,
            protected: MemoryRoots::protected_for(paths),
        }
    }
}

/// Counts describing the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexStats {
    /// Files indexed.
    pub files: u64,
    /// Chunks indexed.
    pub chunks: u64,
    /// Chunks with a vector.
    pub embedded_chunks: u64,
    /// Size of the index on disk (database and WAL), bytes.
    pub index_bytes: u64,
    /// Embedding model the vectors belong to.
    pub embedding_model: Option<String>,
    /// Vector dimension.
    pub embedding_dimension: Option<u64>,
    /// When the last reindex finished (RFC 3339).
    pub last_indexed: Option<String>,
    /// The index file.
    pub path: PathBuf,
}

/// An open memory index.
pub struct MemoryIndex {
    connection: Connection,
    path: PathBuf,
    settings: IndexSettings,
    embedder: Option<Arc<dyn Embedder>>,
    fusion: Fusion,
    /// The vector side of searches: a second connection, opened on first use, on which hybrid
    /// search runs it in parallel with the keyword side, and the binary vectors in memory.
    vector_side: search::VectorSide,
    /// Device and inode of the file opened, so a rebuild moves aside only that file.
    identity: Option<(u64, u64)>,
    /// Where a damaged index was moved when this one was opened or rebuilt.
    recovered: Option<PathBuf>,
    /// Set when a read found the file damaged; the next reindex rebuilds it first.
    damaged: AtomicBool,
    /// Whether reindexing leaves chunks without a cached vector to a background worker.
    embed_later: bool,
}

impl std::fmt::Debug for MemoryIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryIndex")
            .field("path", &self.path)
            .field("settings", &self.settings)
            .field(
                "embedder",
                &self
                    .embedder
                    .as_ref()
                    .map(|model| model.model_id().to_owned()),
            )
            .finish()
    }
}

impl MemoryIndex {
    /// Opens (or creates) the index at `path`. Without an embedder, indexing and search are
    /// keyword-only.
    pub fn open(
        path: impl AsRef<Path>,
        settings: IndexSettings,
        embedder: Option<Arc<dyn Embedder>>,
    ) -> Result<Self, MemoryError> {
        let path = path.as_ref().to_owned();
        let recovery::Opened {
            connection,
            identity,
            moved: recovered,
        } = recovery::open_recovering(&path)?;
        Ok(Self {
            connection,
            path,
            settings,
            embedder,
            fusion: Fusion::default(),
            vector_side: search::VectorSide::default(),
            identity,
            recovered,
            damaged: AtomicBool::new(false),
            embed_later: false,
        })
    }

    /// Embeds `texts` with the index's embedding model (vectors cached by model and text), for
    /// comparing sentences with a query; `None` without an embedding model.
    pub fn embed_texts(&self, texts: &[&str]) -> Result<Option<Vec<Vec<f32>>>, MemoryError> {
        let Some(model) = &self.embedder else {
            return Ok(None);
        };
        embedding::embed_texts_cached(
            &self.connection,
            &self.path,
            model.as_ref(),
            &self.vector_side.recent,
            texts,
        )
        .map(Some)
    }

    /// Lines of chunks below `before_chunk` (newest first) whose recall vectors are not cached
    /// yet, about `max_texts` of them (see [`recall_lines`]); `None` without an embedding model.
    /// Embed them with [`MemoryIndex::embedder`] and keep them with
    /// [`MemoryIndex::cache_vectors`], so a turn's recall finds them cached.
    pub fn uncached_recall_lines(
        &self,
        before_chunk: i64,
        max_texts: usize,
    ) -> Result<Option<LineBatch>, MemoryError> {
        let Some(model) = &self.embedder else {
            return Ok(None);
        };
        self.note(
            recall_lines::uncached_lines(
                &self.connection,
                model.model_id(),
                before_chunk,
                max_texts,
            )
            .map(Some)
            .map_err(|source| MemoryError::sqlite(&self.path, source)),
        )
    }

    /// Keeps `vectors` (from this index's embedding model) of `texts` in the embedding cache.
    pub fn cache_vectors(&self, texts: &[String], vectors: &[Vec<f32>]) -> Result<(), MemoryError> {
        let Some(model) = &self.embedder else {
            return Ok(());
        };
        embedding::cache_vectors(
            &self.connection,
            &self.path,
            model.model_id(),
            texts,
            vectors,
        )
    }

    /// Where a damaged index file was moved (`index.sqlite.corrupt-<timestamp>`) when this index
    /// was opened or last rebuilt; `None` when the file was healthy.
    pub fn recovered_from(&self) -> Option<&Path> {
        self.recovered.as_deref()
    }

    /// Closes the damaged file, moves it aside and opens a fresh, empty index in its place.
    fn rebuild(&mut self, error: &MemoryError) -> Result<(), MemoryError> {
        // Both connections close before the files move: SQLite removes the `-wal` by name when
        // the last connection closes, which must not hit the new file's log.
        let placeholder =
            Connection::open_in_memory().map_err(|e| MemoryError::sqlite(&self.path, e))?;
        drop(std::mem::replace(&mut self.connection, placeholder));
        self.vector_side = search::VectorSide::default();
        let moved = recovery::move_aside(&self.path, self.identity)?;
        recovery::warn_moved(&self.path, moved.as_deref(), error);
        let opened = recovery::open_recovering(&self.path)?;
        self.connection = opened.connection;
        self.identity = opened.identity;
        if moved.is_some() {
            self.recovered = moved;
        }
        self.damaged.store(false, Ordering::SeqCst);
        Ok(())
    }

    /// Notes a damaged file met by a read, so the next reindex rebuilds it.
    fn note<T>(&self, result: Result<T, MemoryError>) -> Result<T, MemoryError> {
        if let Err(error) = &result
            && error.is_corruption()
        {
            self.damaged.store(true, Ordering::SeqCst);
        }
        result
    }

    /// The index file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The embedding model in use, if any.
    pub fn embedder(&self) -> Option<&Arc<dyn Embedder>> {
        self.embedder.as_ref()
    }

    /// How hybrid search merges keyword and vector rankings (reciprocal rank by default).
    pub fn fusion(&self) -> Fusion {
        self.fusion
    }

    /// Chooses how hybrid search merges keyword and vector rankings.
    pub fn set_fusion(&mut self, fusion: Fusion) {
        self.fusion = fusion;
    }

    /// Brings the index up to date; `force` re-chunks every file. Progress is reported as it goes.
    ///
    /// A damaged index file is never a dead end here: when it was found damaged earlier, when
    /// `force` is set and a full page check (`PRAGMA quick_check`) fails, or when this run meets
    /// a corrupt page, the file is moved aside and the index is rebuilt from the markdown.
    pub fn reindex(
        &mut self,
        force: bool,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<ReindexReport, MemoryError> {
        let mut force = force;
        if self.damaged.load(Ordering::SeqCst) {
            let error = MemoryError::Corrupt {
                path: self.path.clone(),
                reason: "a read found damaged pages".to_owned(),
            };
            self.rebuild(&error)?;
            force = true;
        } else if force && let Err(error) = recovery::quick_check(&self.connection, &self.path) {
            if !error.is_corruption() {
                return Err(error);
            }
            self.rebuild(&error)?;
        }
        match self.reindex_once(force, progress) {
            Err(error) if error.is_corruption() => {
                self.rebuild(&error)?;
                self.reindex_once(true, progress)
            }
            other => other,
        }
    }

    fn reindex_once(
        &mut self,
        force: bool,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<ReindexReport, MemoryError> {
        indexer::reindex(
            &mut self.connection,
            &self.path,
            &self.settings,
            self.embedder.as_deref(),
            force,
            self.embed_later,
            progress,
        )
    }

    /// With `later`, reindexing is keyword-only for chunks whose vector is not cached: it takes
    /// seconds, and a background worker embeds the rest with [`MemoryIndex::pending_chunks`]
    /// and [`MemoryIndex::store_chunk_vectors`] (the daemon does this). Without it (the
    /// default), a reindex embeds them itself after writing the files.
    pub fn set_embed_later(&mut self, later: bool) {
        self.embed_later = later;
    }

    /// Up to `limit` chunks without a vector, most recently changed files first (empty without
    /// an embedding model). Embed their `input` with [`MemoryIndex::embedder`], outside any
    /// lock on the index, then store the vectors.
    pub fn pending_chunks(&self, limit: usize) -> Result<Vec<PendingChunk>, MemoryError> {
        if self.embedder.is_none() {
            return Ok(Vec::new());
        }
        self.note(
            background::pending_chunks(&self.connection, limit)
                .map_err(|source| MemoryError::sqlite(&self.path, source)),
        )
    }

    /// How many chunks have no vector yet.
    pub fn pending_chunk_count(&self) -> Result<u64, MemoryError> {
        self.note(
            background::pending_count(&self.connection)
                .map_err(|source| MemoryError::sqlite(&self.path, source)),
        )
    }

    /// Stores vectors (from this index's model) of chunks [`MemoryIndex::pending_chunks`] gave;
    /// chunks that changed or went away meanwhile are skipped. Returns how many were stored.
    pub fn store_chunk_vectors(
        &mut self,
        chunks: &[PendingChunk],
        vectors: &[Vec<f32>],
    ) -> Result<usize, MemoryError> {
        let Some(model) = &self.embedder else {
            return Ok(0);
        };
        let model_id = model.model_id().to_owned();
        let path = self.path.clone();
        let result =
            background::store_chunk_vectors(&mut self.connection, &model_id, chunks, vectors)
                .map_err(|source| MemoryError::sqlite(&path, source));
        self.note(result)
    }

    /// Brings the index up to date quietly. When nothing changed this costs one directory walk
    /// and one query; call it before the first search of a session.
    pub fn ensure_fresh(&mut self) -> Result<ReindexReport, MemoryError> {
        self.reindex(false, &mut |_| {})
    }

    /// Searches the index. Hits whose file no longer passes the [`MemoryRoots`] rule at this
    /// moment (say it was swapped for a symlink into `~/.ssh` after indexing) are left out. A
    /// damaged file is remembered and rebuilt by the next reindex; [`MemoryIndex::search_or_rebuild`]
    /// does that at once.
    pub fn search(
        &self,
        query: &str,
        options: SearchOptions,
    ) -> Result<SearchResults, MemoryError> {
        let mut results = self.note(search::search(
            &self.connection,
            &self.path,
            self.embedder.as_deref(),
            query,
            options,
            self.fusion,
            &self.vector_side,
        ))?;
        let roots = self.settings.roots();
        results
            .results
            .retain(|hit| match roots.resolve_key(&hit.path) {
                Ok(_) => true,
                Err(refusal) => {
                    tracing::warn!("leaving a search hit out: {refusal}");
                    false
                }
            });
        Ok(results)
    }

    /// Searches; when the index file turns out damaged, moves it aside, rebuilds it from the
    /// markdown and searches again.
    pub fn search_or_rebuild(
        &mut self,
        query: &str,
        options: SearchOptions,
    ) -> Result<SearchResults, MemoryError> {
        match self.search(query, options) {
            Err(error) if error.is_corruption() => {
                self.reindex(true, &mut |_| {})?;
                self.search(query, options)
            }
            other => other,
        }
    }

    /// The text of an indexed file, by the path search results give; `None` when the index does
    /// not list it (or it now resolves outside the workspace and extra paths).
    pub fn indexed_file(&self, path: &str) -> Result<Option<IndexedFile>, MemoryError> {
        self.note(indexed_file::read(
            &self.connection,
            &self.path,
            &self.settings.roots(),
            path,
        ))
    }

    /// Counts describing the index.
    pub fn stats(&self) -> Result<IndexStats, MemoryError> {
        self.note(self.stats_once())
    }

    fn stats_once(&self) -> Result<IndexStats, MemoryError> {
        let sql = |source| MemoryError::sqlite(&self.path, source);
        let count = |table: &str| -> Result<u64, MemoryError> {
            self.connection
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
                    row.get::<_, i64>(0)
                })
                .map(|n| n.max(0) as u64)
                .map_err(sql)
        };
        let wal = PathBuf::from(format!("{}-wal", self.path.display()));
        let index_bytes = [&self.path, &wal]
            .iter()
            .filter_map(|file| std::fs::metadata(file).ok())
            .map(|meta| meta.len())
            .sum();
        Ok(IndexStats {
            files: count("files")?,
            chunks: count("chunks")?,
            embedded_chunks: count("chunk_vectors")?,
            index_bytes,
            embedding_model: schema::meta_get(&self.connection, "embedding_model").map_err(sql)?,
            embedding_dimension: schema::meta_get(&self.connection, "embedding_dimension")
                .map_err(sql)?
                .and_then(|text| text.parse().ok()),
            last_indexed: schema::meta_get(&self.connection, "last_indexed").map_err(sql)?,
            path: self.path.clone(),
        })
    }
}
