//! The listening loop, hardened against clients that hold connections open without asking
//! anything (slowloris): every connection must send its request headers within the header
//! timeout (which also closes kept-alive connections left idle that long), and only so many
//! connections may be open at once. At the cap, the oldest connection with no request in flight
//! (half a header, or idle) is closed to make room, so a flood of such connections cannot keep
//! `/health` out; when every open connection is busy with a request, new ones wait in the listen
//! backlog until one finishes.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use http_body::{Frame, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower_service::Service;

use crate::Limits;

/// The address a connection arrived at (the daemon's own `host:port`), in every request's
/// extensions, so only the daemon's own origin counts as the owner's page.
#[derive(Debug, Clone, Copy)]
pub struct LocalAddr(pub SocketAddr);

/// Most bytes of request line and headers buffered before hyper itself refuses the request with
/// a bare 431; the request guard answers smaller excesses with a JSON error first.
const MAX_HEAD_BUFFER: usize = 256 * 1024;
/// Most header lines hyper parses before refusing the request with a bare 431 (the guard's JSON
/// limit is lower).
const MAX_HEADER_LINES: usize = 400;

/// One open connection, as the table knows it.
struct Open {
    /// Requests being answered on it; 0 means it may be closed to make room.
    in_flight: Arc<AtomicUsize>,
    /// Wakes its task to close it.
    evict: Arc<Notify>,
}

/// The open connections, oldest first (ids only grow).
struct Connections {
    open: Mutex<BTreeMap<u64, Open>>,
    next: AtomicU64,
    freed: Notify,
    max: usize,
}

/// A connection's place in the table.
struct Slot {
    id: u64,
    in_flight: Arc<AtomicUsize>,
    evict: Arc<Notify>,
}

impl Connections {
    fn new(max: usize) -> Self {
        Self {
            open: Mutex::new(BTreeMap::new()),
            next: AtomicU64::new(0),
            freed: Notify::new(),
            max: max.max(1),
        }
    }

    fn table(&self) -> MutexGuard<'_, BTreeMap<u64, Open>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot for a new connection, closing the oldest idle one when at the cap; `None` when
    /// every open connection is busy.
    fn admit(&self) -> Option<Slot> {
        let mut table = self.table();
        if table.len() >= self.max {
            let idle = table
                .iter()
                .find(|(_, open)| open.in_flight.load(Ordering::Acquire) == 0)
                .map(|(id, _)| *id)?;
            if let Some(victim) = table.remove(&idle) {
                victim.evict.notify_one();
            }
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let slot = Slot {
            id,
            in_flight: Arc::new(AtomicUsize::new(0)),
            evict: Arc::new(Notify::new()),
        };
        table.insert(
            id,
            Open {
                in_flight: Arc::clone(&slot.in_flight),
                evict: Arc::clone(&slot.evict),
            },
        );
        Some(slot)
    }

    fn release(&self, id: u64) {
        self.table().remove(&id);
        self.freed.notify_one();
    }

    fn is_empty(&self) -> bool {
        self.table().is_empty()
    }
}

/// Counts a request as in flight until its response has been sent (or dropped).
struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn new(in_flight: &Arc<AtomicUsize>) -> Self {
        in_flight.fetch_add(1, Ordering::AcqRel);
        Self(Arc::clone(in_flight))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request counted as in flight while it is being sent.
struct Tracked {
    inner: Body,
    _busy: Busy,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets open connections finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let connections = Arc::new(Connections::new(limits.max_connections));
    let (stop, stopped) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    // Out of file descriptors and the like: wait a moment instead of spinning.
                    tracing::warn!("cannot accept a connection: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let slot = loop {
            if let Some(slot) = connections.admit() {
                break Some(slot);
            }
            tokio::select! {
                () = &mut shutdown => break None,
                () = connections.freed.notified() => {}
            }
        };
        let Some(slot) = slot else { break };
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().unwrap_or(peer);
        tokio::spawn(serve_connection(
            stream,
            peer,
            local,
            router.clone(),
            limits,
            slot,
            stopped.clone(),
            Arc::clone(&connections),
        ));
    }
    let _ = stop.send(true);
    loop {
        let freed = connections.freed.notified();
        if connections.is_empty() {
            return Ok(());
        }
        freed.await;
    }
}

/// Serves one connection until it ends, is closed to make room, or the server stops.
#[allow(clippy::too_many_arguments)]
async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    router: Router,
    limits: Limits,
    slot: Slot,
    mut stopped: watch::Receiver<bool>,
    connections: Arc<Connections>,
) {
    let in_flight = Arc::clone(&slot.in_flight);
    let service = hyper::service::service_fn(move |mut request: Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request.extensions_mut().insert(LocalAddr(local));
        let busy = Busy::new(&in_flight);
        let mut router = router.clone();
        async move {
            let response: Response = match router.call(request.map(Body::new)).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            Ok::<_, Infallible>(response.map(|inner| Tracked { inner, _busy: busy }))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEAD_BUFFER)
        .max_headers(MAX_HEADER_LINES);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    let stopping = async move {
        // The guard `wait_for` returns is not `Send`; only the fact matters.
        let _ = stopped.wait_for(|stop| *stop).await.is_ok();
    };
    tokio::select! {
        _ = connection.as_mut() => {}
        () = slot.evict.notified() => {}
        () = stopping => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
    connections.release(slot.id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_the_cap_the_oldest_idle_connection_makes_room() {
        let connections = Connections::new(2);
        let first = connections.admit().unwrap();
        let second = connections.admit().unwrap();
        let _busy = Busy::new(&first.in_flight);
        let third = connections.admit().unwrap();
        assert!(connections.table().contains_key(&first.id), "busy: kept");
        assert!(
            !connections.table().contains_key(&second.id),
            "idle: closed"
        );
        assert!(connections.table().contains_key(&third.id));
        let _busy_third = Busy::new(&third.in_flight);
        assert!(connections.admit().is_none(), "all busy: the next waits");
        connections.release(first.id);
        assert!(connections.admit().is_some());
    }
}
