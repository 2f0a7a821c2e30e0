//! Managing the daemon from the command line: start it in the background and wait until its API
//! answers, stop it gracefully, report its state. The pid file holds the pid and the address.
//! A daemon counts as running only while its process lives (a zombie left by `kill -9` does not)
//! and holds the home's lock. Every call to the daemon has a timeout, and `stop` ends a daemon
//! that does not finish within its grace period with SIGKILL, so neither ever hangs.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use localgpt_core::redact::Redactor;
use localgpt_core::text::{json_safe, terminal_safe_line};
use serde_json::Value;

use crate::app::App;

/// How long `start` waits for the API.
const WAIT: Duration = Duration::from_secs(30);
/// How long `stop` lets the daemon finish its turns (it allows them 30 s) before killing it.
const STOP_GRACE: Duration = Duration::from_secs(35);
/// How long one request to the daemon may take before it counts as not answering.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// `state/daemon.pid`: pid on the first line, address on the second.
pub fn pid_path(app: &App) -> PathBuf {
    app.paths.state_dir().join("daemon.pid")
}

/// `state/daemon.lock`, held by the running daemon.
pub fn lock_path(app: &App) -> PathBuf {
    app.paths.state_dir().join("daemon.lock")
}

/// The running daemon's pid and address, if its pid file names a live process that holds the
/// home's lock. A pid file whose process is gone (or a zombie) is removed, and said so.
pub(crate) fn running(app: &App) -> Option<(u32, String)> {
    let text = std::fs::read_to_string(pid_path(app)).ok()?;
    let mut lines = text.lines();
    let pid: u32 = lines.next()?.trim().parse().ok()?;
    let address = lines.next().unwrap_or_default().trim().to_owned();
    if is_alive(pid) && lock_is_held(app) {
        Some((pid, address))
    } else {
        eprintln!("note: removing a stale pid file (process {pid} is gone)");
        std::fs::remove_file(pid_path(app)).ok();
        None
    }
}

/// Whether process `pid` exists and is not a zombie waiting to be reaped (`kill -9` leaves one
/// until its parent collects it; it serves nothing).
fn is_alive(pid: u32) -> bool {
    let Ok(pid_t) = libc::pid_t::try_from(pid) else {
        return false;
    };
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !matches!(process_state(&stat), Some('Z' | 'X' | 'x')),
        // No /proc (not Linux): ask the kernel whether the pid exists.
        // SAFETY: signal 0 only checks that the process exists; nothing is sent.
        Err(_) => unsafe { libc::kill(pid_t, 0) == 0 },
    }
}

/// The state letter of a `/proc/PID/stat` line (`R`, `S`, `Z`, …). The command name before it
/// is in parentheses and may itself hold spaces and parentheses, so the state follows the last `)`.
fn process_state(stat: &str) -> Option<char> {
    let (_, after_name) = stat.rsplit_once(')')?;
    after_name.trim_start().chars().next()
}

/// Whether some process holds the home's daemon lock (a dead daemon's lock is released with it).
/// Without a lock file (an older daemon) the pid alone decides.
fn lock_is_held(app: &App) -> bool {
    let Ok(file) = std::fs::OpenOptions::new().write(true).open(lock_path(app)) else {
        return true;
    };
    match file.try_lock() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(_) => true,
    }
}

fn get_json(address: &str, path: &str, app: &App) -> anyhow::Result<Value> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(CALL_TIMEOUT))
        .build()
        .into();
    let mut request = agent.get(&format!("http://{address}{path}"));
    if let Some(token) = &app.config.server.auth_token {
        request = request.header("authorization", &format!("Bearer {}", token.expose()));
    }
    let text = request
        .call()
        .with_context(|| format!("asking the daemon at {address}"))?
        .body_mut()
        .read_to_string()?;
    // Whatever the daemon reports, no credential of this home is printed from it.
    let text = Redactor::from_config(&app.config).scrub(&text).into_owned();
    Ok(serde_json::from_str(&text)?)
}

/// Sends `signal` to `pid`; whether it was delivered.
fn signal(pid: u32, signal: libc::c_int) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill has no memory-safety preconditions; `pid` is the daemon's, read from its pid
    // file and checked to be alive and holding the home's lock.
    unsafe { libc::kill(pid, signal) == 0 }
}

/// Waits up to `limit` for `pid` to end; whether it did.
fn wait_for_exit(pid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if !is_alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    !is_alive(pid)
}

/// Starts the daemon in the background and returns once its API answers.
pub fn start(app: &App) -> anyhow::Result<()> {
    if let Some((pid, address)) = running(app) {
        println!("already running: pid {pid}, http://{address}");
        return Ok(());
    }
    let logs = app.paths.logs_dir();
    std::fs::create_dir_all(&logs)?;
    let log_path = logs.join("daemon.log");
    rotate(&log_path);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    let mut command = Command::new(std::env::current_exe()?);
    command
        .args(["--config", &app.paths.config_file.to_string_lossy()])
        .args(["daemon", "start", "--foreground"])
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn().context("starting the daemon")?;
    let deadline = Instant::now() + WAIT;
    // Asked often at first (a daemon without models is ready in milliseconds), then less.
    let mut pause = Duration::from_millis(2);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            anyhow::bail!(
                "the daemon exited at start ({status}); see {}",
                log_path.display()
            );
        }
        if let Some((pid, address)) = running(app)
            && get_json(&address, "/health", app).is_ok()
        {
            println!(
                "started: pid {pid}, http://{address} (log: {})",
                log_path.display()
            );
            return Ok(());
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
    anyhow::bail!(
        "the daemon did not answer within {WAIT:?}; see {}",
        log_path.display()
    )
}

/// Keeps the log under 10 MB: the previous one is kept as `daemon.log.1`.
fn rotate(log: &std::path::Path) {
    const MAX_LOG_BYTES: u64 = 10 * 1024 * 1024;
    if std::fs::metadata(log).is_ok_and(|meta| meta.len() > MAX_LOG_BYTES) {
        let _ = std::fs::rename(log, log.with_extension("log.1"));
    }
}

/// Asks the daemon to stop and waits until it has; a daemon still there after [`STOP_GRACE`]
/// (wedged, or stopped with SIGSTOP) is killed, and the output says so.
pub fn stop(app: &App) -> anyhow::Result<()> {
    let Some((pid, _)) = running(app) else {
        println!("not running");
        return Ok(());
    };
    if !signal(pid, libc::SIGTERM) {
        anyhow::bail!("could not signal process {pid}");
    }
    let deadline = Instant::now() + STOP_GRACE;
    while Instant::now() < deadline {
        if !is_alive(pid) || !pid_path(app).exists() {
            println!("stopped (pid {pid})");
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "the daemon (pid {pid}) did not stop within {} s; killing it (SIGKILL)",
        STOP_GRACE.as_secs()
    );
    signal(pid, libc::SIGKILL);
    if !wait_for_exit(pid, WAIT) {
        anyhow::bail!("the daemon (pid {pid}) survived SIGKILL");
    }
    std::fs::remove_file(pid_path(app)).ok();
    println!(
        "killed (pid {pid}) after it did not stop within {} s",
        STOP_GRACE.as_secs()
    );
    Ok(())
}

/// Prints the daemon's state.
pub fn status(app: &App, json: bool) -> anyhow::Result<()> {
    let Some((pid, address)) = running(app) else {
        if json {
            println!("{}", serde_json::json!({"running": false}));
        } else {
            println!("not running");
        }
        return Ok(());
    };
    let status = match get_json(&address, "/api/status", app) {
        Ok(status) => status,
        Err(error) => anyhow::bail!(
            "the daemon (pid {pid}, http://{address}) is running but not answering: {error:#} \
             (`localgpt daemon stop` ends it)"
        ),
    };
    if json {
        let mut status = status;
        status["running"] = Value::Bool(true);
        status["address"] = Value::String(address);
        println!("{}", json_safe(&serde_json::to_string_pretty(&status)?));
        return Ok(());
    }
    // Strings in the status (a model name, an error Telegram sent) are shown, never obeyed.
    let text = |value: &Value, missing: &str| -> String {
        terminal_safe_line(value.as_str().unwrap_or(missing)).into_owned()
    };
    println!(
        "running: pid {pid}, http://{}",
        terminal_safe_line(&address)
    );
    println!("model: {}", text(&status["model"], "?"));
    if status["model_problem"].is_string() {
        println!("  not ready: {}", text(&status["model_problem"], "?"));
    }
    println!("uptime: {} s", status["uptime_seconds"]);
    println!("queue: {} waiting", status["queue_depth"]);
    if let Some(heartbeat) = status.get("heartbeat").filter(|value| !value.is_null()) {
        println!(
            "heartbeat: last {} ({}), next {}, {} tokens so far",
            text(&heartbeat["last_run"], "never"),
            text(&heartbeat["last_outcome"]["kind"], "-"),
            text(&heartbeat["next_run"], "-"),
            heartbeat["total_tokens"]
        );
    }
    if let Some(telegram) = status.get("telegram").filter(|value| !value.is_null()) {
        let state = text(&telegram["state"], "?");
        match telegram["error"].as_str() {
            Some(error) => println!("telegram: {state} ({})", terminal_safe_line(error)),
            None => println!("telegram: {state}, {} owner id(s)", telegram["owners"]),
        }
    }
    if let Some(sandbox) = status.get("sandbox").filter(|value| !value.is_null()) {
        let gaps = sandbox["not_enforced"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let refused = if sandbox["commands_run"] == Value::Bool(false) {
            ", shell commands refused"
        } else {
            ""
        };
        if gaps.is_empty() {
            println!("sandbox: {}, fully enforced", text(&sandbox["level"], "?"));
        } else {
            println!(
                "sandbox: {}{refused}; not enforced:",
                text(&sandbox["level"], "?")
            );
            for gap in &gaps {
                println!("  - {}", text(gap, "?"));
            }
        }
    }
    if let Some(index) = status.get("index").filter(|index| !index.is_null()) {
        println!(
            "index: {} files, {} chunks ({} with vectors)",
            index["files"], index["chunks"], index["embedded_chunks"]
        );
    }
    Ok(())
}
