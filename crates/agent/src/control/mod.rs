//! The VIZIER control plane's decisions and stores: trust from authenticated identity, the persona
//! and tool scope that follow from it, and artifact storage for what untrusted inputs produce.

pub mod artifacts;
pub mod trust;

pub use artifacts::{ArtifactError, ArtifactRecord, ArtifactStore};
pub use trust::{Persona, TrustPolicy};
