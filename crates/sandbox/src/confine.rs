//! A [`Confinement`]: a [`Policy`] prepared for one child process, applied to its `Command`.
//! With `allow_net` (and a kernel that allows it) it also runs the command's filtering proxy,
//! from [`Confinement::apply`] until the confinement is dropped.

use std::ffi::{OsStr, OsString};
use std::process::Command;
use std::sync::OnceLock;

use tempfile::TempDir;

use crate::env::scrubbed_environment;
use crate::net::{Allowlist, Proxy};
#[cfg(target_os = "linux")]
use crate::net::{PROXY_PORT, proxy_environment};
use crate::policy::{Policy, SYSTEM_READ};
use crate::support::Support;
use crate::{SandboxError, SandboxLevel};

/// One command's confinement. Keep it alive until the command has ended: it owns the command's
/// private temporary folder, its network proxy and (for root) its pids cgroup.
#[derive(Debug)]
pub struct Confinement {
    level: SandboxLevel,
    unenforced: Vec<String>,
    env: Vec<(OsString, OsString)>,
    tmp: Option<TempDir>,
    #[cfg(target_os = "linux")]
    prepared: Option<crate::linux::child::Prepared>,
    /// The parent's end of the socket the child sends the proxy listener over, and what the
    /// proxy allows; taken by [`Confinement::apply`].
    #[cfg(target_os = "linux")]
    pending_proxy: Option<(std::os::fd::OwnedFd, Allowlist)>,
    proxy: Option<Proxy>,
    #[cfg(target_os = "linux")]
    _cgroup: Option<crate::linux::limits::PidsCgroup>,
    /// macOS: the Seatbelt profile the command runs under (`None`: no `sandbox-exec`, or off).
    #[cfg(target_os = "macos")]
    profile: Option<String>,
    /// macOS: the resource limits to set in the child.
    #[cfg(target_os = "macos")]
    rlimits: Vec<(libc::c_int, u64)>,
}

impl Confinement {
    /// Prepares `policy` on this machine. Under `strict`, fails when any part of it cannot be
    /// enforced; under `auto`, [`Confinement::unenforced`] lists those parts.
    pub fn prepare(policy: &Policy) -> Result<Self, SandboxError> {
        // What the kernel supports does not change while LocalGPT runs.
        static SUPPORT: OnceLock<Support> = OnceLock::new();
        Self::prepare_with(policy, SUPPORT.get_or_init(Support::detect))
    }

    /// [`Confinement::prepare`] with an already-probed [`Support`].
    pub fn prepare_with(policy: &Policy, support: &Support) -> Result<Self, SandboxError> {
        let env = scrubbed_environment(std::env::vars_os(), &policy.env);
        if policy.level == SandboxLevel::Off {
            return Ok(Self {
                level: SandboxLevel::Off,
                unenforced: vec![
                    "the sandbox is off (level = \"off\"): commands run unconfined, \
                                  with only the scrubbed environment"
                        .to_owned(),
                ],
                env,
                tmp: None,
                #[cfg(target_os = "linux")]
                prepared: None,
                #[cfg(target_os = "linux")]
                pending_proxy: None,
                proxy: None,
                #[cfg(target_os = "linux")]
                _cgroup: None,
                #[cfg(target_os = "macos")]
                profile: None,
                #[cfg(target_os = "macos")]
                rlimits: Vec::new(),
            });
        }
        let mut unenforced = support.gaps(policy);
        let (policy, incomplete) = with_deep_credentials(policy);
        let policy = &policy;
        unenforced.extend(incomplete);
        if policy.level == SandboxLevel::Strict && !unenforced.is_empty() {
            return Err(SandboxError::Unenforceable(unenforced));
        }
        let allowlist = Allowlist::parse(&policy.allow_net).map_err(SandboxError::Setup)?;
        // The proxy, when something is allowed and the kernel gives the command a network
        // namespace; otherwise all network stays blocked.
        let proxied = !allowlist.is_empty() && support.network_namespace;
        let tmp = tempfile::Builder::new()
            .prefix("localgpt-sandbox-")
            .tempdir()
            .map_err(|error| SandboxError::Setup(format!("temporary folder: {error}")))?;
        #[cfg(target_os = "linux")]
        {
            use crate::linux::{fs_rules, limits, seccomp};
            let strict = policy.level == SandboxLevel::Strict;
            let ruleset = match support.landlock_abi {
                Some(_) => Some(fs_rules::ruleset(
                    policy,
                    tmp.path(),
                    strict,
                    proxied.then_some(PROXY_PORT),
                )?),
                None => None,
            };
            let filters = if support.seccomp {
                seccomp::filters(proxied)?
            } else {
                Vec::new()
            };
            let (netns, pending_proxy) = if proxied {
                let (parent, child) = crate::linux::netns::socket_pair()
                    .map_err(|error| SandboxError::Setup(format!("proxy socket: {error}")))?;
                let netns = crate::linux::netns::NetnsChild {
                    maps: crate::linux::netns::Maps::current(),
                    sender: child,
                };
                (Some(netns), Some((parent, allowlist)))
            } else {
                (None, None)
            };
            let cgroup = match support.process_limit {
                crate::support::ProcessLimit::Cgroup => {
                    match limits::PidsCgroup::create(policy.limits.processes) {
                        Ok(cgroup) => Some(cgroup),
                        Err(error) if strict => {
                            return Err(SandboxError::Unenforceable(vec![format!(
                                "the process limit's cgroup could not be made: {error}"
                            )]));
                        }
                        Err(error) => {
                            unenforced.push(format!(
                                "the process limit's cgroup could not be made: {error}"
                            ));
                            None
                        }
                    }
                }
                _ => None,
            };
            let prepared = crate::linux::child::Prepared {
                ruleset,
                filters,
                rlimits: limits::rlimits(&policy.limits),
                cgroup_tasks: cgroup.as_ref().map(|cgroup| cgroup.tasks.clone()),
                netns,
            };
            Ok(Self {
                level: policy.level,
                unenforced,
                env,
                tmp: Some(tmp),
                prepared: Some(prepared),
                pending_proxy,
                proxy: None,
                _cgroup: cgroup,
            })
        }
        #[cfg(target_os = "macos")]
        {
            let _ = proxied;
            let profile = if support.seatbelt {
                Some(crate::seatbelt::profile(policy, tmp.path())?)
            } else {
                None
            };
            Ok(Self {
                level: policy.level,
                unenforced,
                env,
                tmp: Some(tmp),
                proxy: None,
                profile,
                rlimits: crate::macos::rlimits(&policy.limits),
            })
        }
        #[cfg(not(any(target_os = "linux", target_os = "macos")))]
        {
            let _ = proxied;
            Ok(Self {
                level: policy.level,
                unenforced,
                env,
                tmp: Some(tmp),
                proxy: None,
            })
        }
    }

    /// A `Command` for `program`, to add arguments to and then [`Confinement::apply`]: on macOS
    /// it runs `program` under `sandbox-exec` with this command's profile; elsewhere it is
    /// `Command::new(program)` (Linux confines the child itself, between fork and exec).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        #[cfg(target_os = "macos")]
        if let Some(profile) = &self.profile {
            let mut command = Command::new(crate::seatbelt::SANDBOX_EXEC);
            command.arg("-p").arg(profile).arg(program);
            return command;
        }
        Command::new(program)
    }

    /// The parts of the policy not enforced for this command (empty: all of it is).
    pub fn unenforced(&self) -> &[String] {
        &self.unenforced
    }

    /// The level this confinement was prepared at.
    pub fn level(&self) -> SandboxLevel {
        self.level
    }

    /// Whether the command reaches `allow_net` hosts through a proxy (running once applied).
    pub fn proxied(&self) -> bool {
        #[cfg(target_os = "linux")]
        {
            self.pending_proxy.is_some() || self.proxy.is_some()
        }
        #[cfg(not(target_os = "linux"))]
        {
            self.proxy.is_some()
        }
    }

    /// Sets `command`'s environment and makes its child confine itself before it runs; with
    /// `allow_net`, starts the proxy the child will hand its listener to. Call once per
    /// confinement.
    pub fn apply(&mut self, command: &mut Command) {
        command.env_clear().envs(self.env.iter().cloned());
        if let Some(tmp) = &self.tmp {
            command.env("TMPDIR", tmp.path());
        }
        #[cfg(target_os = "linux")]
        if let Some((receiver, allowlist)) = self.pending_proxy.take() {
            command.envs(proxy_environment());
            // If the proxy cannot start, the receiver is closed: the child cannot hand over its
            // listener and the command fails to start (it never runs with a dead proxy).
            self.proxy = Proxy::serve_received(receiver, allowlist).ok();
        }
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::process::CommandExt;
            match self.prepared.take() {
                // SAFETY: the closure only makes system calls on memory prepared beforehand
                // (see `linux::child`), which is what is allowed between fork and exec.
                Some(mut prepared) => unsafe {
                    command.pre_exec(move || prepared.enter());
                },
                // Unconfined, but still in its own process group so it can be stopped whole.
                None => {
                    command.process_group(0);
                }
            }
        }
        #[cfg(target_os = "macos")]
        {
            use std::os::unix::process::CommandExt;
            let rlimits = self.rlimits.clone();
            // SAFETY: the closure only makes system calls on memory prepared beforehand.
            unsafe {
                command.pre_exec(move || crate::macos::enter(&rlimits));
            }
        }
        #[cfg(all(unix, not(any(target_os = "linux", target_os = "macos"))))]
        {
            use std::os::unix::process::CommandExt;
            command.process_group(0);
        }
    }
}

/// `policy` with the credential stores and other LocalGPT homes found deep inside its allowed
/// roots added to what is never reachable, and what could not be scanned, in words.
fn with_deep_credentials(policy: &Policy) -> (Policy, Vec<String>) {
    let mut roots = vec![policy.workspace.clone()];
    roots.extend(policy.read.iter().cloned());
    roots.extend(policy.write.iter().cloned());
    let found = crate::scan::credentials_in(&roots, |path| {
        // System folders are readable as a whole and hold no user's credentials (`/etc`'s
        // secrets are carved out by name); protected paths are carved out already.
        policy.is_protected(path)
            || SYSTEM_READ
                .iter()
                .chain(&["/etc"])
                .any(|system| path.starts_with(system))
    });
    let mut policy = policy.clone();
    policy.never.extend(found.hidden);
    (policy, found.incomplete)
}
