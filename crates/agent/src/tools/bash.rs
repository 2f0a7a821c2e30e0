//! The `bash` tool: runs a shell command in the workspace with a timeout and a cap on what it
//! prints. It asks the owner first by default (`agent.require_approval`); the OS sandbox that will
//! confine it further is configured under `[sandbox]`.
//!
//! The command gets a cleared environment with only a safe allow-list passed through
//! ([`SAFE_ENV`] and `LC_*`), so the daemon's provider keys and bot tokens never reach it. The
//! child is awaited asynchronously, so a long command never occupies an async worker thread.

use std::process::Stdio;
use std::time::Duration;

use localgpt_core::chat::ToolSpec;
use serde_json::Value;
use tokio::io::AsyncReadExt;

use super::{
    Tool, ToolContext, ToolError, ToolFuture, cap_output, object_schema, string_arg, usize_arg,
};

/// Seconds a command may run when the model does not say.
const DEFAULT_TIMEOUT_SECONDS: usize = 60;
/// Most seconds a command may run.
const MAX_TIMEOUT_SECONDS: usize = 600;
/// Bytes of output kept from each of stdout and stderr.
const MAX_OUTPUT_BYTES: usize = 256 * 1024;

/// Environment variables the command inherits (plus every `LC_*`); nothing else is passed on.
pub const SAFE_ENV: &[&str] = &[
    "PATH", "HOME", "LANG", "TERM", "TZ", "USER", "SHELL", "TMPDIR",
];

/// The allow-listed part of this process's environment.
pub fn safe_environment() -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    std::env::vars_os()
        .filter(|(name, _)| {
            name.to_str()
                .is_some_and(|name| SAFE_ENV.contains(&name) || name.starts_with("LC_"))
        })
        .collect()
}

/// Runs a shell command.
#[derive(Debug, Default)]
pub struct Bash;

impl Tool for Bash {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "bash".to_owned(),
            description: "Run a shell command in the workspace folder and return its exit code \
                          and output."
                .to_owned(),
            parameters: object_schema(&[
                ("command", "string", "The command line", true),
                (
                    "timeout",
                    "integer",
                    "Seconds before it is stopped (default 60, max 600)",
                    false,
                ),
            ]),
        }
    }

    fn run<'a>(&'a self, arguments: Value, context: &'a ToolContext) -> ToolFuture<'a> {
        Box::pin(async move {
            let command = string_arg(&arguments, "command")?;
            let seconds = usize_arg(&arguments, "timeout")?
                .unwrap_or(DEFAULT_TIMEOUT_SECONDS)
                .clamp(1, MAX_TIMEOUT_SECONDS);
            run_command(command, context, Duration::from_secs(seconds as u64)).await
        })
    }
}

async fn run_command(
    command: &str,
    context: &ToolContext,
    timeout: Duration,
) -> Result<String, ToolError> {
    let mut child = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(command)
        .current_dir(&context.workspace)
        .env_clear()
        .envs(safe_environment())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0)
        .spawn()
        .map_err(|error| ToolError::Failed(format!("could not start bash: {error}")))?;
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let collect = async {
        let (out, err) = tokio::join!(read_capped(stdout.as_mut()), read_capped(stderr.as_mut()));
        let status = child.wait().await;
        (out, err, status)
    };
    let Ok((out, err, status)) = tokio::time::timeout(timeout, collect).await else {
        kill_group(child.id()).await;
        return Err(ToolError::Failed(format!(
            "the command did not finish within {} s and was stopped",
            timeout.as_secs()
        )));
    };
    let status =
        status.map_err(|error| ToolError::Failed(format!("waiting for bash failed: {error}")))?;
    let mut report = match status.code() {
        Some(code) => format!("exit code {code}\n"),
        None => "killed by a signal\n".to_owned(),
    };
    if !out.is_empty() {
        report.push_str(&format!("stdout:\n{out}\n"));
    }
    if !err.is_empty() {
        report.push_str(&format!("stderr:\n{err}\n"));
    }
    Ok(cap_output(&report, super::DEFAULT_OUTPUT_CAP))
}

/// Reads a pipe to the end, keeping at most [`MAX_OUTPUT_BYTES`].
async fn read_capped(pipe: Option<&mut (impl tokio::io::AsyncRead + Unpin)>) -> String {
    let Some(pipe) = pipe else {
        return String::new();
    };
    let mut kept = Vec::new();
    let mut buffer = [0u8; 8192];
    let mut dropped = 0usize;
    loop {
        match pipe.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => {
                let room = MAX_OUTPUT_BYTES.saturating_sub(kept.len());
                kept.extend_from_slice(&buffer[..read.min(room)]);
                dropped += read.saturating_sub(room);
            }
        }
    }
    let mut text = String::from_utf8_lossy(&kept).into_owned();
    if dropped > 0 {
        text.push_str(&format!("\n[… {dropped} more bytes not kept]"));
    }
    text
}

/// Stops the command and everything it started.
async fn kill_group(pid: Option<u32>) {
    let Some(pid) = pid.and_then(|pid| i32::try_from(pid).ok()) else {
        return;
    };
    // The child leads its own process group, so this reaches its children too.
    let status = tokio::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .env_clear()
        .envs(safe_environment())
        .stderr(Stdio::null())
        .status()
        .await;
    if let Err(error) = status {
        tracing::warn!("could not stop process group {pid}: {error}");
    }
}
