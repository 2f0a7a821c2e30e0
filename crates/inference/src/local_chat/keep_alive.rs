//! A local chat model that leaves memory when idle. The daemon keeps it loaded for `keep_alive`
//! after its last reply ends, then drops the weights and the key/value cache; the next request
//! loads it again on a thread of its own, so an async caller never blocks on the load.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use localgpt_core::chat::{ChatError, ChatEvent, ChatModel, ChatRequest, ChatStream};

use super::{CancelOnDrop, LocalChatModel, LocalChatOptions, new_job};
use crate::error::InferenceError;

/// A [`LocalChatModel`] unloaded after `keep_alive` without use.
pub struct KeepAliveModel {
    shared: Arc<Shared>,
    name: String,
    context_size: u32,
    supports_tools: bool,
}

impl std::fmt::Debug for KeepAliveModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeepAliveModel")
            .field("name", &self.name)
            .field("loaded", &self.is_loaded())
            .finish_non_exhaustive()
    }
}

struct Shared {
    name: String,
    path: PathBuf,
    options: LocalChatOptions,
    keep_alive: Duration,
    slot: Mutex<Slot>,
    /// Held while loading, so concurrent requests load the model once.
    loading: Mutex<()>,
}

struct Slot {
    model: Option<Arc<LocalChatModel>>,
    /// Replies streaming now.
    active: usize,
    /// When the last reply ended (or the model was loaded).
    last_used: Instant,
}

impl KeepAliveModel {
    /// Loads the model now (so a bad file is reported at once) and unloads it after
    /// `keep_alive` without a request.
    pub fn load(
        name: &str,
        path: &Path,
        options: &LocalChatOptions,
        keep_alive: Duration,
    ) -> Result<Self, InferenceError> {
        let model = LocalChatModel::load(name, path, options)?;
        let shared = Arc::new(Shared {
            name: name.to_owned(),
            path: path.to_owned(),
            options: options.clone(),
            keep_alive,
            slot: Mutex::new(Slot {
                model: None,
                active: 0,
                last_used: Instant::now(),
            }),
            loading: Mutex::new(()),
        });
        let this = Self {
            name: model.name().to_owned(),
            context_size: model.context_size,
            supports_tools: model.supports_tools,
            shared: Arc::clone(&shared),
        };
        shared.lock_slot().model = Some(Arc::new(model));
        let watched = Arc::downgrade(&shared);
        std::thread::Builder::new()
            .name("local-chat-keep-alive".to_owned())
            .spawn(move || unload_when_idle(&watched))
            .map_err(|error| InferenceError::Engine(format!("starting the idle timer: {error}")))?;
        Ok(this)
    }

    /// Whether the weights are in memory now.
    pub fn is_loaded(&self) -> bool {
        self.shared.lock_slot().model.is_some()
    }
}

impl ChatModel for KeepAliveModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn context_window(&self) -> Option<u32> {
        Some(self.context_size)
    }

    fn supports_tools(&self) -> bool {
        self.supports_tools
    }

    fn count_tokens(&self, text: &str) -> Option<usize> {
        let model = self.shared.lock_slot().model.clone();
        model.map(|model| model.count_tokens(text))
    }

    fn stream(&self, request: ChatRequest) -> ChatStream {
        let (job, stream) = new_job(request);
        let lease = Lease::take(&self.shared);
        let loaded = self.shared.lock_slot().model.clone();
        match loaded {
            Some(model) => model.submit(job),
            None => {
                let shared = Arc::clone(&self.shared);
                let spawned = std::thread::Builder::new()
                    .name("local-chat-load".to_owned())
                    .spawn(move || match shared.load() {
                        Ok(model) => model.submit(job),
                        Err(error) => {
                            let _ = job.events.unbounded_send(Err(ChatError::Failed {
                                provider: "local".to_owned(),
                                message: error.to_string(),
                            }));
                        }
                    });
                if let Err(error) = spawned {
                    tracing::warn!("could not start loading the model: {error}");
                }
            }
        }
        Box::pin(LeasedStream {
            stream,
            _lease: lease,
        })
    }
}

impl Shared {
    fn lock_slot(&self) -> MutexGuard<'_, Slot> {
        self.slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The loaded model, loading it first when it was unloaded.
    fn load(&self) -> Result<Arc<LocalChatModel>, InferenceError> {
        let _loading = self
            .loading
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(model) = self.lock_slot().model.clone() {
            return Ok(model);
        }
        let started = Instant::now();
        let model = Arc::new(LocalChatModel::load(&self.name, &self.path, &self.options)?);
        tracing::info!(model = %self.name, elapsed = ?started.elapsed(), "idle model loaded again");
        let mut slot = self.lock_slot();
        slot.model = Some(Arc::clone(&model));
        slot.last_used = Instant::now();
        Ok(model)
    }
}

/// Drops the model once it has been idle for `keep_alive`; ends when the model handle is gone.
fn unload_when_idle(shared: &Weak<Shared>) {
    let tick = match shared.upgrade() {
        Some(shared) => {
            (shared.keep_alive / 4).clamp(Duration::from_millis(20), Duration::from_secs(15))
        }
        None => return,
    };
    loop {
        std::thread::sleep(tick);
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let idle_model = {
            let mut slot = shared.lock_slot();
            let idle = slot.active == 0 && slot.last_used.elapsed() >= shared.keep_alive;
            if idle { slot.model.take() } else { None }
        };
        if let Some(model) = idle_model {
            // Dropped outside the lock: it joins the generation thread.
            drop(model);
            tracing::info!(model = %shared.name, keep_alive = ?shared.keep_alive, "idle model unloaded");
        }
    }
}

/// Counts a reply as active while its stream lives.
struct Lease(Arc<Shared>);

impl Lease {
    fn take(shared: &Arc<Shared>) -> Self {
        shared.lock_slot().active += 1;
        Self(Arc::clone(shared))
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut slot = self.0.lock_slot();
        slot.active = slot.active.saturating_sub(1);
        slot.last_used = Instant::now();
    }
}

/// A reply stream that keeps the model loaded until it is dropped.
struct LeasedStream {
    stream: CancelOnDrop,
    _lease: Lease,
}

impl futures_core::Stream for LeasedStream {
    type Item = Result<ChatEvent, ChatError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::pin::Pin::new(&mut self.stream).poll_next(cx)
    }
}
