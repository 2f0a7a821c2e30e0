//! Turns a provider's straight-line async code into a [`ChatStream`].
//!
//! The provider writes an `async` block that calls [`Emitter::emit`]; the stream polls that block
//! inline (no spawned task), so nothing happens until the caller polls, reading the network stays
//! in step with the consumer, and dropping the stream drops the block — and with it the HTTP
//! response or the child process — which is how cancellation works.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::task::{Context, Poll};

use futures_core::Stream;
use localgpt_core::chat::{ChatError, ChatEvent, ChatStream};

/// Where a provider puts the events of a reply. Clones share the same queue and count.
#[derive(Debug, Clone)]
pub struct Emitter {
    queue: mpsc::Sender<ChatEvent>,
    emitted: Arc<AtomicUsize>,
}

impl Emitter {
    /// Queues one event for the consumer.
    pub fn emit(&self, event: ChatEvent) {
        self.emitted.fetch_add(1, Ordering::SeqCst);
        // The receiver lives as long as the stream that polls us; a send cannot fail while we run.
        let _ = self.queue.send(event);
    }

    /// An emitter whose events are simply collected, for decoder tests.
    #[cfg(test)]
    pub fn collecting() -> (Self, mpsc::Receiver<ChatEvent>) {
        let (queue, events) = mpsc::channel();
        let emitter = Self {
            queue,
            emitted: Arc::new(AtomicUsize::new(0)),
        };
        (emitter, events)
    }

    /// How many events were emitted so far; retries are only allowed while this is zero.
    pub fn emitted(&self) -> usize {
        self.emitted.load(Ordering::SeqCst)
    }
}

type Producer = Pin<Box<dyn Future<Output = Result<(), ChatError>> + Send>>;

/// Builds a stream from a producer. The producer's error, if any, is the last item.
pub fn stream_from<F, Fut>(produce: F) -> ChatStream
where
    F: FnOnce(Emitter) -> Fut,
    Fut: Future<Output = Result<(), ChatError>> + Send + 'static,
{
    let (queue, events) = mpsc::channel();
    let emitter = Emitter {
        queue,
        emitted: Arc::new(AtomicUsize::new(0)),
    };
    Box::pin(ProducerStream {
        producer: Some(Box::pin(produce(emitter))),
        events,
        error: None,
    })
}

struct ProducerStream {
    producer: Option<Producer>,
    events: mpsc::Receiver<ChatEvent>,
    error: Option<ChatError>,
}

impl Stream for ProducerStream {
    type Item = Result<ChatEvent, ChatError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Ok(event) = this.events.try_recv() {
            return Poll::Ready(Some(Ok(event)));
        }
        if let Some(producer) = this.producer.as_mut()
            && let Poll::Ready(result) = producer.as_mut().poll(cx)
        {
            this.producer = None;
            this.error = result.err();
        }
        if let Ok(event) = this.events.try_recv() {
            return Poll::Ready(Some(Ok(event)));
        }
        if this.producer.is_some() {
            // The producer is waiting on I/O or a timer, which will wake this task.
            return Poll::Pending;
        }
        Poll::Ready(this.error.take().map(Err))
    }
}
