//! Embeds the lines active recall weighs before any turn needs them.
//!
//! Recall compares each line of the best chunks with the question; a line seen for the first
//! time costs an embedding during the turn (about 4 ms a line on two cores). The daemon runs a
//! [`LineWarmer`]: a thread that, at start and after each change to the index, embeds every line
//! whose vector is not cached yet, newest chunks first, a batch at a time. The index is locked
//! only to find lines and to store vectors, never while embedding, and after each batch the
//! thread rests as long as the batch took, so turns running meanwhile keep most of the machine.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::tools::ToolError;
use crate::tools::memory::MemoryHandle;

/// Lines embedded per batch (about 0.1 s of work).
const LINES_PER_BATCH: usize = 32;

/// A background thread embedding recall lines; stopped when dropped.
#[derive(Debug)]
pub struct LineWarmer {
    kick: Option<Sender<()>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl LineWarmer {
    /// Starts the thread; it warms `memory` at once and again after each [`LineWarmer::kick`].
    pub fn start(memory: MemoryHandle) -> std::io::Result<Self> {
        let (kick, kicks) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("recall-lines".to_owned())
            .spawn(move || serve(&memory, &kicks, &stopping))?;
        let _ = kick.send(());
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

impl Drop for LineWarmer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.kick.take();
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

/// Embeds every recall line of `memory` whose vector is not cached, until done or `stop` is
/// set; returns how many were embedded. Without an embedding model there is nothing to do.
pub fn warm_lines(memory: &MemoryHandle, stop: &AtomicBool) -> Result<usize, ToolError> {
    let mut before = i64::MAX;
    let mut embedded = 0;
    while !stop.load(Ordering::SeqCst) {
        let Some(embedder) = memory.lock_index()?.embedder().map(Arc::clone) else {
            return Ok(embedded);
        };
        let Some(batch) = memory.uncached_recall_lines(before, LINES_PER_BATCH)? else {
            return Ok(embedded);
        };
        if !batch.texts.is_empty() {
            let started = Instant::now();
            let texts: Vec<&str> = batch.texts.iter().map(String::as_str).collect();
            let vectors = embedder
                .embed(&texts)
                .map_err(|error| ToolError::Failed(error.to_string()))?;
            memory
                .lock_index()?
                .cache_vectors(&batch.texts, &vectors)
                .map_err(|error| ToolError::Failed(error.to_string()))?;
            embedded += batch.texts.len();
            rest(started.elapsed(), stop);
        }
        match batch.next_before {
            Some(next) => before = next,
            None => break,
        }
    }
    Ok(embedded)
}

/// Sleeps `time`, waking early when `stop` is set.
fn rest(time: Duration, stop: &AtomicBool) {
    let until = Instant::now() + time;
    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= until {
            return;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(50)));
    }
}
