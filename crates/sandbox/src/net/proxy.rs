//! The filtering proxy of one confined command: accepts connections on a listener (inside the
//! command's network namespace), serves each on a thread of its own ([`super::relay`]), and
//! stops — listener and every open connection shut down — when the [`Proxy`] is dropped, that
//! is when the command's [`crate::Confinement`] is.

use std::collections::HashMap;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use super::allow::Allowlist;

/// Connections served at once; more are closed at once.
const MAX_CONNECTIONS: usize = 64;

/// The open sockets of a proxy, shut down when it stops.
#[derive(Debug, Default)]
pub struct Live {
    inner: Mutex<LiveInner>,
}

#[derive(Debug, Default)]
struct LiveInner {
    stopped: bool,
    next: u64,
    streams: HashMap<u64, TcpStream>,
}

/// A registered socket; unregistered when dropped.
#[derive(Debug)]
pub struct Registered<'a> {
    live: &'a Live,
    id: u64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.live.lock().streams.remove(&self.id);
    }
}

impl Live {
    fn lock(&self) -> MutexGuard<'_, LiveInner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers `streams` so they are shut down when the proxy stops; `None` when it already
    /// has, or when too many are open.
    pub fn register(&self, streams: &[&TcpStream]) -> Option<Vec<Registered<'_>>> {
        let mut inner = self.lock();
        if inner.stopped || inner.streams.len() + streams.len() > 2 * MAX_CONNECTIONS {
            return None;
        }
        let mut registered = Vec::new();
        for stream in streams {
            let copy = stream.try_clone().ok()?;
            let id = inner.next;
            inner.next += 1;
            inner.streams.insert(id, copy);
            registered.push(Registered { live: self, id });
        }
        Some(registered)
    }

    fn stop(&self) {
        let mut inner = self.lock();
        inner.stopped = true;
        for stream in inner.streams.values() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// What the accepting thread and [`Proxy`] share.
#[derive(Debug)]
struct Shared {
    allow: Allowlist,
    live: Live,
    fds: Mutex<Fds>,
}

/// The descriptors the accepting thread blocks on, shut down to wake it when stopping. The
/// thread clears an entry before it closes that descriptor.
#[derive(Debug, Default)]
struct Fds {
    stopped: bool,
    listener: Option<RawFd>,
    receiver: Option<RawFd>,
}

impl Shared {
    fn fds(&self) -> MutexGuard<'_, Fds> {
        self.fds
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running proxy; dropping it stops it.
#[derive(Debug)]
pub struct Proxy {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Serves `listener` with `allow`.
    pub fn serve(listener: TcpListener, allow: Allowlist) -> io::Result<Self> {
        let shared = Self::shared(allow);
        shared.fds().listener = Some(listener.as_raw_fd());
        let thread = {
            let shared = Arc::clone(&shared);
            spawn("sandbox-proxy", move || accept_loop(&shared, listener))?
        };
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Waits (on a thread) for the command's child to send its listener over `receiver`, then
    /// serves it.
    #[cfg(target_os = "linux")]
    pub fn serve_received(receiver: std::os::fd::OwnedFd, allow: Allowlist) -> io::Result<Self> {
        let shared = Self::shared(allow);
        shared.fds().receiver = Some(receiver.as_raw_fd());
        let thread = {
            let shared = Arc::clone(&shared);
            spawn("sandbox-proxy", move || {
                let received = crate::linux::netns::receive_listener(&receiver);
                shared.fds().receiver = None;
                drop(receiver);
                if let Ok(Some(listener)) = received {
                    let listener = TcpListener::from(listener);
                    {
                        let mut fds = shared.fds();
                        if fds.stopped {
                            return;
                        }
                        fds.listener = Some(listener.as_raw_fd());
                    }
                    accept_loop(&shared, listener);
                }
            })?
        };
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    fn shared(allow: Allowlist) -> Arc<Shared> {
        Arc::new(Shared {
            allow,
            live: Live::default(),
            fds: Mutex::new(Fds::default()),
        })
    }
}

fn spawn(name: &str, run: impl FnOnce() + Send + 'static) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name(name.to_owned()).spawn(run)
}

fn accept_loop(shared: &Arc<Shared>, listener: TcpListener) {
    loop {
        let accepted = listener.accept();
        if shared.fds().stopped {
            break;
        }
        let Ok((client, _)) = accepted else {
            // Out of descriptors or memory: wait rather than spin.
            std::thread::sleep(std::time::Duration::from_millis(50));
            continue;
        };
        let shared = Arc::clone(shared);
        let _ = spawn("sandbox-proxy-conn", move || {
            let Some(_registered) = shared.live.register(&[&client]) else {
                return;
            };
            super::relay::serve(client, &shared.allow, &shared.live);
        });
    }
    shared.fds().listener = None;
}

impl Drop for Proxy {
    fn drop(&mut self) {
        {
            let mut fds = self.shared.fds();
            fds.stopped = true;
            for fd in [fds.listener, fds.receiver].into_iter().flatten() {
                // SAFETY: the accepting thread closes neither descriptor before clearing it
                // under this lock, so both are still open; shutdown only wakes its waits.
                unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
            }
        }
        self.shared.live.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
