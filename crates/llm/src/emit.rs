//! Turns a provider's straight-line async code into a [`ChatStream`].
//!
//! The provider writes an `async` block that calls [`Emitter::emit`]; the stream polls that block
//! inline (no spawned task), so nothing happens until the caller polls, reading the network stays
//! in step with the consumer, and dropping the stream drops the block — and with it the HTTP
//! response or the child process — which is how cancellation works.
//!
//! The stream is also where every provider error is scrubbed of secrets: each stream carries a
//! [`ErrorScrubber`], and the error it ends with passes through it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::task::{Context, Poll};

use futures_core::Stream;
use localgpt_core::chat::{ChatError, ChatEvent, ChatStream};

use crate::scrub::ErrorScrubber;

/// Where a provider puts the events of a reply. Clones share the same queue and count.
#[derive(Debug, Clone)]
pub struct Emitter {
    queue: mpsc::Sender<ChatEvent>,
    emitted: Arc<AtomicUsize>,
    scrubber: Arc<ErrorScrubber>,
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
            scrubber: Arc::new(ErrorScrubber::default()),
        };
        (emitter, events)
    }

    /// How many events were emitted so far; retries are only allowed while this is zero.
    pub fn emitted(&self) -> usize {
        self.emitted.load(Ordering::SeqCst)
    }

    /// `text` without the secrets this stream's scrubber knows, nor URL credentials.
    pub fn scrub_text(&self, text: &str) -> String {
        self.scrubber.scrub_text(text).into_owned()
    }

    /// At most `max_chars` of `text`, scrubbed first so no part of a secret survives the cut.
    pub fn excerpt(&self, text: &str, max_chars: usize) -> String {
        self.scrubber
            .scrub_text(text)
            .chars()
            .take(max_chars)
            .collect()
    }

    /// `error` without the secrets this stream's scrubber knows, nor URL credentials.
    pub fn scrub(&self, error: ChatError) -> ChatError {
        self.scrubber.scrub_error(error)
    }
}

type Producer = Pin<Box<dyn Future<Output = Result<(), ChatError>> + Send>>;

/// Builds a stream from a producer. The producer's error, if any, is the last item, scrubbed
/// by `scrubber`.
pub fn stream_from<F, Fut>(scrubber: ErrorScrubber, produce: F) -> ChatStream
where
    F: FnOnce(Emitter) -> Fut,
    Fut: Future<Output = Result<(), ChatError>> + Send + 'static,
{
    let (queue, events) = mpsc::channel();
    let emitter = Emitter {
        queue,
        emitted: Arc::new(AtomicUsize::new(0)),
        scrubber: Arc::new(scrubber),
    };
    let scrubber = Arc::clone(&emitter.scrubber);
    Box::pin(ProducerStream {
        producer: Some(Box::pin(produce(emitter))),
        scrubber,
        events,
        error: None,
    })
}

struct ProducerStream {
    producer: Option<Producer>,
    scrubber: Arc<ErrorScrubber>,
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
            this.error = result.err().map(|error| this.scrubber.scrub_error(error));
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
