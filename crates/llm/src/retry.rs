//! Retrying transient failures: exponential backoff with jitter, `retry-after` honoured, and a
//! budget of attempts and total waiting so a broken provider fails in bounded time.
//!
//! A request is only retried while nothing of its reply has reached the caller, so streamed text
//! is never duplicated.

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::BuildHasher;
use std::time::{Duration, SystemTime};

use localgpt_core::chat::ChatError;

use crate::emit::Emitter;

/// How often and how long to retry rate limits, 5xx answers and broken connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Most requests in total, the first included. 1 disables retrying.
    pub max_attempts: u32,
    /// Wait before the first retry; doubles each time.
    pub initial_backoff: Duration,
    /// Longest single wait chosen by backoff.
    pub max_backoff: Duration,
    /// Longest total waiting across all retries; a `retry-after` beyond it gives up at once.
    pub max_total_wait: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts, 1 s doubling up to 20 s, at most 60 s of waiting in all.
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(20),
            max_total_wait: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The wait before attempt `attempt + 1` after `attempt` failed, or `None` to give up.
    /// `waited` is the time already spent waiting.
    pub fn delay(
        &self,
        attempt: u32,
        waited: Duration,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let delay = match retry_after {
            Some(asked) => asked,
            None => {
                let exponent = attempt.saturating_sub(1).min(16);
                let backoff = self
                    .initial_backoff
                    .saturating_mul(1 << exponent)
                    .min(self.max_backoff);
                // Full jitter in the upper half: spreads clients out without waiting too little.
                backoff.mul_f64(0.5 + 0.5 * random_unit())
            }
        };
        (waited + delay <= self.max_total_wait).then_some(delay)
    }
}

/// A number in `[0, 1)`, random enough for jitter.
fn random_unit() -> f64 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let hash = RandomState::new().hash_one(nanos);
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

/// Reads a `retry-after` (seconds or HTTP date) or `retry-after-ms` header value.
pub fn parse_retry_after(seconds_or_date: Option<&str>, millis: Option<&str>) -> Option<Duration> {
    if let Some(ms) = millis.and_then(|v| v.trim().parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    let value = seconds_or_date?.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(
        date.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Runs `attempt` until it succeeds, fails for good, or the budget is spent. Each attempt gets a
/// clone of the emitter; once it has emitted anything, failures are final.
pub async fn with_retry<F, Fut>(
    provider: &str,
    policy: &RetryPolicy,
    emitter: Emitter,
    mut attempt: F,
) -> Result<(), ChatError>
where
    F: FnMut(Emitter) -> Fut,
    Fut: Future<Output = Result<(), ChatError>>,
{
    let mut attempts = 0;
    let mut waited = Duration::ZERO;
    loop {
        attempts += 1;
        let error = match attempt(emitter.clone()).await {
            Ok(()) => return Ok(()),
            // Scrubbed before it is logged below.
            Err(error) => emitter.scrub(error),
        };
        if !error.is_retryable() || emitter.emitted() > 0 {
            return Err(error.with_attempts(attempts));
        }
        let Some(delay) = policy.delay(attempts, waited, error.retry_after()) else {
            return Err(error.with_attempts(attempts));
        };
        tracing::warn!(
            provider,
            attempt = attempts,
            delay_ms = delay.as_millis() as u64,
            %error,
            "retrying model request"
        );
        tokio::time::sleep(delay).await;
        waited += delay;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_millis_and_dates() {
        assert_eq!(
            parse_retry_after(Some("2"), None),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            parse_retry_after(Some("2"), Some("1500")),
            Some(Duration::from_millis(1500))
        );
        let soon = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        let parsed = parse_retry_after(Some(&soon), None).unwrap_or_default();
        assert!(parsed > Duration::from_secs(25) && parsed <= Duration::from_secs(30));
        let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(30));
        assert_eq!(parse_retry_after(Some(&past), None), Some(Duration::ZERO));
        assert_eq!(parse_retry_after(Some("soon"), None), None);
        assert_eq!(parse_retry_after(None, None), None);
    }

    #[test]
    fn backoff_grows_is_capped_and_respects_the_budget() {
        let policy = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(400),
            max_total_wait: Duration::from_secs(1),
        };
        let first = policy.delay(1, Duration::ZERO, None).unwrap_or_default();
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
        let late = policy.delay(6, Duration::ZERO, None).unwrap_or_default();
        assert!(late >= Duration::from_millis(200) && late <= Duration::from_millis(400));
        assert_eq!(policy.delay(10, Duration::ZERO, None), None);
        assert_eq!(
            policy.delay(1, Duration::ZERO, Some(Duration::from_secs(2))),
            None
        );
        assert_eq!(
            policy.delay(
                1,
                Duration::from_millis(900),
                Some(Duration::from_millis(50))
            ),
            Some(Duration::from_millis(50))
        );
    }
}
