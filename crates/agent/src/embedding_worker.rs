//! Embedding in the background, so the daemon is searchable at once and recall is fast.
//!
//! The daemon indexes keyword-first (every file searchable by keyword within seconds) and runs an
//! [`EmbeddingWorker`]: a thread that, at start and after each change to the index, first embeds
//! the chunks still without a vector (most recently changed files first; hybrid search uses the
//! vectors that exist meanwhile), then the lines active recall weighs whose vectors are not cached
//! — recall compares each line of the best chunks with the question, and a line seen for the
//! first time would otherwise cost an embedding during the turn (about 4 ms a line on two cores).
//! The index is locked only to find work and to store vectors, never while embedding; while the
//! index is in use (a search in the last [`BUSY_WINDOW`], as in a turn), the thread rests after
//! each batch as long as the batch took, so the turn keeps most of the machine.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use localgpt_memory::{HandleError, MemoryError, MemoryHandle};

/// How recently a search must have used the index for the worker to rest between batches.
pub const BUSY_WINDOW: Duration = Duration::from_secs(30);

/// Lines embedded per batch (about 0.1 s of work).
const LINES_PER_BATCH: usize = 32;

/// A background thread embedding pending chunks, then recall lines; stopped when dropped.
#[derive(Debug)]
pub struct EmbeddingWorker {
    kick: Option<Sender<()>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EmbeddingWorker {
    /// Starts the thread; it warms `memory` at once and again after each [`EmbeddingWorker::kick`].
    pub fn start(memory: MemoryHandle) -> std::io::Result<Self> {
        let (kick, kicks) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("memory-embedder".to_owned())
            .spawn({
                let memory = memory.clone();
                move || serve(&memory, &kicks, &stopping)
            })?;
        let _ = kick.send(());
        let on_change = kick.clone();
        memory.on_index_change(move || {
            let _ = on_change.send(());
        });
        Ok(Self {
            kick: Some(kick),
            stop,
            thread: Some(thread),
        })
    }

    /// Asks for another pass (the index changed).
    pub fn kick(&self) {
        if let Some(kick) = &self.kick {
            let _ = kick.send(());
        }
    }
}

impl Drop for EmbeddingWorker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // The index's change hook holds a sender too, so wake the thread rather than wait for
        // the channel to close.
        if let Some(kick) = self.kick.take() {
            let _ = kick.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(memory: &MemoryHandle, kicks: &Receiver<()>, stop: &AtomicBool) {
    while kicks.recv().is_ok() {
        while kicks.try_recv().is_ok() {}
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let started = Instant::now();
        match embed_pending_chunks(memory, stop) {
            Ok(0) => {}
            Ok(embedded) => tracing::info!(
                embedded,
                seconds = started.elapsed().as_secs_f64(),
                "memory chunks embedded"
            ),
            Err(error) => {
                tracing::warn!("embedding memory chunks in the background failed: {error}")
            }
        }
        let started = Instant::now();
        match warm_lines(memory, stop) {
            Ok(embedded) => tracing::info!(
                embedded,
                seconds = started.elapsed().as_secs_f64(),
                "recall lines ready"
            ),
            Err(error) => tracing::warn!("embedding recall lines ahead of time failed: {error}"),
        }
    }
}

/// Chunks embedded per batch (about 0.3 s of work on two cores).
const CHUNKS_PER_BATCH: usize = 8;

/// Embeds every chunk of `memory` that has no vector, most recently changed files first, until
/// done or `stop` is set; returns how many were stored. Without an embedding model there is
/// nothing to do.
pub fn embed_pending_chunks(
    memory: &MemoryHandle,
    stop: &AtomicBool,
) -> Result<usize, HandleError> {
    let mut stored = 0;
    while !stop.load(Ordering::SeqCst) {
        let (pending, embedder) = {
            let index = memory.lock()?;
            let Some(embedder) = index.embedder().map(Arc::clone) else {
                return Ok(stored);
            };
            (index.pending_chunks(CHUNKS_PER_BATCH)?, embedder)
        };
        if pending.is_empty() {
            break;
        }
        let started = Instant::now();
        let inputs: Vec<&str> = pending.iter().map(|chunk| chunk.input.as_str()).collect();
        let vectors = embedder.embed(&inputs).map_err(MemoryError::from)?;
        stored += memory.lock()?.store_chunk_vectors(&pending, &vectors)?;
        rest_if_busy(memory, started.elapsed(), stop);
    }
    Ok(stored)
}

/// Embeds every recall line of `memory` whose vector is not cached, until done or `stop` is
/// set; returns how many were embedded. Without an embedding model there is nothing to do.
pub fn warm_lines(memory: &MemoryHandle, stop: &AtomicBool) -> Result<usize, HandleError> {
    let mut before = i64::MAX;
    let mut embedded = 0;
    while !stop.load(Ordering::SeqCst) {
        let Some(embedder) = memory.lock()?.embedder().map(Arc::clone) else {
            return Ok(embedded);
        };
        let Some(batch) = memory.uncached_recall_lines(before, LINES_PER_BATCH)? else {
            return Ok(embedded);
        };
        if !batch.texts.is_empty() {
            let started = Instant::now();
            let texts: Vec<&str> = batch.texts.iter().map(String::as_str).collect();
            let vectors = embedder.embed(&texts).map_err(MemoryError::from)?;
            memory.lock()?.cache_vectors(&batch.texts, &vectors)?;
            embedded += batch.texts.len();
            rest_if_busy(memory, started.elapsed(), stop);
        }
        match batch.next_before {
            Some(next) => before = next,
            None => break,
        }
    }
    Ok(embedded)
}

/// Sleeps `time` when the index was used within [`BUSY_WINDOW`], waking early when `stop` is
/// set.
fn rest_if_busy(memory: &MemoryHandle, time: Duration, stop: &AtomicBool) {
    if !memory.used_within(BUSY_WINDOW) {
        return;
    }
    let until = Instant::now() + time;
    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= until {
            return;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(50)));
    }
}
