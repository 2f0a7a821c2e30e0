//! LocalGPT's shared foundation.
//!
//! Everything that more than one crate needs lives here and nowhere else: the configuration schema
//! and its loader, the on-disk layout of a LocalGPT home, atomic file writes, the starter
//! workspace, and the plain traits at the seams between crates (such as [`embed::Embedder`]).
//! This crate depends on no other crate of ours and does no heavy I/O.

pub mod chat;
pub mod config;
pub mod embed;
pub mod fs;
pub mod ingress;
pub mod paths;
pub mod protected;
pub mod redact;
pub mod text;
pub mod workspace;

pub use config::Config;
pub use paths::Paths;
