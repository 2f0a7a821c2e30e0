//! Who is calling: the owner (the token, compared in constant time), a token-less caller on
//! loopback whose request names the daemon's own origin, or anyone else. Chat passes this
//! identity to the control plane; the other endpoints serve only the owner. Wrong tokens are
//! counted per address and throttled (see `caps`).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderName;
use axum::http::header::{HOST, ORIGIN};
use axum::http::request::Parts;
use localgpt_core::ingress::Sender;
use subtle::ConstantTimeEq;

use crate::listen::LocalAddr;
use crate::{ApiError, ServerState};

/// The caller's identity, as the adapter authenticated it, and the address it called from.
#[derive(Debug, Clone)]
pub struct Caller(pub Sender, pub Option<IpAddr>);

impl Caller {
    /// Whether the caller may use owner-only endpoints.
    pub fn require_owner(&self, state: &ServerState) -> Result<(), ApiError> {
        if self.is_owner(state) {
            Ok(())
        } else {
            Err(ApiError::unauthorized())
        }
    }

    /// Whether the caller is the owner (by token, or as the local user when that is allowed).
    pub fn is_owner(&self, state: &ServerState) -> bool {
        match self.0 {
            Sender::OwnerToken => true,
            Sender::LoopbackAnonymous => state.allow_local_unauthenticated,
            _ => false,
        }
    }

    /// For a caller who is not the owner, counts a chat against the untrusted caps (429 when
    /// over them); the owner is not capped.
    pub fn count_chat(&self, state: &ServerState) -> Result<(), ApiError> {
        if self.is_owner(state) {
            Ok(())
        } else {
            state.caps.untrusted_chat(self.1)
        }
    }
}

impl FromRequestParts<ServerState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ServerState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| *peer);
        let ip = peer.map(|peer| peer.ip());
        let presented = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        let token = state
            .auth_token
            .as_ref()
            .filter(|token| !token.expose().trim().is_empty());
        // With a token configured, a presented token must match it (a wrong one is refused
        // outright, and too many wrong ones from an address refuse it any token for a while).
        // Without one, clients that always send a key (OpenAI SDKs) are anonymous.
        if let (Some(presented), Some(token)) = (presented, token) {
            state.caps.may_try_token(ip)?;
            return if bool::from(token.expose().as_bytes().ct_eq(presented.trim().as_bytes())) {
                Ok(Self(Sender::OwnerToken, ip))
            } else {
                state.caps.wrong_token(ip);
                Err(ApiError::unauthorized())
            };
        }
        let loopback = ip.is_some_and(|ip| ip.is_loopback());
        // A web page elsewhere can make the browser call 127.0.0.1 (through a rebound DNS name,
        // a form post, or a page served on another local port): only requests naming the
        // daemon's own loopback address, from its own page or no page at all, count as the
        // local user.
        let own_port = parts
            .extensions
            .get::<LocalAddr>()
            .map(|LocalAddr(local)| local.port());
        let local_page = own_port.is_some_and(|port| {
            names_own_origin(parts, HOST, port, false)
                && names_own_origin(parts, ORIGIN, port, true)
        });
        Ok(Self(
            if loopback && local_page {
                Sender::LoopbackAnonymous
            } else {
                Sender::RemoteAnonymous
            },
            ip,
        ))
    }
}

/// Whether the `name` header (`Host`, or `Origin` with its `http://`) names the daemon's own
/// loopback `host:port`. An absent header passes when `absent_ok`.
fn names_own_origin(parts: &Parts, name: HeaderName, port: u16, absent_ok: bool) -> bool {
    let Some(value) = parts.headers.get(&name) else {
        return absent_ok;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let authority = if name == ORIGIN {
        match value.strip_prefix("http://") {
            Some(authority) => authority,
            None => return false,
        }
    } else {
        value
    };
    is_own_authority(authority, port)
}

/// `host:port` where host is `localhost`, an IPv4 loopback address or `[::1]`, and the port is
/// the daemon's (it may be left out only when that is 80). Anything else — another port, a
/// trailing dot, userinfo, a path — is not the daemon's own origin.
fn is_own_authority(authority: &str, port: u16) -> bool {
    let (host, given_port) = if let Some(rest) = authority.strip_prefix('[') {
        match rest.split_once(']') {
            Some((host, "")) => (host, None),
            Some((host, tail)) => match tail.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return false,
            },
            None => return false,
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port_matches = match given_port {
        None => port == 80,
        Some(given) => {
            given.len() <= 5
                && given.bytes().all(|byte| byte.is_ascii_digit())
                && given.parse::<u16>().is_ok_and(|given| given == port)
        }
    };
    let loopback_host = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() && (ip.is_ipv4() || authority.starts_with('[')));
    port_matches && loopback_host
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_daemons_own_loopback_address_counts_as_local() {
        for own in [
            "127.0.0.1:31327",
            "localhost:31327",
            "LOCALHOST:31327",
            "[::1]:31327",
            "127.1.2.3:31327",
        ] {
            assert!(is_own_authority(own, 31327), "{own}");
        }
        for foreign in [
            "127.0.0.1:8080",
            "localhost:31328",
            "localhost",
            "localhost.:31327",
            "localhost.evil.example:31327",
            "127.0.0.1.evil.example:31327",
            "evil.example:31327",
            "10.0.0.1:31327",
            "[::2]:31327",
            "[::1]:8080",
            "::1:31327",
            "127.0.0.1:+31327",
            "127.0.0.1:031327",
            "user@127.0.0.1:31327",
            "127.0.0.1:31327/",
            "",
        ] {
            assert!(!is_own_authority(foreign, 31327), "{foreign}");
        }
        assert!(is_own_authority("localhost", 80), "port 80 may be left out");
    }
}
