//! [`MemoryHandle`]: one memory index shared by everything in a process that reads or writes
//! memory — the agent's memory tools, recall, the embedding worker, the HTTP API, the MCP server
//! and the file watcher. The index sits behind a blocking lock and SQLite, so async callers get
//! methods that run on a blocking thread under a time limit; the index is brought up to date
//! before the first use after a write ([`MemoryHandle::mark_stale`]). Failures are a
//! [`HandleError`], which front ends map once (the API to a status code).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crate::provenance::WriteSource;
use crate::{
    IndexStats, IndexedFile, LineBatch, MemoryError, MemoryIndex, Progress, ReindexReport,
    SearchOptions, SearchResults,
};

/// How long work on the index may take (it may be busy bringing itself up to date).
pub const INDEX_WORK_TIMEOUT: Duration = Duration::from_secs(300);

/// Why work through a [`MemoryHandle`] failed.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The index itself failed (see [`MemoryError`] for which failures are the caller's).
    #[error(transparent)]
    Index(#[from] MemoryError),
    /// A thread panicked while it held the index; the handle cannot be used any more.
    #[error("the memory index is unavailable (work on it failed earlier); restart LocalGPT")]
    Poisoned,
    /// The work did not finish in time and was abandoned.
    #[error("{what} did not finish within {} s and was abandoned", limit.as_secs())]
    TimedOut {
        /// What was being done.
        what: &'static str,
        /// The time limit.
        limit: Duration,
    },
    /// The blocking thread doing the work stopped (it panicked or the runtime is shutting down).
    #[error("{what} stopped: {message}")]
    Stopped {
        /// What was being done.
        what: &'static str,
        /// Why.
        message: String,
    },
}

impl HandleError {
    /// Whether the caller asked for something the index cannot do (a query it cannot search,
    /// vectors where there is no embedding model), as opposed to the index failing.
    pub fn is_bad_request(&self) -> bool {
        matches!(
            self,
            Self::Index(MemoryError::BadQuery(_) | MemoryError::NoVectors(_))
        )
    }

    /// Whether trying again later may work (the index was busy or is going away).
    pub fn is_temporary(&self) -> bool {
        matches!(self, Self::TimedOut { .. } | Self::Stopped { .. })
    }
}

/// What runs after the index changed.
type ChangeHook = Arc<dyn Fn() + Send + Sync>;

/// The memory index, shared.
#[derive(Clone)]
pub struct MemoryHandle {
    index: Arc<Mutex<MemoryIndex>>,
    fresh: Arc<AtomicBool>,
    source: WriteSource,
    /// Called after a reindex that wrote or removed files (the embedding worker's kick).
    on_change: Arc<OnceLock<ChangeHook>>,
    /// When a search last used the index (see [`MemoryHandle::used_within`]).
    last_used: Arc<Mutex<Option<Instant>>>,
}

impl std::fmt::Debug for MemoryHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryHandle")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl MemoryHandle {
    /// Shares `index`.
    pub fn new(index: MemoryIndex) -> Self {
        Self {
            index: Arc::new(Mutex::new(index)),
            fresh: Arc::new(AtomicBool::new(false)),
            on_change: Arc::new(OnceLock::new()),
            last_used: Arc::new(Mutex::new(None)),
            source: WriteSource::Owner,
        }
    }

    /// The same index, for a turn from `source`: what is appended to memory through this handle
    /// records it.
    pub fn with_source(&self, source: WriteSource) -> Self {
        Self {
            source,
            ..self.clone()
        }
    }

    /// Where writes through this handle come from.
    pub fn source(&self) -> &WriteSource {
        &self.source
    }

    /// Marks the index as possibly out of date (files were written).
    pub fn mark_stale(&self) {
        self.fresh.store(false, Ordering::SeqCst);
    }

    /// The index itself, locked, for work on this (blocking) thread.
    pub fn lock(&self) -> Result<MutexGuard<'_, MemoryIndex>, HandleError> {
        self.index.lock().map_err(|_| HandleError::Poisoned)
    }

    /// Lines recall weighs whose vectors are not cached yet, on this thread (see
    /// [`MemoryIndex::uncached_recall_lines`]); `None` without an embedding model.
    pub fn uncached_recall_lines(
        &self,
        before_chunk: i64,
        max_texts: usize,
    ) -> Result<Option<LineBatch>, HandleError> {
        Ok(self
            .lock()?
            .uncached_recall_lines(before_chunk, max_texts)?)
    }

    /// Indexes keyword-first from now on: chunks whose vectors are not cached are left for a
    /// background embedder (see [`MemoryIndex::set_embed_later`]).
    pub fn embed_later(&self) -> Result<(), HandleError> {
        self.lock()?.set_embed_later(true);
        Ok(())
    }

    /// Notes that a search (a turn's recall, a tool, the API) is using the index now.
    pub fn mark_used(&self) {
        if let Ok(mut last) = self.last_used.lock() {
            *last = Some(Instant::now());
        }
    }

    /// Whether a search (a turn's recall, the `memory_search` tool, the API) used the index
    /// within `window`: a background embedder then leaves the machine to it half of the time.
    /// Status reads do not count.
    pub fn used_within(&self, window: Duration) -> bool {
        self.last_used
            .lock()
            .map(|last| last.is_some_and(|at| at.elapsed() < window))
            .unwrap_or(false)
    }

    /// Runs `hook` after every reindex through this handle (or its clones) that writes or
    /// removes files; the first hook set stays.
    pub fn on_index_change(&self, hook: impl Fn() + Send + Sync + 'static) {
        let _first = self.on_change.set(Arc::new(hook));
    }

    /// Brings the index up to date now, on this thread (a file watcher calls this).
    pub fn refresh_now(&self) -> Result<ReindexReport, HandleError> {
        let report = self.lock()?.ensure_fresh()?;
        self.fresh.store(true, Ordering::SeqCst);
        after_reindex(&self.on_change, &report);
        Ok(report)
    }

    /// Searches the index (refreshed first when stale).
    pub async fn search(
        &self,
        query: String,
        options: SearchOptions,
    ) -> Result<SearchResults, HandleError> {
        self.mark_used();
        self.with_fresh_index("the memory search", move |index| {
            Ok(index.search_or_rebuild(&query, options)?)
        })
        .await
    }

    /// Vectors for `texts` from the index's embedding model (cached); `None` without one.
    pub async fn embed_texts(
        &self,
        texts: Vec<String>,
    ) -> Result<Option<Vec<Vec<f32>>>, HandleError> {
        self.with_fresh_index("embedding", move |index| {
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            Ok(index.embed_texts(&texts)?)
        })
        .await
    }

    /// The index's statistics.
    pub async fn stats(&self) -> Result<IndexStats, HandleError> {
        self.with_fresh_index("reading index statistics", |index| Ok(index.stats()?))
            .await
    }

    /// The text of a file the index lists (for opening a search hit); `None` when it lists no
    /// such path.
    pub async fn indexed_file(&self, path: String) -> Result<Option<IndexedFile>, HandleError> {
        self.with_fresh_index("reading an indexed file", move |index| {
            Ok(index.indexed_file(&path)?)
        })
        .await
    }

    /// Reindexes now (`force` re-chunks every file), reporting progress to `progress` as it goes.
    pub async fn reindex(
        &self,
        force: bool,
        progress: impl FnMut(Progress) + Send + 'static,
    ) -> Result<ReindexReport, HandleError> {
        let handle = self.clone();
        let mut progress = progress;
        on_blocking_thread("reindexing", None, move || {
            let report = handle.lock()?.reindex(force, &mut progress)?;
            handle.fresh.store(true, Ordering::SeqCst);
            after_reindex(&handle.on_change, &report);
            Ok(report)
        })
        .await
    }

    /// Runs `work` on the index on a blocking thread, refreshing it first when stale; a failed
    /// refresh is logged and the work runs on the index as it is.
    async fn with_fresh_index<T: Send + 'static>(
        &self,
        what: &'static str,
        work: impl FnOnce(&mut MemoryIndex) -> Result<T, HandleError> + Send + 'static,
    ) -> Result<T, HandleError> {
        let handle = self.clone();
        on_blocking_thread(what, Some(INDEX_WORK_TIMEOUT), move || {
            let mut index = handle.lock()?;
            if !handle.fresh.swap(true, Ordering::SeqCst) {
                match index.ensure_fresh() {
                    Ok(report) => after_reindex(&handle.on_change, &report),
                    Err(error) => {
                        handle.fresh.store(false, Ordering::SeqCst);
                        tracing::warn!("memory index refresh failed: {error}");
                    }
                }
            }
            work(&mut index)
        })
        .await
    }
}

/// Runs `work` on tokio's blocking pool, abandoning it after `limit` when one is given.
async fn on_blocking_thread<T: Send + 'static>(
    what: &'static str,
    limit: Option<Duration>,
    work: impl FnOnce() -> Result<T, HandleError> + Send + 'static,
) -> Result<T, HandleError> {
    let task = tokio::task::spawn_blocking(work);
    let joined = match limit {
        Some(limit) => tokio::time::timeout(limit, task)
            .await
            .map_err(|_| HandleError::TimedOut { what, limit })?,
        None => task.await,
    };
    joined.map_err(|error| HandleError::Stopped {
        what,
        message: error.to_string(),
    })?
}

/// Runs the change hook when `report` wrote or removed files.
fn after_reindex(on_change: &OnceLock<ChangeHook>, report: &ReindexReport) {
    if (report.files_indexed > 0 || report.files_removed > 0)
        && let Some(hook) = on_change.get()
    {
        hook();
    }
}
