//! How often strangers may make the model work: anyone can write to a bot (or reach the API), and
//! every message a stranger sends costs a model turn. Each stranger gets a few messages an hour,
//! and all strangers together a few more; beyond that their messages are refused without a model
//! call. Telegram counts by user id; the HTTP API by client address.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Messages one stranger may send per window.
pub const PER_STRANGER: usize = 5;
/// Messages all strangers together may send per window.
pub const ALL_STRANGERS: usize = 30;
/// The window.
pub const WINDOW: Duration = Duration::from_secs(3600);

/// A sliding-window count of strangers' messages, each stranger named by a `K` (a Telegram user
/// id by default). It remembers at most `all` messages, so its memory stays bounded.
#[derive(Debug)]
pub struct StrangerLimit<K = i64> {
    per_stranger: usize,
    all: usize,
    window: Duration,
    recent: Mutex<VecDeque<(Instant, K)>>,
}

impl<K: PartialEq> Default for StrangerLimit<K> {
    fn default() -> Self {
        Self::new(PER_STRANGER, ALL_STRANGERS, WINDOW)
    }
}

impl<K: PartialEq> StrangerLimit<K> {
    /// At most `per_stranger` messages from one user and `all` from everyone per `window`.
    pub fn new(per_stranger: usize, all: usize, window: Duration) -> Self {
        Self {
            per_stranger,
            all,
            window,
            recent: Mutex::new(VecDeque::new()),
        }
    }

    /// Whether `user` may be answered now; counts the message when so.
    pub fn allow(&self, user: K, now: Instant) -> bool {
        let mut recent = self
            .recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while recent
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) >= self.window)
        {
            recent.pop_front();
        }
        let from_user = recent.iter().filter(|(_, id)| *id == user).count();
        if from_user >= self.per_stranger || recent.len() >= self.all {
            return false;
        }
        recent.push_back((now, user));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stranger_and_all_of_them_are_capped_per_window() {
        let limit = StrangerLimit::new(2, 3, Duration::from_secs(60));
        let start = Instant::now();
        assert!(limit.allow(1, start));
        assert!(limit.allow(1, start));
        assert!(!limit.allow(1, start), "a third from the same stranger");
        assert!(limit.allow(2, start));
        assert!(!limit.allow(3, start), "the total is reached");
        let later = start + Duration::from_secs(61);
        assert!(limit.allow(1, later), "the window moved on");
    }
}
