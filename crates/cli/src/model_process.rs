//! The model process: the daemon runs each local model in a child process of this executable
//! (`localgpt_inference::model_process`), started as `localgpt __model-process` — not a user
//! command, so it is not in `--help`. Requests arrive on standard input, replies leave on
//! standard output, warnings go to standard error (the daemon's log). Before llama.cpp reads the
//! model file, the process confines itself (Linux): it may read that file and the system, and
//! write nothing, reach no network and run no program.

use std::process::ExitCode;

use localgpt_inference::model_process::ProcessCommand;
use localgpt_inference::model_process::protocol::ModelSpec;

/// The first argument that makes this executable a model process (checked first in `main`).
pub const ARG: &str = "__model-process";

/// How to start a model process of this executable.
pub fn command() -> anyhow::Result<ProcessCommand> {
    Ok(ProcessCommand::this_executable(&[ARG])?)
}

/// The model process's `main`.
pub fn run() -> ExitCode {
    crate::logging::init(0, true);
    match localgpt_inference::model_process::serve_stdio(confine) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            ExitCode::FAILURE
        }
    }
}

/// Confines the process to reading `model` (and, in portable builds, the executable's folder,
/// where llama.cpp's CPU backends are). A kernel without Landlock or seccomp leaves the process
/// unconfined with a warning: the model still runs, as it would in the daemon itself.
fn confine(model: &ModelSpec) -> Result<(), String> {
    #[cfg(target_os = "linux")]
    {
        let mut readable = vec![model.path().to_path_buf()];
        if cfg!(feature = "portable")
            && let Some(folder) = std::env::current_exe()
                .ok()
                .and_then(|exe| exe.parent().map(std::path::Path::to_path_buf))
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
