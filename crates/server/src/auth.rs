//! Who is calling: the owner (the token, compared in constant time), a token-less caller on
//! loopback, or anyone else. Chat passes this identity to the control plane; the other endpoints
//! serve only the owner.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use localgpt_core::ingress::Sender;
use subtle::ConstantTimeEq;

use crate::{ApiError, ServerState};

/// The caller's identity, as the adapter authenticated it.
#[derive(Debug, Clone)]
pub struct Caller(pub Sender);

impl Caller {
    /// Whether the caller may use owner-only endpoints.
    pub fn require_owner(&self, state: &ServerState) -> Result<(), ApiError> {
        match self.0 {
            Sender::OwnerToken => Ok(()),
            Sender::LoopbackAnonymous if state.allow_local_unauthenticated => Ok(()),
            _ => Err(ApiError::unauthorized()),
        }
    }
}

impl FromRequestParts<ServerState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ServerState,
    ) -> Result<Self, Self::Rejection> {
        let presented = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        // With a token configured, a presented token must match it (a wrong one is refused
        // outright). Without one, clients that always send a key (OpenAI SDKs) are anonymous.
        if let (Some(presented), Some(token)) = (presented, state.auth_token.as_ref()) {
            return if bool::from(token.expose().as_bytes().ct_eq(presented.trim().as_bytes())) {
                Ok(Self(Sender::OwnerToken))
            } else {
                Err(ApiError::unauthorized())
            };
        }
        let loopback = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .is_some_and(|ConnectInfo(peer)| peer.ip().is_loopback());
        // A web page elsewhere can make the browser call 127.0.0.1 (through a rebound DNS name,
        // or a form post): only requests naming a loopback host, from a loopback page or no page
        // at all, count as the local user.
        let local_page = header_names_loopback(parts, axum::http::header::HOST, false)
            && header_names_loopback(parts, axum::http::header::ORIGIN, true);
        Ok(Self(if loopback && local_page {
            Sender::LoopbackAnonymous
        } else {
            Sender::RemoteAnonymous
        }))
    }
}

/// Whether the `name` header names a loopback host (`localhost`, `127.x.x.x`, `[::1]`, any port).
/// An absent header passes when `absent_ok`.
fn header_names_loopback(parts: &Parts, name: axum::http::HeaderName, absent_ok: bool) -> bool {
    let Some(value) = parts.headers.get(&name) else {
        return absent_ok;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let authority = value
        .split_once("://")
        .map_or(value, |(_, rest)| rest)
        .trim_end_matches('/');
    is_loopback_authority(authority)
}

/// `host[:port]` where host is `localhost`, an IPv4 loopback address or `[::1]`.
fn is_loopback_authority(authority: &str) -> bool {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        match rest.split_once(']') {
            Some((host, _)) => host,
            None => return false,
        }
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_count_as_local() {
        for local in [
            "127.0.0.1:31327",
            "localhost",
            "LOCALHOST:80",
            "[::1]:31327",
            "127.1.2.3",
        ] {
            assert!(is_loopback_authority(local), "{local}");
        }
        for remote in [
            "evil.example:31327",
            "localhost.evil.example",
            "127.0.0.1.evil.example",
            "10.0.0.1",
            "[::2]:80",
            "",
        ] {
            assert!(!is_loopback_authority(remote), "{remote}");
        }
    }
}
