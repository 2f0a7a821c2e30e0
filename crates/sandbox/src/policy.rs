//! The sandbox policy of one command, built from `[sandbox]`: readable and writable roots,
//! the places that are never reachable, network hosts, limits and environment names.

use std::path::{Path, PathBuf};

use localgpt_core::config::{SandboxConfig, SandboxLevel, SandboxLimits};
use localgpt_core::protected::{CREDENTIAL_HOME_PATHS, CREDENTIAL_NAMES, ProtectedPaths};

/// System folders readable (and executable) by every confined command.
pub const SYSTEM_READ: &[&str] = &["/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/opt"];

/// Entries of `/etc` that hold secrets and are never readable.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub const ETC_SECRETS: &[&str] = &[
    "shadow",
    "shadow-",
    "gshadow",
    "gshadow-",
    "sudoers",
    "sudoers.d",
    "ssh",
    "ssl/private",
    "security/opasswd",
    "krb5.keytab",
    "wireguard",
    "NetworkManager/system-connections",
    "localgpt",
];

/// Device files every command may read and write.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
];

/// What a confined command may do.
#[derive(Debug, Clone)]
pub struct Policy {
    /// How strictly the policy is enforced.
    pub level: SandboxLevel,
    /// The workspace: always readable and writable; commands start here.
    pub workspace: PathBuf,
    /// Extra readable roots (`allow_read`).
    pub read: Vec<PathBuf>,
    /// Extra writable roots (`allow_write`).
    pub write: Vec<PathBuf>,
    /// Hosts the command may reach through the filtering proxy (`allow_net`; see
    /// [`crate::Allowlist`]).
    pub allow_net: Vec<String>,
    /// Extra environment variable names (`[sandbox] env`).
    pub env: Vec<String>,
    /// Resource limits.
    pub limits: SandboxLimits,
    /// Credential stores and LocalGPT's own files: never reachable.
    pub protected: ProtectedPaths,
    /// The concrete protected paths, used to carve them out of allowed roots.
    pub never: Vec<PathBuf>,
}

impl Policy {
    /// The default policy for `workspace` (level `auto`), protecting the current user's
    /// credential stores.
    pub fn for_workspace(workspace: &Path) -> Self {
        let home = std::env::home_dir();
        Self::from_config(
            &SandboxConfig::default(),
            workspace,
            home.as_deref(),
            &[],
            |path| PathBuf::from(path),
        )
    }

    /// The policy `[sandbox]` describes for `workspace`. `home` is the user's home folder,
    /// `own` LocalGPT's config file, state and models folders; `expand` turns a configured path
    /// (`~/x`) into a real one.
    pub fn from_config(
        config: &SandboxConfig,
        workspace: &Path,
        home: Option<&Path>,
        own: &[PathBuf],
        expand: impl Fn(&str) -> PathBuf,
    ) -> Self {
        let canonical = |path: PathBuf| path.canonicalize().unwrap_or(path);
        let mut never: Vec<PathBuf> = own.iter().cloned().map(canonical).collect();
        if let Some(home) = home {
            let home = canonical(home.to_path_buf());
            never.extend(CREDENTIAL_NAMES.iter().map(|name| home.join(name)));
            never.extend(CREDENTIAL_HOME_PATHS.iter().map(|path| home.join(path)));
        }
        Self {
            level: config.level,
            workspace: canonical(workspace.to_path_buf()),
            read: config
                .allow_read
                .iter()
                .map(|p| canonical(expand(p)))
                .collect(),
            write: config
                .allow_write
                .iter()
                .map(|p| canonical(expand(p)))
                .collect(),
            allow_net: config.allow_net.clone(),
            env: config.env.clone(),
            limits: config.limits.clone(),
            protected: ProtectedPaths::new(home, own),
            never,
        }
    }

    /// Whether `path` (resolved) is never reachable.
    pub fn is_protected(&self, path: &Path) -> bool {
        self.protected.protects(path) || self.never.iter().any(|never| path.starts_with(never))
    }
}
