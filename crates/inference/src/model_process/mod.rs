//! Local models in a process of their own. LocalGPT runs each local model — the chat model and
//! the embedding model — in a child process, the model host ([`ProcessCommand`], [`Program`]),
//! while it is in use, and ends that process once the model has been idle for `keep_alive`: everything
//! llama.cpp allocated (weights, caches, its Unicode tables, its threads' heaps) leaves with it,
//! so an idle daemon holds only its own few megabytes. A crash inside llama.cpp ends the model
//! process, not the daemon: the request that was running gets an error, and the next one starts
//! a new process.
//!
//! The two sides speak JSON lines ([`protocol`]) over the child's standard input and output;
//! [`ModelProcess`] is LocalGPT's side, [`serve_stdio`] the child's.

mod client;
mod program;
pub mod protocol;
#[cfg(feature = "engine")]
mod server;

use std::sync::atomic::{AtomicUsize, Ordering};

pub use client::ModelProcess;
pub use program::{ProcessCommand, Program};
#[cfg(feature = "engine")]
pub use server::{serve, serve_with};

use crate::error::InferenceError;

/// Model processes of this process that are running now.
static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// How many model processes this process has running now. Their work is not this process's CPU
/// time, so [`crate::process_memory::IdleTrimmer`] counts a running model process as work.
pub fn running() -> usize {
    RUNNING.load(Ordering::SeqCst)
}

/// Counts one running model process while it lives.
pub(crate) struct Running(());

impl Running {
    pub(crate) fn new() -> Self {
        RUNNING.fetch_add(1, Ordering::SeqCst);
        Self(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The error of a local model asked to run in this process when this build has no engine (feature
/// `engine`): it runs in model processes only.
#[cfg(not(feature = "engine"))]
pub(crate) fn needs_process() -> InferenceError {
    InferenceError::Process("this build runs local models in a model process only".to_owned())
}

/// Serves requests on standard input and output (the model process's `main`), running `prepare`
/// before the model is read (see [`serve_with`]). Standard output carries only replies: whatever
/// else would print there (a stray `printf` in C++ code) goes to standard error instead.
#[cfg(feature = "engine")]
pub fn serve_stdio(
    prepare: impl FnOnce(&protocol::ModelSpec) -> Result<(), String>,
) -> Result<(), InferenceError> {
    let output = protocol_output()?;
    serve_with(std::io::stdin().lock(), output, prepare)
}

/// A private handle on standard output for the replies, with file descriptor 1 pointed at
/// standard error.
#[cfg(all(unix, feature = "engine"))]
fn protocol_output() -> Result<Box<dyn std::io::Write + Send>, InferenceError> {
    use std::os::fd::FromRawFd;
    let failed = |what: &str| {
        InferenceError::Process(format!("{what}: {}", std::io::Error::last_os_error()))
    };
    // SAFETY: plain descriptor calls on this process's own descriptors 1 and 2; the duplicate is
    // owned by the `File` alone from here on.
    unsafe {
        let replies = libc::fcntl(libc::STDOUT_FILENO, libc::F_DUPFD_CLOEXEC, 3);
        if replies < 0 {
            return Err(failed("duplicating standard output"));
        }
        if libc::dup2(libc::STDERR_FILENO, libc::STDOUT_FILENO) < 0 {
            return Err(failed("redirecting standard output"));
        }
        Ok(Box::new(std::io::BufWriter::new(
            std::fs::File::from_raw_fd(replies),
        )))
    }
}

#[cfg(all(not(unix), feature = "engine"))]
fn protocol_output() -> Result<Box<dyn std::io::Write + Send>, InferenceError> {
    Ok(Box::new(std::io::stdout()))
}
