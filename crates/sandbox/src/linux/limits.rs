//! Resource limits of a confined command: rlimits for CPU time, address space, file size, open
//! files and processes, and for root (whom `RLIMIT_NPROC` does not bind) a `pids` cgroup.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once};

use crate::SandboxLimits;
use crate::support::ProcessLimit;

/// The cgroup v1 `pids` hierarchy.
const PIDS_V1: &str = "/sys/fs/cgroup/pids";

const MIB: u64 = 1024 * 1024;

/// The type of an rlimit's resource number in the C library's `setrlimit` (glibc declares an
/// enum, musl an int).
#[cfg(target_env = "gnu")]
pub type Resource = libc::__rlimit_resource_t;
/// The type of an rlimit's resource number in the C library's `setrlimit`.
#[cfg(not(target_env = "gnu"))]
pub type Resource = libc::c_int;

/// `(resource, limit)` pairs to set in the child.
pub fn rlimits(limits: &SandboxLimits) -> Vec<(Resource, u64)> {
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

/// How many emptied groups this process keeps for later commands.
const POOL_SIZE: usize = 8;

/// Emptied groups of this process, ready for the next command: making and removing a group per
/// command cost more than the command itself on a busy machine.
static POOL: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// A number for each group this process makes.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// Removes, once per process, the empty groups that LocalGPT processes no longer running left.
static SWEEP: Once = Once::new();

/// A `pids` cgroup for one command at a time, named after the LocalGPT process that made it
/// (`p<PID>-<N>`) and given back to its pool, emptied, when dropped (after the command ended).
#[derive(Debug)]
pub struct PidsCgroup {
    dir: PathBuf,
    /// The group's `tasks` file, for the child to join itself: moving one thread (the child is
    /// single-threaded between fork and exec) does not take the kernel's global lock that
    /// moving a whole process through `cgroup.procs` takes.
    pub tasks: CString,
}

impl PidsCgroup {
    /// A group allowing `processes` tasks: one from the pool, or a new one.
    pub fn create(processes: u64) -> std::io::Result<Self> {
        let parent = Path::new(PIDS_V1).join("localgpt-sandbox");
        SWEEP.call_once(|| sweep(&parent));
        // A pooled group someone removed meanwhile is dropped from the pool.
        let pooled = POOL.lock().ok().and_then(|mut pool| {
            std::iter::from_fn(|| pool.pop()).find(|dir| dir.join("pids.max").exists())
        });
        let dir = match pooled {
            Some(dir) => dir,
            None => {
                std::fs::create_dir_all(&parent)?;
                let dir = parent.join(format!(
                    "p{}-{}",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::Relaxed)
                ));
                match std::fs::create_dir(&dir) {
                    // Left by an earlier process with this id: reused if it is empty.
                    Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                        if !is_empty(&dir) {
                            return Err(error);
                        }
                    }
                    other => other?,
                }
                dir
            }
        };
        let group = Self {
            tasks: CString::new(dir.join("tasks").as_os_str().as_encoded_bytes())
                .map_err(std::io::Error::other)?,
            dir,
        };
        std::fs::write(group.dir.join("pids.max"), processes.max(1).to_string())?;
        Ok(group)
    }
}

fn is_empty(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("cgroup.procs")).is_ok_and(|tasks| tasks.trim().is_empty())
}

/// Removes the empty groups under `parent` whose LocalGPT process has ended (and the `cmd-*`
/// groups of earlier versions); a group that still holds tasks is left alone.
fn sweep(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let owner_gone = match name.strip_prefix('p').and_then(|rest| rest.split_once('-')) {
            Some((pid, _)) => !Path::new("/proc").join(pid).exists(),
            None => name.starts_with("cmd-"),
        };
        if owner_gone {
            let _ = std::fs::remove_dir(entry.path());
        }
    }
}

impl Drop for PidsCgroup {
    fn drop(&mut self) {
        // Kill what is left and wait until the group counts no process — killed processes count
        // until they are reaped — then keep it for the next command, whose limit is then its
        // own. A group that does not empty in time is removed (or left) instead.
        for _ in 0..200 {
            let Ok(tasks) = std::fs::read_to_string(self.dir.join("cgroup.procs")) else {
                return;
            };
            for pid in tasks
                .lines()
                .filter_map(|line| line.trim().parse::<i32>().ok())
            {
                // SAFETY: kill takes plain integers.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            let counted = std::fs::read_to_string(self.dir.join("pids.current"))
                .ok()
                .and_then(|count| count.trim().parse::<u64>().ok());
            if counted == Some(0) {
                if let Ok(mut pool) = POOL.lock()
                    && pool.len() < POOL_SIZE
                {
                    pool.push(self.dir.clone());
                    return;
                }
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}
