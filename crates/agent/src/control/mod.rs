//! The VIZIER control plane: the ingress bus every input enters by, trust from authenticated
//! identity, the persona and tool scope that follow from it, the plane that runs turns (one per
//! session at a time, under a deadline), artifact storage for what untrusted inputs produce, approvals waiting for the owner, and
//! the owner's event log.

pub mod approvals;
pub mod artifacts;
pub mod bus;
pub mod event_log;
pub mod failure;
pub mod plane;
pub mod trust;

pub use approvals::{ApprovalDesk, PendingApproval, TurnApprover, UnknownApproval};
pub use artifacts::{ArtifactError, ArtifactRecord, ArtifactStore};
pub use bus::{BusError, IngressBus, IngressQueue, Outcome, Submission, Ticket, bounded};
pub use event_log::{EventLog, EventLogError, OwnerEvent};
pub use failure::{FailureKind, TurnFailure};
pub use plane::{ControlPlane, TurnResult, TurnRunner, default_max_turns};
pub use trust::{Persona, TrustPolicy};
