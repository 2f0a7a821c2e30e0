//! The one llama.cpp backend of the process, started on first use, with llama.cpp's log lines
//! routed into `tracing` (they never reach the user's terminal directly). Portable builds (feature
//! `portable`) first load llama.cpp's CPU backend for this CPU from the executable's directory.

#[cfg(feature = "engine")]
use std::sync::OnceLock;

#[cfg(feature = "engine")]
use llama_cpp_2::llama_backend::LlamaBackend;

#[cfg(feature = "engine")]
use crate::error::InferenceError;

#[cfg(feature = "engine")]
static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();

/// The process-wide llama.cpp backend.
#[cfg(feature = "engine")]
pub fn backend() -> Result<&'static LlamaBackend, InferenceError> {
    BACKEND
        .get_or_init(|| {
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            #[cfg(feature = "portable")]
            load_cpu_backend()?;
            LlamaBackend::init().map_err(|error| error.to_string())
        })
        .as_ref()
        .map_err(|error| InferenceError::Engine(error.clone()))
}

/// Portable builds: llama.cpp's CPU kernels are shared libraries next to the executable, one per
/// CPU family (`libggml-cpu-haswell.so`, `-skylakex`, `-zen4` …); ggml loads the best one this CPU
/// runs. Only that one folder is searched: ggml's default search would also try the build
/// machine's output folder and the working directory, where a planted library would run as
/// LocalGPT. The model host runs from memory, so LocalGPT names the folder of its own executable
/// in [`LIBRARY_DIR_VAR`].
#[cfg(feature = "portable")]
fn load_cpu_backend() -> Result<(), String> {
    let dir = library_dir().ok_or("no folder for llama.cpp's libraries")?;
    let dir = dir
        .to_str()
        .filter(|text| !text.contains('\0'))
        .ok_or_else(|| format!("unusable folder name {}", dir.display()))?;
    llama_cpp_2::llama_backend::load_backends_from_path(std::path::Path::new(dir));
    let cpu = llama_cpp_2::list_llama_ggml_backend_devices()
        .iter()
        .any(|device| device.device_type == llama_cpp_2::LlamaBackendDeviceType::Cpu);
    if cpu {
        Ok(())
    } else {
        Err(format!(
            "no llama.cpp CPU backend (libggml-cpu-*.so) for this CPU in {dir}"
        ))
    }
}

/// The variable with the folder of llama.cpp's libraries in portable builds, set by LocalGPT for its
/// model processes.
pub const LIBRARY_DIR_VAR: &str = "LOCALGPT_LIBRARY_DIR";

/// The folder of llama.cpp's libraries in portable builds: [`LIBRARY_DIR_VAR`], else the folder of
/// this executable.
pub fn library_dir() -> Option<std::path::PathBuf> {
    if let Some(dir) = std::env::var_os(LIBRARY_DIR_VAR) {
        return Some(dir.into());
    }
    let exe = std::env::current_exe().ok()?;
    exe.parent().map(std::path::Path::to_path_buf)
}

/// Threads to run on by default: the physical cores this process may use. Hyper-threads share a
/// core's vector units, so more threads than cores only adds contention (llama.cpp's threads
/// wait for each other at every step).
pub fn default_threads() -> usize {
    let logical = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    physical_cores().map_or(logical, |cores| cores.clamp(1, logical))
}

/// Distinct (package, core) pairs of the online CPUs, from Linux's sysfs.
fn physical_cores() -> Option<usize> {
    let entries = std::fs::read_dir("/sys/devices/system/cpu").ok()?;
    let mut cores = std::collections::BTreeSet::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Some(number) = name.strip_prefix("cpu") else {
            continue;
        };
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let topology = entry.path().join("topology");
        let read = |file: &str| std::fs::read_to_string(topology.join(file)).ok();
        if let (Some(package), Some(core)) = (read("physical_package_id"), read("core_id")) {
            cores.insert((package.trim().to_owned(), core.trim().to_owned()));
        }
    }
    (!cores.is_empty()).then_some(cores.len())
}

#[cfg(test)]
mod tests {
    #[test]
    fn default_threads_are_between_one_and_the_logical_cpus() {
        let logical = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        let threads = super::default_threads();
        assert!((1..=logical).contains(&threads), "{threads} of {logical}");
    }
}
