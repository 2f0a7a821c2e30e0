//! Resource limits of a confined command: rlimits for CPU time, address space, file size, open
//! files and processes, and for root (whom `RLIMIT_NPROC` does not bind) a `pids` cgroup.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use crate::SandboxLimits;
use crate::support::ProcessLimit;

/// The cgroup v1 `pids` hierarchy.
const PIDS_V1: &str = "/sys/fs/cgroup/pids";

const MIB: u64 = 1024 * 1024;

/// `(resource, limit)` pairs to set in the child.
pub fn rlimits(limits: &SandboxLimits) -> Vec<(libc::__rlimit_resource_t, u64)> {
    vec![
        (libc::RLIMIT_CPU, limits.cpu_seconds.max(1)),
        (
            libc::RLIMIT_AS,
            limits.memory_mb.max(16).saturating_mul(MIB),
        ),
        (
            libc::RLIMIT_FSIZE,
            limits.file_size_mb.max(1).saturating_mul(MIB),
        ),
        (libc::RLIMIT_NOFILE, limits.open_files.max(16)),
        (libc::RLIMIT_NPROC, nproc_limit(limits.processes.max(1))),
        (libc::RLIMIT_CORE, 0),
    ]
}

/// `RLIMIT_NPROC` counts every process of the user, so the limit is what the user runs now plus
/// what the command may add.
fn nproc_limit(processes: u64) -> u64 {
    // SAFETY: getuid has no failure mode.
    let uid = unsafe { libc::getuid() };
    if uid == 0 {
        // Root is not bound by RLIMIT_NPROC; its limit is the pids cgroup.
        return processes;
    }
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return processes;
    };
    let running = entries
        .flatten()
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|entry| {
            use std::os::unix::fs::MetadataExt;
            entry.metadata().is_ok_and(|meta| meta.uid() == uid)
        })
        .count() as u64;
    running.saturating_add(processes)
}

/// How the process limit is enforced for this user.
pub fn process_limit_kind() -> ProcessLimit {
    // SAFETY: geteuid has no failure mode.
    if unsafe { libc::geteuid() } != 0 {
        ProcessLimit::Rlimit
    } else if pids_cgroup_writable() {
        ProcessLimit::Cgroup
    } else {
        ProcessLimit::None
    }
}

fn pids_cgroup_writable() -> bool {
    let probe = Path::new(PIDS_V1).join("cgroup.procs");
    std::fs::OpenOptions::new().write(true).open(probe).is_ok()
}

/// A `pids` cgroup for one command, removed when dropped (after the command ended).
#[derive(Debug)]
pub struct PidsCgroup {
    dir: PathBuf,
    /// `cgroup.procs` of the group, for the child to join itself.
    pub procs: CString,
}

impl PidsCgroup {
    /// Creates a group allowing `processes` tasks.
    pub fn create(processes: u64) -> std::io::Result<Self> {
        let parent = Path::new(PIDS_V1).join("localgpt-sandbox");
        std::fs::create_dir_all(&parent)?;
        let dir = tempfile::Builder::new()
            .prefix("cmd-")
            .tempdir_in(&parent)?
            .keep();
        std::fs::write(dir.join("pids.max"), processes.max(1).to_string())?;
        let procs = CString::new(dir.join("cgroup.procs").as_os_str().as_encoded_bytes())
            .map_err(std::io::Error::other)?;
        Ok(Self { dir, procs })
    }
}

impl Drop for PidsCgroup {
    fn drop(&mut self) {
        // Kill what is left, then remove the group.
        if let Ok(tasks) = std::fs::read_to_string(self.dir.join("cgroup.procs")) {
            for pid in tasks
                .lines()
                .filter_map(|line| line.trim().parse::<i32>().ok())
            {
                // SAFETY: kill takes plain integers.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        for _ in 0..50 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}
