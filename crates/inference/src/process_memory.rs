//! Handing memory back to the operating system in a long-running process (the daemon): freed heap
//! pages, and — once the process is idle — the resident pages of its own executable's code and
//! read-only data, which the kernel reads back from the file when they are next used.
//!
//! An idle daemon's memory is mostly not its own data (about 2 MB) but the pages of its 20 MB
//! executable that it touched while starting and serving (about 15 MB). [`page_out_own_code`]
//! asks the kernel to reclaim them (`MADV_PAGEOUT`, Linux 5.4+); [`IdleTrimmer`] does that, with a
//! heap trim, each time the process becomes idle.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Makes the allocator hand memory back soon after it is freed, for long-running processes that
/// load and unload models. glibc otherwise raises its thresholds after a large block is freed,
/// and then keeps up to 64 MB of free space at the top of each thread's heap, which
/// [`release_freed_memory`] cannot return (it trims only the main heap's top). Fixed thresholds
/// (1 MiB) stop that adjustment: blocks of 1 MiB or more get their own mapping, and a heap's free
/// top beyond 1 MiB is returned when memory is freed.
pub fn return_freed_memory_promptly() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's allocation parameters; any value is valid.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 20);
    }
}

/// Returns freed heap pages to the operating system, so an unloaded model's buffers stop counting
/// against the process. The allocator otherwise keeps them for reuse.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own arenas; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Asks the kernel to reclaim the resident pages of this executable's read-only segments (code,
/// read-only data, unwind tables). Nothing is lost: they are clean copies of the file, read back
/// on the next use (a page fault each, from the page cache or the disk). Pages another process
/// also maps (another `localgpt` running) are left alone by the kernel, as are writable segments
/// (data, and the relocated read-only-after-start part). Returns the bytes advised.
///
/// # Errors
/// The kernel's refusal, e.g. `EINVAL` before Linux 5.4; `Unsupported` off Linux.
pub fn page_out_own_code() -> std::io::Result<usize> {
    #[cfg(target_os = "linux")]
    {
        let mut advised = 0;
        for (start, len) in own_read_only_segments() {
            // SAFETY: the range is a whole-page part of a segment the loader mapped for this
            // executable and that stays mapped for the life of the process; MADV_PAGEOUT only
            // reclaims pages (clean file pages are re-read on use), it never changes contents.
            let result = unsafe { libc::madvise(start as *mut libc::c_void, len, MADV_PAGEOUT) };
            if result != 0 {
                return Err(std::io::Error::last_os_error());
            }
            advised += len;
        }
        Ok(advised)
    }
    #[cfg(not(target_os = "linux"))]
    Err(std::io::ErrorKind::Unsupported.into())
}

/// `MADV_PAGEOUT` (Linux 5.4), not named by every libc crate version for every target.
#[cfg(target_os = "linux")]
const MADV_PAGEOUT: libc::c_int = 21;

/// The page-aligned (start, length) of each loaded, non-writable segment of the main executable.
#[cfg(target_os = "linux")]
fn own_read_only_segments() -> Vec<(usize, usize)> {
    unsafe extern "C" fn first_object(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: dl_iterate_phdr passes a valid info for the duration of the call, and `data`
        // is the Vec handed to it below. The first object it reports is the main executable.
        unsafe {
            let segments = &mut *data.cast::<Vec<(usize, usize)>>();
            let info = &*info;
            let headers = std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum));
            for header in headers {
                if header.p_type == libc::PT_LOAD && header.p_flags & libc::PF_W == 0 {
                    let start = info.dlpi_addr as usize + header.p_vaddr as usize;
                    segments.push((start, header.p_memsz as usize));
                }
            }
        }
        1 // stop after the first object
    }
    let mut segments: Vec<(usize, usize)> = Vec::new();
    // SAFETY: the callback only reads the loader's headers and writes to `segments`.
    unsafe {
        libc::dl_iterate_phdr(Some(first_object), (&raw mut segments).cast());
    }
    let page = page_size();
    segments
        .into_iter()
        .filter_map(|(start, len)| {
            // Only whole pages inside the segment: a partial page at either end may be shared
            // with a writable neighbour.
            let first = start.div_ceil(page) * page;
            let end = (start + len) / page * page;
            (end > first).then(|| (first, end - first))
        })
        .collect()
}

#[cfg(target_os = "linux")]
fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size)
        .ok()
        .filter(|&s| s > 0)
        .unwrap_or(4096)
}

/// CPU time (user + system) this process has used so far.
fn cpu_used() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// Watches the process's CPU use and, each time it becomes idle — a whole `period` with less
/// than 1 % CPU and no model process running, after some work — trims the heap and pages out the executable's code
/// ([`page_out_own_code`]). It does nothing more while the process stays idle, so an idle daemon
/// is not woken to re-read what it gave back. The watching thread ends when this is dropped.
#[derive(Debug)]
pub struct IdleTrimmer {
    stop: Arc<AtomicBool>,
}

impl IdleTrimmer {
    /// Starts watching with `period` (clamped to 1 s – 10 min).
    ///
    /// # Errors
    /// The thread could not be started.
    pub fn start(period: Duration) -> std::io::Result<Self> {
        let period = period.clamp(Duration::from_secs(1), Duration::from_secs(600));
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("idle-trim".to_owned())
            .spawn(move || trim_when_idle(&stopped, period))?;
        Ok(Self { stop })
    }
}

impl Drop for IdleTrimmer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn trim_when_idle(stop: &AtomicBool, period: Duration) {
    // Checked often enough that a dropped trimmer's thread ends soon.
    let step = Duration::from_millis(250).min(period);
    let quiet_limit = period / 100;
    let mut worked_since_trim = true; // starting up is work
    let mut last_cpu = cpu_used();
    let mut waited = Duration::ZERO;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(step);
        waited += step;
        if waited < period {
            continue;
        }
        waited = Duration::ZERO;
        let cpu = cpu_used();
        let used = cpu.saturating_sub(last_cpu);
        last_cpu = cpu;
        // A model process at work uses its own CPU, not this process's.
        if used >= quiet_limit || crate::model_process::running() > 0 {
            worked_since_trim = true;
            continue;
        }
        if !worked_since_trim {
            continue;
        }
        worked_since_trim = false;
        release_freed_memory();
        match page_out_own_code() {
            Ok(bytes) => tracing::debug!(bytes, "idle: heap trimmed, code pages handed back"),
            Err(error) => tracing::debug!(%error, "idle: code pages not handed back"),
        }
        // The trim's own CPU is not work.
        last_cpu = cpu_used();
    }
}

#[cfg(all(test, target_os = "linux"))]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Resident file-backed memory of this process, from /proc/self/status, in kB.
    fn rss_file_kb() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("RssFile:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    #[test]
    fn finds_the_executables_code_segment() {
        let here = finds_the_executables_code_segment as *const () as usize;
        let segments = own_read_only_segments();
        assert!(
            segments
                .iter()
                .any(|&(start, len)| (start..start + len).contains(&here)),
            "this function's address {here:#x} is in none of {segments:x?}"
        );
    }

    /// Run in a private copy of this test executable (below), so that no other process maps its
    /// pages: the kernel leaves pages that another process maps resident.
    #[test]
    #[ignore = "run by paging_out_lowers_resident_file_pages in a copy of this executable"]
    fn paging_out_in_a_private_copy() {
        let before = rss_file_kb();
        let advised = page_out_own_code().unwrap();
        assert!(advised > 1 << 20, "advised only {advised} bytes");
        let after = rss_file_kb();
        println!("resident file pages {before} kB → {after} kB after paging out {advised} bytes");
        assert!(
            after + 256 < before,
            "resident file pages {before} kB → {after} kB"
        );
        // Code paged out runs again (read back on use).
        assert_eq!(format!("{}", 6 * 7), "42");
        assert!(own_read_only_segments().len() >= 2);
    }

    #[test]
    fn paging_out_lowers_resident_file_pages_and_the_code_still_runs() {
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("private-copy");
        std::fs::copy(std::env::current_exe().unwrap(), &copy).unwrap();
        let output = std::process::Command::new(&copy)
            .args([
                "--exact",
                "process_memory::tests::paging_out_in_a_private_copy",
            ])
            .args(["--include-ignored", "--nocapture", "--test-threads=1"])
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && report.contains("1 passed"),
            "{report}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    #[test]
    fn a_dropped_trimmer_stops_its_thread() {
        let trimmer = IdleTrimmer::start(Duration::from_secs(1)).unwrap();
        let stop = Arc::clone(&trimmer.stop);
        drop(trimmer);
        assert!(stop.load(Ordering::Relaxed));
    }
}
