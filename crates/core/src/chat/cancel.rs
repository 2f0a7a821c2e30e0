//! Cancelling a reply from elsewhere: a [`CancelToken`] shared by whoever may stop the turn, and
//! [`cancellable`], which ends a wrapped stream with [`StopReason::Cancelled`] once the token
//! fires (dropping the inner stream, which cancels the request).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use futures_core::Stream;

use super::{ChatError, ChatEvent, ChatStream, StopReason};

/// A handle that cancels streams wrapped with [`cancellable`]; clones share the same state.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<CancelState>);

#[derive(Debug, Default)]
struct CancelState {
    cancelled: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
}

impl CancelToken {
    /// A token that is not cancelled yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels every stream wrapped with this token.
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::SeqCst);
        let wakers = std::mem::take(&mut *self.lock_wakers());
        for waker in wakers {
            waker.wake();
        }
    }

    /// Whether [`CancelToken::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::SeqCst)
    }

    fn lock_wakers(&self) -> std::sync::MutexGuard<'_, Vec<Waker>> {
        // A poisoned list of wakers is still a valid list of wakers.
        self.0
            .wakers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn register(&self, waker: &Waker) {
        let mut wakers = self.lock_wakers();
        if !wakers.iter().any(|known| known.will_wake(waker)) {
            wakers.push(waker.clone());
        }
    }
}

impl Future for CancelToken {
    type Output = ();

    /// Resolves once the token is cancelled.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_cancelled() {
            return Poll::Ready(());
        }
        self.register(cx.waker());
        if self.is_cancelled() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// Wraps a reply so that cancelling `token` drops the underlying request and ends the stream with
/// `Stop(Cancelled)`.
pub fn cancellable(stream: ChatStream, token: CancelToken) -> ChatStream {
    Box::pin(Cancellable {
        inner: Some(stream),
        token,
        finished: false,
    })
}

struct Cancellable {
    inner: Option<ChatStream>,
    token: CancelToken,
    finished: bool,
}

impl Stream for Cancellable {
    type Item = Result<ChatEvent, ChatError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        if self.token.is_cancelled() {
            self.inner = None;
            self.finished = true;
            return Poll::Ready(Some(Ok(ChatEvent::Stop(StopReason::Cancelled))));
        }
        self.token.register(cx.waker());
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let next = inner.as_mut().poll_next(cx);
        if let Poll::Ready(None) = next {
            self.inner = None;
            self.finished = true;
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Pending;

    impl Stream for Pending {
        type Item = Result<ChatEvent, ChatError>;
        fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Poll::Pending
        }
    }

    #[test]
    fn cancelling_ends_the_stream_with_stop_cancelled() {
        let token = CancelToken::new();
        let mut stream = cancellable(Box::pin(Pending), token.clone());
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert!(stream.as_mut().poll_next(&mut cx).is_pending());
        token.cancel();
        assert_eq!(
            stream.as_mut().poll_next(&mut cx),
            Poll::Ready(Some(Ok(ChatEvent::Stop(StopReason::Cancelled))))
        );
        assert_eq!(stream.as_mut().poll_next(&mut cx), Poll::Ready(None));
    }
}
