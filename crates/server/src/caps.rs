//! What untrusted callers may cost: chats an hour per client address and for all of them
//! together (like Telegram's strangers), and wrong owner tokens, after a few of which an address
//! is refused any token (429) until the window passes. Addresses are counted per IPv4 address
//! and per IPv6 /64, so one host cannot dodge the caps by rotating through its own addresses.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use localgpt_core::config::ServerConfig;

use crate::ApiError;
use crate::telegram::StrangerLimit;

/// Wrong tokens one address may present per [`TOKEN_WINDOW`].
pub const TOKEN_FAILURES: u32 = 10;
/// The window of [`TOKEN_FAILURES`].
pub const TOKEN_WINDOW: Duration = Duration::from_secs(15 * 60);
/// The window of the chat caps.
pub const CHAT_WINDOW: Duration = Duration::from_secs(3600);
/// Addresses remembered for wrong tokens; past it, new addresses share one count.
const MAX_TRACKED: usize = 4096;

/// The caps of one server.
#[derive(Debug)]
pub struct Caps {
    chats: StrangerLimit<IpAddr>,
    tokens: TokenThrottle,
}

impl Caps {
    /// `per_source` untrusted chats an hour per address and `total` for everyone.
    pub fn new(per_source: usize, total: usize) -> Self {
        Self {
            chats: StrangerLimit::new(per_source, total, CHAT_WINDOW),
            tokens: TokenThrottle::new(TOKEN_FAILURES, TOKEN_WINDOW),
        }
    }

    /// The caps `[server]` sets.
    pub fn from_config(config: &ServerConfig) -> Self {
        Self::new(
            config.untrusted_chats_per_source,
            config.untrusted_chats_total,
        )
    }

    /// Counts an untrusted chat from `peer`, or refuses it (429) when over a cap.
    pub(crate) fn untrusted_chat(&self, peer: Option<IpAddr>) -> Result<(), ApiError> {
        if self.chats.allow(source_of(peer), Instant::now()) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many chats without the owner token; try again later",
            ))
        }
    }

    /// Whether `peer` may present a token now; refused (429) after too many wrong ones.
    pub(crate) fn may_try_token(&self, peer: Option<IpAddr>) -> Result<(), ApiError> {
        if self.tokens.locked(source_of(peer), Instant::now()) {
            Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many wrong tokens from this address; try again later",
            ))
        } else {
            Ok(())
        }
    }

    /// Notes a wrong token from `peer`.
    pub(crate) fn wrong_token(&self, peer: Option<IpAddr>) {
        self.tokens.fail(source_of(peer), Instant::now());
    }
}

impl Default for Caps {
    fn default() -> Self {
        Self::from_config(&ServerConfig::default())
    }
}

/// The address caps count: IPv4 as is (also when mapped into IPv6), IPv6 by its /64.
fn source_of(peer: Option<IpAddr>) -> IpAddr {
    match peer.map(|ip| ip.to_canonical()) {
        Some(IpAddr::V6(ip)) => {
            let prefix = u128::from(ip) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        Some(ip) => ip,
        None => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

/// Wrong tokens per address in a fixed window from the first of them.
#[derive(Debug)]
struct TokenThrottle {
    limit: u32,
    window: Duration,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl TokenThrottle {
    fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn locked(&self, source: IpAddr, now: Instant) -> bool {
        let failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let key = Self::key(&failures, source);
        failures.get(&key).is_some_and(|(count, since)| {
            *count >= self.limit && now.duration_since(*since) < self.window
        })
    }

    fn fail(&self, source: IpAddr, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        if failures.len() >= MAX_TRACKED {
            failures.retain(|_, (_, since)| now.duration_since(*since) < self.window);
        }
        let key = Self::key(&failures, source);
        let entry = failures.entry(key).or_insert((0, now));
        if now.duration_since(entry.1) >= self.window {
            *entry = (0, now);
        }
        entry.0 = entry.0.saturating_add(1);
    }

    /// `source`, or the shared overflow key when too many addresses are remembered already.
    fn key(failures: &HashMap<IpAddr, (u32, Instant)>, source: IpAddr) -> IpAddr {
        if failures.len() >= MAX_TRACKED && !failures.contains_key(&source) {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        } else {
            source
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_tokens_lock_an_address_for_the_window() {
        let throttle = TokenThrottle::new(3, Duration::from_secs(60));
        let (one, other): (IpAddr, IpAddr) =
            ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let start = Instant::now();
        for _ in 0..3 {
            assert!(!throttle.locked(one, start));
            throttle.fail(one, start);
        }
        assert!(throttle.locked(one, start));
        assert!(
            !throttle.locked(other, start),
            "another address is not affected"
        );
        assert!(
            !throttle.locked(one, start + Duration::from_secs(61)),
            "the window passed"
        );
    }

    #[test]
    fn an_ipv6_host_counts_once_per_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(source_of(Some(a)), source_of(Some(b)));
        assert_ne!(source_of(Some(a)), source_of(Some(c)));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(
            source_of(Some(mapped)),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn a_spray_of_addresses_shares_one_count() {
        let throttle = TokenThrottle::new(2, Duration::from_secs(60));
        let now = Instant::now();
        for index in 0..MAX_TRACKED as u32 {
            throttle.fail(IpAddr::from(std::net::Ipv4Addr::from(index)), now);
        }
        let late: IpAddr = "203.0.113.9".parse().unwrap();
        throttle.fail(late, now);
        throttle.fail(late, now);
        assert!(throttle.locked(late, now));
    }
}
