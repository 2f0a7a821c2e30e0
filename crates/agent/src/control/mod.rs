//! The VIZIER control plane: the ingress bus every input enters by, trust from authenticated
//! identity, the persona and tool scope that follow from it, the plane that runs turns (one per
//! session at a time, under a deadline), and artifact storage for what untrusted inputs produce.

pub mod artifacts;
pub mod bus;
pub mod plane;
pub mod trust;

pub use artifacts::{ArtifactError, ArtifactRecord, ArtifactStore};
pub use bus::{BusError, IngressBus, IngressQueue, Outcome, Submission, Ticket, bounded};
pub use plane::{ControlPlane, TurnResult, TurnRunner};
pub use trust::{Persona, TrustPolicy};
