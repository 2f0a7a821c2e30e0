//! The Landlock ruleset of a confined command: read-only system folders, the read-write
//! workspace, the configured roots with every protected path carved out, no TCP bind or
//! connect (but to the proxy's port, for `allow_net`), and (ABI 6) no signals or abstract
//! sockets to processes outside the sandbox.
//!
//! The system part (system folders, `/etc` without its secrets, devices) is the same for every
//! command: it is opened once per process and reused while the folders split around secrets are
//! unchanged (their modification times; renaming a file into or out of a folder changes it).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath,
    PathFd, Ruleset, RulesetAttr, RulesetCreated, RulesetCreatedAttr, Scope,
};

use crate::SandboxError;
use crate::policy::{DEVICES, ETC_SECRETS, Policy, SYSTEM_READ};

/// The newest ABI whose rights this ruleset uses; older kernels get what they support.
pub const TARGET: ABI = ABI::V6;

fn setup(error: impl std::fmt::Display) -> SandboxError {
    SandboxError::Setup(format!("Landlock: {error}"))
}

/// One allowed path and its rights.
struct Grant {
    path: PathBuf,
    access: BitFlags<AccessFs>,
}

/// The system part of the rules, opened: what every command may read.
struct SystemRules {
    /// What the rules were built for (the protected paths that may lie inside system folders).
    key: String,
    /// The folders split around protected paths, with their modification times then.
    watched: Vec<(PathBuf, Option<SystemTime>)>,
    /// Opened paths and their rights.
    rules: Vec<(PathFd, BitFlags<AccessFs>)>,
}

impl SystemRules {
    fn build(policy: &Policy, key: String) -> Self {
        let read = AccessFs::from_read(TARGET);
        let mut grants = Grants::default();
        for system in SYSTEM_READ {
            add_root(policy, Path::new(system), read, &mut grants);
        }
        add_etc(policy, read, &mut grants);
        for path in DEVICES {
            grants.list.push(Grant {
                path: PathBuf::from(path),
                access: AccessFs::from_file(TARGET),
            });
        }
        Self {
            key,
            watched: grants
                .split
                .into_iter()
                .map(|dir| {
                    let modified = modified(&dir);
                    (dir, modified)
                })
                .collect(),
            rules: grants.list.into_iter().filter_map(open).collect(),
        }
    }

    fn still_valid(&self, key: &str) -> bool {
        self.key == key
            && self
                .watched
                .iter()
                .all(|(dir, modified)| &self::modified(dir) == modified)
    }

    /// The rules for `policy`: this process's, when still valid, or new ones.
    fn for_policy(policy: &Policy) -> Arc<Self> {
        static CACHE: Mutex<Option<Arc<SystemRules>>> = Mutex::new(None);
        let key = format!(
            "{:?} {:?}",
            policy.protected,
            policy
                .never
                .iter()
                .filter(|never| {
                    SYSTEM_READ
                        .iter()
                        .chain(&["/etc"])
                        .any(|system| never.starts_with(system))
                })
                .collect::<Vec<_>>()
        );
        let Ok(mut cache) = CACHE.lock() else {
            return Arc::new(Self::build(policy, key));
        };
        if let Some(rules) = cache.as_ref()
            && rules.still_valid(&key)
        {
            return Arc::clone(rules);
        }
        let rules = Arc::new(Self::build(policy, key));
        *cache = Some(Arc::clone(&rules));
        rules
    }
}

fn modified(dir: &Path) -> Option<SystemTime> {
    std::fs::symlink_metadata(dir)
        .and_then(|meta| meta.modified())
        .ok()
}

/// Opens a grant's path (`None`: it vanished), narrowing a file's rights to those a file takes.
fn open(grant: Grant) -> Option<(PathFd, BitFlags<AccessFs>)> {
    open_path(&grant.path, grant.access)
}

/// Opens `path` (`None`: it vanished) with `access`, narrowed to the rights a file takes when it
/// is one.
pub fn open_path(path: &Path, access: BitFlags<AccessFs>) -> Option<(PathFd, BitFlags<AccessFs>)> {
    let fd = PathFd::new(path).ok()?;
    let access = if path.is_dir() {
        access
    } else {
        access & AccessFs::from_file(TARGET)
    };
    Some((fd, access))
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
    let system = SystemRules::for_policy(policy);
    let mut grants = Grants::default();
    for path in &policy.read {
        add_root(policy, path, read, &mut grants);
    }
    add_root(policy, &policy.workspace, all, &mut grants);
    for path in &policy.write {
        add_root(policy, path, all, &mut grants);
    }
    add_root(policy, tmp, all, &mut grants);

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
    for (fd, access) in &system.rules {
        ruleset = ruleset
            .add_rule(PathBeneath::new(fd, *access))
            .map_err(setup)?;
    }
    for (fd, access) in grants.list.into_iter().filter_map(open) {
        ruleset = ruleset
            .add_rule(PathBeneath::new(fd, access))
            .map_err(setup)?;
    }
    Ok(ruleset)
}

/// Paths to allow, and the folders split to allow them.
#[derive(Default)]
struct Grants {
    list: Vec<Grant>,
    split: Vec<PathBuf>,
}

/// Adds `root`, or — when protected paths lie inside it — its children except those, recursively.
fn add_root(policy: &Policy, root: &Path, access: BitFlags<AccessFs>, grants: &mut Grants) {
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    if policy.is_protected(&root) || !root.exists() {
        return;
    }
    let holds_protected = policy
        .never
        .iter()
        .any(|never| never.starts_with(&root) && never != &root);
    if !holds_protected {
        grants.list.push(Grant { path: root, access });
        return;
    }
    let Ok(entries) = std::fs::read_dir(&root) else {
        return;
    };
    grants.split.push(root.clone());
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
fn add_child(policy: &Policy, path: PathBuf, access: BitFlags<AccessFs>, grants: &mut Grants) {
    if policy.is_protected(&path) {
        return;
    }
    if policy.never.iter().any(|never| never.starts_with(&path)) {
        add_root(policy, &path, access, grants);
    } else {
        grants.list.push(Grant { path, access });
    }
}

/// `/etc` without its secrets ([`ETC_SECRETS`]).
fn add_etc(policy: &Policy, access: BitFlags<AccessFs>, grants: &mut Grants) {
    let mut etc = policy.clone();
    etc.never = ETC_SECRETS
        .iter()
        .map(|secret| Path::new("/etc").join(secret))
        .collect();
    etc.never.extend(policy.never.iter().cloned());
    add_root(&etc, Path::new("/etc"), access, grants);
}
