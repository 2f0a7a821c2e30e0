//! The Landlock ruleset of a confined command: read-only system folders, the read-write
//! workspace, the configured roots with every protected path carved out, no TCP bind or
//! connect (but to the proxy's port, for `allow_net`), and (ABI 6) no signals or abstract
//! sockets to processes outside the sandbox.

use std::path::{Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath,
    PathFd, Ruleset, RulesetAttr, RulesetCreated, RulesetCreatedAttr, Scope,
};

use crate::SandboxError;
use crate::policy::{DEVICES, ETC_SECRETS, Policy, SYSTEM_READ};

/// The newest ABI whose rights this ruleset uses; older kernels get what they support.
const TARGET: ABI = ABI::V6;

fn setup(error: impl std::fmt::Display) -> SandboxError {
    SandboxError::Setup(format!("Landlock: {error}"))
}

/// One allowed path and its rights.
struct Grant {
    path: PathBuf,
    access: BitFlags<AccessFs>,
}

/// Builds the ruleset for `policy`, with `tmp` as the command's private temporary folder.
/// `strict`: fail rather than silently drop a right the kernel lacks. `proxy_port`: the one TCP
/// port the command may connect to (the proxy's, in its own network namespace).
pub fn ruleset(
    policy: &Policy,
    tmp: &Path,
    strict: bool,
    proxy_port: Option<u16>,
) -> Result<RulesetCreated, SandboxError> {
    let read = AccessFs::from_read(TARGET);
    let all = AccessFs::from_all(TARGET);
    let device = AccessFs::from_file(TARGET);
    let mut grants = Vec::new();
    for system in SYSTEM_READ {
        add_root(policy, Path::new(system), read, &mut grants);
    }
    add_etc(policy, read, &mut grants);
    for path in &policy.read {
        add_root(policy, path, read, &mut grants);
    }
    add_root(policy, &policy.workspace, all, &mut grants);
    for path in &policy.write {
        add_root(policy, path, all, &mut grants);
    }
    add_root(policy, tmp, all, &mut grants);
    for path in DEVICES {
        grants.push(Grant {
            path: PathBuf::from(path),
            access: device,
        });
    }

    let level = if strict {
        CompatLevel::HardRequirement
    } else {
        CompatLevel::BestEffort
    };
    let mut ruleset = Ruleset::default()
        .set_compatibility(level)
        .handle_access(all)
        .map_err(setup)?
        .handle_access(AccessNet::from_all(TARGET))
        .map_err(setup)?
        .scope(Scope::from_all(TARGET))
        .map_err(setup)?
        .create()
        .map_err(setup)?
        // A path that vanished or a right a file cannot take is skipped, not fatal.
        .set_compatibility(CompatLevel::BestEffort);
    if let Some(port) = proxy_port {
        ruleset = ruleset
            .add_rule(NetPort::new(port, AccessNet::ConnectTcp))
            .map_err(setup)?;
    }
    for grant in grants {
        let Ok(fd) = PathFd::new(&grant.path) else {
            continue;
        };
        let access = if grant.path.is_dir() {
            grant.access
        } else {
            grant.access & AccessFs::from_file(TARGET)
        };
        ruleset = ruleset
            .add_rule(PathBeneath::new(fd, access))
            .map_err(setup)?;
    }
    Ok(ruleset)
}

/// Adds `root`, or — when protected paths lie inside it — its children except those, recursively.
fn add_root(policy: &Policy, root: &Path, access: BitFlags<AccessFs>, grants: &mut Vec<Grant>) {
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    if policy.is_protected(&root) || !root.exists() {
        return;
    }
    let holds_protected = policy
        .never
        .iter()
        .any(|never| never.starts_with(&root) && never != &root);
    if !holds_protected {
        grants.push(Grant { path: root, access });
        return;
    }
    let Ok(entries) = std::fs::read_dir(&root) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let is_link = entry.file_type().is_ok_and(|kind| kind.is_symlink());
        if !is_link {
            // `root` is already resolved, so its plain children are too.
            add_child(policy, path, access, grants);
            continue;
        }
        // Symlinked children are judged where they lead, and granted only inside `root`.
        if let Ok(resolved) = path.canonicalize()
            && resolved.starts_with(&root)
        {
            add_root(policy, &resolved, access, grants);
        }
    }
}

/// Adds a resolved child of a split root: whole, unless it is protected or holds protected paths.
fn add_child(policy: &Policy, path: PathBuf, access: BitFlags<AccessFs>, grants: &mut Vec<Grant>) {
    if policy.is_protected(&path) {
        return;
    }
    if policy.never.iter().any(|never| never.starts_with(&path)) {
        add_root(policy, &path, access, grants);
    } else {
        grants.push(Grant { path, access });
    }
}

/// `/etc` without its secrets ([`ETC_SECRETS`]).
fn add_etc(policy: &Policy, access: BitFlags<AccessFs>, grants: &mut Vec<Grant>) {
    let mut etc = policy.clone();
    etc.never = ETC_SECRETS
        .iter()
        .map(|secret| Path::new("/etc").join(secret))
        .collect();
    etc.never.extend(policy.never.iter().cloned());
    add_root(&etc, Path::new("/etc"), access, grants);
}
