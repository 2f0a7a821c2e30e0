//! What this machine's kernel enforces, and which parts of a policy it cannot.

use serde::Serialize;

use crate::policy::Policy;

/// How the process limit is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessLimit {
    /// `RLIMIT_NPROC` (a non-root user).
    Rlimit,
    /// A `pids` cgroup per command (root, for whom `RLIMIT_NPROC` does not apply).
    Cgroup,
    /// Not enforceable here.
    None,
}

/// What the kernel enforces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Support {
    /// The operating system.
    pub os: &'static str,
    /// The Landlock ABI the kernel offers (`None`: no Landlock).
    pub landlock_abi: Option<u32>,
    /// Whether seccomp filters are available.
    pub seccomp: bool,
    /// Whether Landlock denies TCP bind/connect (ABI 4 and later).
    pub landlock_network: bool,
    /// Whether Landlock scopes signals and abstract UNIX sockets (ABI 6 and later).
    pub landlock_scopes: bool,
    /// How the process limit is enforced.
    pub process_limit: ProcessLimit,
    /// Whether a command can get a user and network namespace of its own, which `allow_net`
    /// needs (its only way out is then the filtering proxy).
    pub network_namespace: bool,
    /// macOS: whether `/usr/bin/sandbox-exec` is there to run commands under the policy's
    /// Seatbelt profile ([`crate::seatbelt`]).
    pub seatbelt: bool,
}

impl Support {
    /// Probes the running kernel.
    pub fn detect() -> Self {
        #[cfg(target_os = "linux")]
        {
            let abi = crate::linux::landlock_abi();
            Self {
                os: "linux",
                landlock_abi: abi,
                seccomp: crate::linux::seccomp_available(),
                landlock_network: abi.is_some_and(|abi| abi >= 4),
                landlock_scopes: abi.is_some_and(|abi| abi >= 6),
                process_limit: crate::linux::limits::process_limit_kind(),
                network_namespace: crate::linux::netns::available(),
                seatbelt: false,
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            Self {
                os: std::env::consts::OS,
                landlock_abi: None,
                seccomp: false,
                landlock_network: false,
                landlock_scopes: false,
                process_limit: ProcessLimit::None,
                network_namespace: false,
                seatbelt: cfg!(target_os = "macos")
                    && std::path::Path::new(crate::seatbelt::SANDBOX_EXEC).exists(),
            }
        }
    }

    /// The parts of `policy` this machine cannot enforce, in plain words (empty: all of it).
    pub fn gaps(&self, policy: &Policy) -> Vec<String> {
        if self.os == "macos" {
            return self.macos_gaps(policy);
        }
        let mut gaps = Vec::new();
        if self.landlock_abi.is_none() {
            gaps.push(
                "file-system rules need Landlock, which this kernel does not offer".to_owned(),
            );
        }
        if !self.seccomp {
            gaps.push(
                "system-call filtering (ptrace, mount, raw sockets …) needs seccomp, which this \
                 kernel does not offer"
                    .to_owned(),
            );
        }
        if !self.landlock_network && !self.seccomp {
            gaps.push("network blocking needs Landlock ABI 4 or seccomp".to_owned());
        }
        if !self.landlock_scopes {
            gaps.push(
                "signals to processes outside the sandbox are not scoped (needs Landlock ABI 6)"
                    .to_owned(),
            );
        }
        if self.process_limit == ProcessLimit::None {
            gaps.push(
                "the process limit cannot be enforced for root without a writable pids cgroup"
                    .to_owned(),
            );
        }
        if !policy.allow_net.is_empty() && !self.network_namespace {
            gaps.push(format!(
                "allow_net ({}) needs a user and network namespace for the filtering proxy, which \
                 this machine does not allow (unprivileged user namespaces are off): all network \
                 stays blocked",
                policy.allow_net.join(", ")
            ));
        }
        gaps
    }

    /// [`Support::gaps`] on macOS, where commands run under `sandbox-exec`.
    fn macos_gaps(&self, policy: &Policy) -> Vec<String> {
        let mut gaps = Vec::new();
        if !self.seatbelt {
            gaps.push(format!(
                "file-system and network rules need {}, which this Mac does not have",
                crate::seatbelt::SANDBOX_EXEC
            ));
        }
        gaps.push(
            "the memory and process limits ([sandbox.limits] memory_mb, processes) are not \
             enforced on macOS (CPU time, file size and open files are)"
                .to_owned(),
        );
        if !policy.allow_net.is_empty() {
            gaps.push(format!(
                "allow_net ({}) needs the Linux filtering proxy: on macOS all network stays \
                 blocked",
                policy.allow_net.join(", ")
            ));
        }
        gaps
    }
}
