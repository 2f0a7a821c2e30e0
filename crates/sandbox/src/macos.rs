//! macOS: the command runs as `sandbox-exec -p PROFILE PROGRAM ARGS…` (the policy's Seatbelt
//! profile, [`crate::seatbelt`]), in a process group of its own, with the resource limits macOS
//! enforces: CPU time, file size, open files and no core dumps. (It does not enforce an address
//! space limit, and its process limit counts all of the user's processes; both are reported as
//! not enforced.)

use std::io;

use crate::SandboxLimits;

const MIB: u64 = 1024 * 1024;

/// `(resource, limit)` pairs to set in the child.
pub fn rlimits(limits: &SandboxLimits) -> Vec<(libc::c_int, u64)> {
    vec![
        (libc::RLIMIT_CPU, limits.cpu_seconds.max(1)),
        (
            libc::RLIMIT_FSIZE,
            limits.file_size_mb.max(1).saturating_mul(MIB),
        ),
        (libc::RLIMIT_NOFILE, limits.open_files.max(16)),
        (libc::RLIMIT_CORE, 0),
    ]
}

/// Between fork and exec: a new process group and the limits. Only system calls on memory
/// prepared beforehand.
pub fn enter(rlimits: &[(libc::c_int, u64)]) -> io::Result<()> {
    // SAFETY: plain integers and pointers to stack memory alive for each call.
    unsafe {
        if libc::setpgid(0, 0) < 0 {
            return Err(io::Error::last_os_error());
        }
        for (resource, value) in rlimits {
            let limit = libc::rlimit {
                rlim_cur: *value as libc::rlim_t,
                rlim_max: *value as libc::rlim_t,
            };
            if libc::setrlimit(*resource, &limit) < 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(())
}
