//! Confinement a process applies to itself: LocalGPT's model process, which parses a model file
//! (often downloaded from the internet) with llama.cpp. Once it knows which model to load, and
//! before llama.cpp reads it, the process takes away its own rights: it may read the model, the
//! system folders and a few files the loader and thread pools need, write nothing, reach no
//! network, signal nobody outside, and run no program. A model file that took over the parser
//! would find nothing to read, write or reach.

use std::path::{Path, PathBuf};

use landlock::{
    Access, AccessFs, AccessNet, CompatLevel, Compatible, PathBeneath, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope,
};

use super::fs_rules::{TARGET, open_path};
use crate::SandboxError;
use crate::policy::{DEVICES, SYSTEM_READ};

/// Files and folders outside [`SYSTEM_READ`] that loading libraries and sizing thread pools read.
const RUNTIME_READ: &[&str] = &[
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/sys/devices/system/cpu",
    "/proc/self",
];

/// What [`confine_self`] got the kernel to enforce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelfConfinement {
    /// Landlock: every right handled (`true`), or only those this kernel knows (`false`).
    pub landlock_full: bool,
    /// Whether Landlock is enforced at all.
    pub landlock: bool,
    /// Whether the seccomp filter is installed.
    pub seccomp: bool,
}

/// Confines this process — the calling thread and every thread it starts afterwards, so call it
/// before starting any — to reading `readable` (files or folders) and the system. Irreversible.
pub fn confine_self(readable: &[PathBuf]) -> Result<SelfConfinement, SandboxError> {
    // SAFETY: prctl with PR_SET_NO_NEW_PRIVS only sets a flag of this process.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(SandboxError::Setup(format!(
            "no_new_privs: {}",
            std::io::Error::last_os_error()
        )));
    }
    let status = landlock_self(readable)?;
    for filter in super::seccomp::self_filters()? {
        seccompiler::apply_filter_all_threads(&filter)
            .map_err(|error| SandboxError::Setup(format!("seccomp: {error}")))?;
    }
    Ok(SelfConfinement {
        landlock_full: status == RulesetStatus::FullyEnforced,
        landlock: status != RulesetStatus::NotEnforced,
        seccomp: true,
    })
}

fn setup(error: impl std::fmt::Display) -> SandboxError {
    SandboxError::Setup(format!("Landlock: {error}"))
}

fn landlock_self(readable: &[PathBuf]) -> Result<RulesetStatus, SandboxError> {
    let read = AccessFs::from_read(TARGET);
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(TARGET))
        .map_err(setup)?
        .handle_access(AccessNet::from_all(TARGET))
        .map_err(setup)?
        .scope(Scope::from_all(TARGET))
        .map_err(setup)?
        .create()
        .map_err(setup)?;
    let reads = SYSTEM_READ
        .iter()
        .chain(RUNTIME_READ)
        .map(PathBuf::from)
        .chain(readable.iter().cloned());
    for path in reads {
        if let Some((fd, access)) = open_path(&path, read) {
            ruleset = ruleset
                .add_rule(PathBeneath::new(fd, access))
                .map_err(setup)?;
        }
    }
    for device in DEVICES {
        if let Some((fd, access)) = open_path(Path::new(device), AccessFs::from_file(TARGET)) {
            ruleset = ruleset
                .add_rule(PathBeneath::new(fd, access))
                .map_err(setup)?;
        }
    }
    let status = ruleset.restrict_self().map_err(setup)?;
    Ok(status.ruleset)
}
