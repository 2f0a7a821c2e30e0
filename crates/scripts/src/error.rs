//! Why a script tool call failed, in words the model can act on.

/// A failed script tool call.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    /// The arguments do not fit the tool's parameters.
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    /// The script threw (or a refused host call threw and the script did not catch it).
    #[error("the script failed: {0}")]
    Thrown(String),
    /// The script ran past its time limit and was interrupted.
    #[error("the script was stopped after its time limit of {0} ms (an endless loop?)")]
    TimedOut(u64),
    /// The script used more memory than its limit.
    #[error("the script was stopped: it used more than its memory limit of {0} MiB")]
    OutOfMemory(u64),
    /// The script file does not define what the engine needs, or could not be set up.
    #[error("the script tool cannot run: {0}")]
    Setup(String),
}
