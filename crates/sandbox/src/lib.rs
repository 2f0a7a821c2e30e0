//! LocalGPT's OS sandbox for shell commands. A [`Policy`] (from `[sandbox]`) says what a command
//! may read, write and reach, its resource limits and the environment it gets; [`Confinement`]
//! turns it into what the kernel enforces for one child process. On Linux: a process group with
//! no controlling terminal, `no_new_privs`, rlimits (and for root a pids cgroup, reused from
//! command to command), Landlock file-system, TCP and scope rules, a seccomp filter and a
//! scrubbed environment, and — when `allow_net` lists hosts — a network namespace whose only way
//! out is a filtering HTTP(S) proxy ([`Proxy`]). On macOS: the command runs under `sandbox-exec`
//! with the policy's Seatbelt profile ([`seatbelt`]). Credential stores and other LocalGPT homes
//! found anywhere inside the allowed folders are carved out (a bounded search before each
//! command). [`Support`] says what this machine enforces. On Linux, [`confine_self`] confines
//! the calling process itself the same way (LocalGPT's model process, before it parses a model).
//!
//! Known limit: Landlock allows by path, so a hard link to a credential file made *inside* an
//! allowed folder (by someone outside the sandbox) is readable through it; the sandbox cannot make
//! such links itself, since Landlock refuses links that would widen access.

mod address;
mod env;
mod error;
mod net;
mod policy;
mod scan;
pub mod seatbelt;
mod support;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "macos")]
mod macos;

mod confine;

pub use address::is_public;
pub use confine::Confinement;
pub use env::{BASE_ENV, scrubbed_environment};
pub use error::SandboxError;
pub use localgpt_core::config::{SandboxLevel, SandboxLimits};
pub use net::{Allowlist, DEFAULT_PORTS, PROXY_PORT, PROXY_URL, Permit, Proxy};
pub use policy::Policy;
pub use scan::{MAX_DEPTH as SCAN_MAX_DEPTH, MAX_ENTRIES as SCAN_MAX_ENTRIES};
pub use support::{ProcessLimit, Support};

#[cfg(target_os = "linux")]
pub use linux::self_confine::{SelfConfinement, confine_self};
