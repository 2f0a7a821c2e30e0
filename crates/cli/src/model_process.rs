//! The model host this executable carries: the program every local model runs in
//! (`localgpt-model-host`, built by `build.rs` from `crates/model-host`; see
//! `localgpt_inference::model_process`). It is started from memory for each model process, so
//! this executable itself never links llama.cpp.

use localgpt_inference::model_process::ProcessCommand;

/// The model host's executable, deflated.
static MODEL_HOST: &[u8] = include_bytes!(env!("LOCALGPT_MODEL_HOST_DEFLATED"));

/// How to start a model process. Portable builds (release archives) tell it the folder of
/// llama.cpp's libraries: the one this executable is in.
pub fn command() -> anyhow::Result<ProcessCommand> {
    let command = ProcessCommand::image("localgpt-model-host", MODEL_HOST);
    if !cfg!(feature = "portable") {
        return Ok(command);
    }
    let exe = std::env::current_exe()?;
    let folder = exe
        .parent()
        .ok_or_else(|| anyhow::anyhow!("no folder for {}", exe.display()))?;
    Ok(command
        .env(localgpt_inference::LIBRARY_DIR_VAR, folder)
        .env("LD_LIBRARY_PATH", folder))
}
