//! What runs in the child between fork and exec: everything here was prepared by the parent,
//! so this code only makes system calls (no allocation, no locks).

use std::ffi::CString;
use std::io;

use landlock::RulesetCreated;
use seccompiler::BpfProgram;

/// The prepared confinement, consumed by [`Prepared::enter`] in the child.
#[derive(Debug)]
pub struct Prepared {
    /// Landlock rules (`None`: not available or not applied).
    pub ruleset: Option<RulesetCreated>,
    /// Seccomp filters, installed in order.
    pub filters: Vec<BpfProgram>,
    /// rlimits to set.
    pub rlimits: Vec<(super::limits::Resource, u64)>,
    /// The `tasks` file of the command's pids cgroup, to join.
    pub cgroup_tasks: Option<CString>,
    /// The network namespace to enter and the proxy listener to hand over (`allow_net`).
    pub netns: Option<super::netns::NetnsChild>,
}

fn check(result: libc::c_int) -> io::Result<()> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

impl Prepared {
    /// Confines the calling (child) process. Runs after fork, before exec.
    pub fn enter(&mut self) -> io::Result<()> {
        // SAFETY: every call below takes plain integers or pointers to memory owned by `self`,
        // which stays alive for the duration of the call.
        unsafe {
            leave_terminal()?;
            if let Some(tasks) = &self.cgroup_tasks {
                let fd = libc::open(tasks.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                check(fd)?;
                let written = libc::write(fd, b"0".as_ptr().cast(), 1);
                libc::close(fd);
                if written != 1 {
                    return Err(io::Error::last_os_error());
                }
            }
            for (resource, value) in &self.rlimits {
                // The CPU limit warns with SIGXCPU a second before SIGKILL.
                let hard = if *resource == libc::RLIMIT_CPU {
                    value.saturating_add(1)
                } else {
                    *value
                };
                let limit = libc::rlimit {
                    rlim_cur: *value,
                    rlim_max: hard,
                };
                check(libc::setrlimit(*resource, &limit))?;
            }
            // After the limits, so the new user namespace takes the process limit with it;
            // before the capabilities go, which setting up the namespace needs.
            if let Some(netns) = &self.netns {
                netns.enter()?;
            }
            check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))?;
            drop_capabilities();
        }
        if let Some(ruleset) = self.ruleset.take() {
            ruleset.restrict_self().map_err(io::Error::other)?;
        }
        for filter in &self.filters {
            seccompiler::apply_filter(filter).map_err(io::Error::other)?;
        }
        Ok(())
    }
}

/// Puts the child in a process group of its own (so it can be stopped whole) with no
/// controlling terminal. Only when it has one is a new session made: `setsid` costs a new
/// scheduler autogroup, 1–4 ms per command on a busy machine, and without a terminal a process
/// group gives the same (seccomp then forbids leaving it). Without a controlling terminal the
/// command cannot open `/dev/tty` to read the user's keystrokes, nor push input into it
/// (`TIOCSTI`), whatever terminal descriptors it inherited.
///
/// # Safety
/// Only system calls on plain integers and a static string.
unsafe fn leave_terminal() -> io::Result<()> {
    // SAFETY: see above.
    unsafe {
        let tty = libc::open(
            c"/dev/tty".as_ptr(),
            libc::O_RDONLY | libc::O_NOCTTY | libc::O_CLOEXEC | libc::O_NONBLOCK,
        );
        if tty >= 0 {
            libc::close(tty);
            check(libc::setsid())
        } else {
            check(libc::setpgid(0, 0))
        }
    }
}

/// Drops every capability a root command would have, so root's bypasses (file permissions,
/// resource limits, raw sockets) do not apply inside the sandbox.
///
/// # Safety
/// Only system calls on plain integers and stack memory.
unsafe fn drop_capabilities() {
    // SAFETY: see above.
    unsafe {
        for cap in 0..64 {
            libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0);
        }
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        );
        #[repr(C)]
        struct Header {
            version: u32,
            pid: libc::c_int,
        }
        #[repr(C)]
        struct Data {
            effective: u32,
            permitted: u32,
            inheritable: u32,
        }
        let header = Header {
            version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
            pid: 0,
        };
        let data = [
            Data {
                effective: 0,
                permitted: 0,
                inheritable: 0,
            },
            Data {
                effective: 0,
                permitted: 0,
                inheritable: 0,
            },
        ];
        libc::syscall(libc::SYS_capset, &header, data.as_ptr());
    }
}
