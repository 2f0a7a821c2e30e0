//! Errors of the sandbox, worded for the model and the user: what was refused and why.

/// Why a command could not be confined.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// `level = "strict"` and part of the policy cannot be enforced here.
    #[error(
        "refused by the sandbox (level = \"strict\"): {}. The command was not run.",
        .0.join("; ")
    )]
    Unenforceable(Vec<String>),
    /// Building the kernel rules failed.
    #[error("the sandbox could not be set up: {0}")]
    Setup(String),
}
