//! A model kept in memory only while it is used. [`IdleSlot`] loads its value on the first call
//! that needs it, counts the calls using it, and — when given a `keep_alive` — drops it once no
//! call has used it for that long, then hands the freed heap back to the operating system. The
//! next call loads it again. The daemon's chat model and embedding model both live in one, so an
//! idle daemon holds neither.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

/// A value loaded on demand and, with a keep-alive, unloaded when idle.
pub struct IdleSlot<T> {
    shared: Arc<Shared<T>>,
}

impl<T> std::fmt::Debug for IdleSlot<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdleSlot")
            .field("name", &self.shared.name)
            .field("keep_alive", &self.shared.keep_alive)
            .field("loaded", &self.is_loaded())
            .finish()
    }
}

struct Shared<T> {
    name: String,
    keep_alive: Option<Duration>,
    state: Mutex<State<T>>,
    /// Held while loading, so callers arriving together load the value once.
    loading: Mutex<()>,
}

struct State<T> {
    value: Option<Arc<T>>,
    /// Calls using the value now.
    active: usize,
    /// When the last call ended (or the value was loaded).
    last_used: Instant,
}

impl<T: Send + Sync + 'static> IdleSlot<T> {
    /// An empty slot for `name` (used in log lines). With `keep_alive`, a thread of its own
    /// unloads the value after that long without use; the thread ends with the slot.
    pub fn new(name: &str, keep_alive: Option<Duration>) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            name: name.to_owned(),
            keep_alive,
            state: Mutex::new(State {
                value: None,
                active: 0,
                last_used: Instant::now(),
            }),
            loading: Mutex::new(()),
        });
        if let Some(keep_alive) = keep_alive {
            let watched = Arc::downgrade(&shared);
            std::thread::Builder::new()
                .name(format!("{name}-keep-alive"))
                .spawn(move || unload_when_idle(&watched, keep_alive))?;
        }
        Ok(Self { shared })
    }
}

impl<T> IdleSlot<T> {
    /// Whether the value is in memory now.
    pub fn is_loaded(&self) -> bool {
        self.shared.lock_state().value.is_some()
    }

    /// The value if it is in memory now, without loading it.
    pub fn current(&self) -> Option<Arc<T>> {
        self.shared.lock_state().value.clone()
    }

    /// Puts an already loaded value in the slot (it then ages like a loaded one).
    fn put(&self, value: T) -> Arc<T> {
        let value = Arc::new(value);
        let mut state = self.shared.lock_state();
        state.value = Some(Arc::clone(&value));
        state.last_used = Instant::now();
        value
    }

    /// The value, loading it with `load` first when it is not in memory. Blocks while another
    /// caller loads it.
    pub fn get_or_load<E>(&self, load: impl FnOnce() -> Result<T, E>) -> Result<Arc<T>, E> {
        if let Some(value) = self.current() {
            return Ok(value);
        }
        let _loading = self
            .shared
            .loading
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(value) = self.current() {
            return Ok(value);
        }
        let started = Instant::now();
        let value = self.put(load()?);
        tracing::info!(model = %self.shared.name, elapsed = ?started.elapsed(), "model loaded");
        Ok(value)
    }

    /// Takes `value` out of the slot if it is still the one there (a value found broken, such
    /// as a model process that died); the next call loads a new one.
    pub fn discard(&self, value: &Arc<T>) {
        let taken = {
            let mut state = self.shared.lock_state();
            if state
                .value
                .as_ref()
                .is_some_and(|current| Arc::ptr_eq(current, value))
            {
                state.value.take()
            } else {
                None
            }
        };
        drop(taken);
    }

    /// Marks the value as in use until the returned lease is dropped: it is not unloaded
    /// meanwhile, and its idle time starts when the last lease ends.
    pub fn lease(&self) -> Lease<T> {
        self.shared.lock_state().active += 1;
        Lease(Arc::clone(&self.shared))
    }
}

impl<T> Shared<T> {
    fn lock_state(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Keeps an [`IdleSlot`]'s value loaded while it lives.
pub struct Lease<T>(Arc<Shared<T>>);

impl<T> Drop for Lease<T> {
    fn drop(&mut self) {
        let mut state = self.0.lock_state();
        state.active = state.active.saturating_sub(1);
        state.last_used = Instant::now();
    }
}

/// Drops the value once it has been idle for `keep_alive`; ends when the slot is gone.
fn unload_when_idle<T>(shared: &Weak<Shared<T>>, keep_alive: Duration) {
    let tick = (keep_alive / 4).clamp(Duration::from_millis(20), Duration::from_secs(15));
    loop {
        std::thread::sleep(tick);
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let idle_value = {
            let mut state = shared.lock_state();
            let idle = state.active == 0 && state.last_used.elapsed() >= keep_alive;
            if idle { state.value.take() } else { None }
        };
        if let Some(value) = idle_value {
            // Dropped outside the lock: dropping a model may join its worker thread. A value
            // still held by a caller that took it without a lease is freed when that caller ends.
            drop(value);
            crate::process_memory::release_freed_memory();
            tracing::info!(model = %shared.name, ?keep_alive, "idle model unloaded");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn wait_until(what: impl Fn() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if what() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    #[test]
    fn loads_once_and_unloads_after_keep_alive() {
        let loads = AtomicUsize::new(0);
        let slot = IdleSlot::new("test", Some(Duration::from_millis(50))).unwrap();
        assert!(!slot.is_loaded());
        let load = || {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(7)
        };
        assert_eq!(*slot.get_or_load(load).unwrap(), 7);
        assert_eq!(*slot.get_or_load(load).unwrap(), 7);
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert!(wait_until(|| !slot.is_loaded()), "never unloaded");
        assert_eq!(*slot.get_or_load(load).unwrap(), 7);
        assert_eq!(loads.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_lease_keeps_the_value_loaded() {
        let slot = IdleSlot::new("test", Some(Duration::from_millis(20))).unwrap();
        slot.get_or_load(|| Ok::<_, ()>(1)).unwrap();
        let lease = slot.lease();
        std::thread::sleep(Duration::from_millis(200));
        assert!(slot.is_loaded(), "unloaded while in use");
        drop(lease);
        assert!(wait_until(|| !slot.is_loaded()), "never unloaded after use");
    }

    #[test]
    fn without_keep_alive_the_value_stays() {
        let slot = IdleSlot::new("test", None).unwrap();
        slot.get_or_load(|| Ok::<_, ()>(1)).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert!(slot.is_loaded());
    }

    #[test]
    fn a_failed_load_leaves_the_slot_empty_and_is_retried() {
        let slot = IdleSlot::<u8>::new("test", None).unwrap();
        assert_eq!(slot.get_or_load(|| Err("broken")).unwrap_err(), "broken");
        assert!(!slot.is_loaded());
        assert_eq!(*slot.get_or_load(|| Ok::<_, &str>(3)).unwrap(), 3);
    }

    #[test]
    fn concurrent_callers_load_once() {
        let loads = Arc::new(AtomicUsize::new(0));
        let slot = Arc::new(IdleSlot::new("test", None).unwrap());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let slot = Arc::clone(&slot);
                let loads = Arc::clone(&loads);
                std::thread::spawn(move || {
                    slot.get_or_load(|| {
                        loads.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(30));
                        Ok::<_, ()>(5)
                    })
                    .unwrap();
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }
}
