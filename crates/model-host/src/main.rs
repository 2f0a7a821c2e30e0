//! The model host: the program each local model runs in (`localgpt_inference::model_process`).
//! LocalGPT's executable carries it as bytes and starts it from memory for every model process
//! (see `crates/cli/build.rs`), so llama.cpp and its C++ runtime live here alone. Requests arrive
//! on standard input, replies leave on standard output, warnings go to standard error (the
//! daemon's log). Before llama.cpp reads the model file, the process confines itself (Linux): it
//! may read that file and the system, and write nothing, reach no network and run no program.

use std::process::ExitCode;

use localgpt_inference::model_process::protocol::ModelSpec;

/// The process name `top` and `pgrep` show (at most 15 bytes): started from a memory file, it
/// would otherwise be that file's descriptor number.
#[cfg(target_os = "linux")]
const PROCESS_NAME: &std::ffi::CStr = c"localgpt-model";

fn main() -> ExitCode {
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
    #[cfg(target_os = "linux")]
    unsafe {
        libc::prctl(libc::PR_SET_NAME, PROCESS_NAME.as_ptr());
    }
    // llama.cpp's own log lines only when asked for (`LOCALGPT_LOG`, passed on by LocalGPT).
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOCALGPT_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("warn,llama-cpp-2=off,llama_cpp_2=off")
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .init();
    match localgpt_inference::model_process::serve_stdio(confine) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("model process: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Confines the process to reading `model` (and, in portable builds, the folder of llama.cpp's
/// libraries). A kernel without Landlock or seccomp leaves the process unconfined with a warning:
/// the model still runs, as it would without a model process.
fn confine(model: &ModelSpec) -> Result<(), String> {
    #[cfg(target_os = "linux")]
    {
        let mut readable = vec![model.path().to_path_buf()];
        if cfg!(feature = "portable")
            && let Some(folder) = localgpt_inference::library_dir()
        {
            readable.push(folder);
        }
        match localgpt_sandbox::confine_self(&readable) {
            Ok(confined) if confined.landlock_full && confined.seccomp => {
                tracing::debug!("model process confined");
            }
            Ok(confined) => tracing::warn!(
                ?confined,
                "the model process is only partly confined on this kernel"
            ),
            Err(error) => tracing::warn!("the model process runs unconfined: {error}"),
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = model;
    Ok(())
}
