//! The Linux enforcement: Landlock rules, a seccomp filter, rlimits, a pids cgroup and (for
//! `allow_net`) a network namespace, and the code that applies them in the child between fork
//! and exec.

pub mod child;
pub mod fs_rules;
pub mod limits;
pub mod netns;
pub mod seccomp;
pub mod self_confine;

/// The Landlock ABI version the kernel offers, if any.
pub fn landlock_abi() -> Option<u32> {
    // SAFETY: landlock_create_ruleset with a null attribute, size 0 and the VERSION flag only
    // returns the ABI version; it reads no memory.
    let version = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            1u32, // LANDLOCK_CREATE_RULESET_VERSION
        )
    };
    u32::try_from(version).ok().filter(|version| *version > 0)
}

/// Whether seccomp filters are available.
pub fn seccomp_available() -> bool {
    // SAFETY: PR_GET_SECCOMP takes no pointers.
    let mode = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) };
    mode >= 0
}
