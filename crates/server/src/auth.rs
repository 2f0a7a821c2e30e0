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
        Ok(Self(if loopback {
            Sender::LoopbackAnonymous
        } else {
            Sender::RemoteAnonymous
        }))
    }
}
