//! The `bash` tool: runs a shell command in the workspace with a timeout and a cap on what it
//! prints. It asks the owner first by default (`agent.require_approval`), and runs under the OS
//! sandbox of `[sandbox]` ([`localgpt_sandbox`]): the workspace read-write, system folders
//! read-only, no network, resource limits, and a scrubbed environment, so the daemon's provider
//! keys and bot tokens never reach it. Under `strict` a command whose policy cannot be fully
//! enforced is refused. The child is awaited asynchronously, so a long command never occupies an
//! async worker thread.

use std::process::Stdio;
use std::sync::Once;
use std::time::Duration;

use localgpt_core::chat::ToolSpec;
use localgpt_sandbox::{Confinement, Policy, SandboxLevel};
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

/// Runs a shell command under the default sandbox policy (level `auto`, the workspace only).
#[derive(Debug, Default)]
pub struct Bash;

/// Runs a shell command under a configured sandbox policy (`[sandbox]`).
#[derive(Debug, Clone)]
pub struct SandboxedBash {
    policy: Policy,
}

impl SandboxedBash {
    /// The `bash` tool confined by `policy`.
    pub fn new(policy: Policy) -> Self {
        Self { policy }
    }
}

fn bash_spec(allow_net: &[String]) -> ToolSpec {
    let network = if allow_net.is_empty() {
        "has no network".to_owned()
    } else {
        format!(
            "reaches only these hosts over HTTP(S), through the proxy set in HTTP_PROXY and \
             HTTPS_PROXY: {}",
            allow_net.join(", ")
        )
    };
    ToolSpec {
        name: "bash".to_owned(),
        description: format!(
            "Run a shell command in the workspace folder and return its exit code and output. \
             It runs in a sandbox: it can read system folders and the workspace, write only the \
             workspace, and {network}."
        ),
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

impl Tool for Bash {
    fn spec(&self) -> ToolSpec {
        bash_spec(&[])
    }

    fn run<'a>(&'a self, arguments: Value, context: &'a ToolContext) -> ToolFuture<'a> {
        Box::pin(async move {
            let policy = Policy::for_workspace(&context.workspace);
            run_tool(&arguments, &policy, context).await
        })
    }
}

impl Tool for SandboxedBash {
    fn spec(&self) -> ToolSpec {
        bash_spec(&self.policy.allow_net)
    }

    fn run<'a>(&'a self, arguments: Value, context: &'a ToolContext) -> ToolFuture<'a> {
        Box::pin(async move { run_tool(&arguments, &self.policy, context).await })
    }
}

async fn run_tool(
    arguments: &Value,
    policy: &Policy,
    context: &ToolContext,
) -> Result<String, ToolError> {
    let command = string_arg(arguments, "command")?;
    let seconds = usize_arg(arguments, "timeout")?
        .unwrap_or(DEFAULT_TIMEOUT_SECONDS)
        .clamp(1, MAX_TIMEOUT_SECONDS);
    run_command(
        command,
        policy,
        context,
        Duration::from_secs(seconds as u64),
    )
    .await
}

/// Says once per run what the sandbox does not enforce on this machine.
fn warn_unenforced(confinement: &Confinement) {
    static WARNED: Once = Once::new();
    if confinement.unenforced().is_empty() {
        return;
    }
    WARNED.call_once(|| {
        tracing::warn!(
            "sandbox (level = {:?}): not enforced on this machine: {}",
            confinement.level(),
            confinement.unenforced().join("; ")
        );
    });
}

async fn run_command(
    command: &str,
    policy: &Policy,
    context: &ToolContext,
    timeout: Duration,
) -> Result<String, ToolError> {
    let mut confinement =
        Confinement::prepare(policy).map_err(|error| ToolError::Failed(error.to_string()))?;
    warn_unenforced(&confinement);
    let mut process = tokio::process::Command::from(confinement.command("bash"));
    process
        .arg("-c")
        .arg(command)
        .current_dir(&context.workspace)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    confinement.apply(process.as_std_mut());
    let mut child = process
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
        None => signal_report(&status, policy),
    };
    if !out.is_empty() {
        report.push_str(&format!("stdout:\n{out}\n"));
    }
    if !err.is_empty() {
        report.push_str(&format!("stderr:\n{err}\n"));
    }
    if confinement.level() != SandboxLevel::Off
        && (mentions_refusal(&err) || out.contains("localgpt sandbox:"))
    {
        report.push_str(SANDBOX_NOTE);
    }
    drop(confinement);
    Ok(cap_output(&report, super::DEFAULT_OUTPUT_CAP))
}

/// What the model is told when the sandbox may have refused something.
const SANDBOX_NOTE: &str = "sandbox: this command runs confined. It may read system folders and \
    the workspace, write only the workspace (and [sandbox] allow_write), open no network \
    connections or local sockets (except to [sandbox] allow_net hosts through the proxy in \
    HTTP_PROXY/HTTPS_PROXY, which answers 403 with its reason), and never touch credential stores \
    or LocalGPT's own files; \"Permission denied\" or \"Operation not permitted\" above means \
    the sandbox refused it. \
    Do not try to work around it; ask the user to change [sandbox] if the access is needed.\n";

fn mentions_refusal(stderr: &str) -> bool {
    [
        "Permission denied",
        "Operation not permitted",
        "Invalid cross-device link",
        "Network is unreachable",
        "Couldn't connect to server",
    ]
    .iter()
    .any(|phrase| stderr.contains(phrase))
}

/// Why a command ended by a signal, in words.
fn signal_report(status: &std::process::ExitStatus, policy: &Policy) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status.signal() {
        Some(libc::SIGXCPU) => format!(
            "stopped by the sandbox: it used up its CPU time limit ({} s, [sandbox.limits] \
             cpu_seconds)\n",
            policy.limits.cpu_seconds
        ),
        Some(libc::SIGXFSZ) => format!(
            "stopped by the sandbox: it wrote a file larger than its limit ({} MiB, \
             [sandbox.limits] file_size_mb)\n",
            policy.limits.file_size_mb
        ),
        Some(libc::SIGSYS) => {
            "stopped by the sandbox: it made a forbidden system call\n".to_owned()
        }
        Some(signal) => format!("killed by signal {signal}\n"),
        None => "killed by a signal\n".to_owned(),
    }
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
