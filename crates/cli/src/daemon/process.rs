//! Managing the daemon from the command line: start it in the background and wait until its API
//! answers, stop it gracefully, report its state. The pid file holds the pid and the address.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::Value;

use crate::app::App;

/// How long `start` waits for the API and `stop` for the process to end.
const WAIT: Duration = Duration::from_secs(30);

/// `state/daemon.pid`: pid on the first line, address on the second.
pub fn pid_path(app: &App) -> PathBuf {
    app.paths.state_dir().join("daemon.pid")
}

/// `state/daemon.lock`, held by the running daemon.
pub fn lock_path(app: &App) -> PathBuf {
    app.paths.state_dir().join("daemon.lock")
}

/// The running daemon's pid and address, if its pid file names a live process. A pid file whose
/// process is gone is removed (and said so).
fn running(app: &App) -> Option<(u32, String)> {
    let text = std::fs::read_to_string(pid_path(app)).ok()?;
    let mut lines = text.lines();
    let pid: u32 = lines.next()?.trim().parse().ok()?;
    let address = lines.next().unwrap_or_default().trim().to_owned();
    if is_alive(pid) {
        Some((pid, address))
    } else {
        eprintln!("note: removing a stale pid file (process {pid} is gone)");
        std::fs::remove_file(pid_path(app)).ok();
        None
    }
}

fn is_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        || Command::new("kill")
            .args(["-0", &pid.to_string()])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
}

fn get_json(address: &str, path: &str, app: &App) -> anyhow::Result<Value> {
    let mut request = ureq::get(&format!("http://{address}{path}"));
    if let Some(token) = &app.config.server.auth_token {
        request = request.header("authorization", &format!("Bearer {}", token.expose()));
    }
    let text = request
        .call()
        .with_context(|| format!("asking the daemon at {address}"))?
        .body_mut()
        .read_to_string()?;
    Ok(serde_json::from_str(&text)?)
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
        std::thread::sleep(Duration::from_millis(100));
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

/// Asks the daemon to stop and waits until it has.
pub fn stop(app: &App) -> anyhow::Result<()> {
    let Some((pid, _)) = running(app) else {
        println!("not running");
        return Ok(());
    };
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .context("signalling the daemon")?;
    if !status.success() {
        anyhow::bail!("could not signal process {pid}");
    }
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if !is_alive(pid) || !pid_path(app).exists() {
            println!("stopped (pid {pid})");
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    anyhow::bail!("the daemon (pid {pid}) is still finishing after {WAIT:?}")
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
    let status = get_json(&address, "/api/status", app)?;
    if json {
        let mut status = status;
        status["running"] = Value::Bool(true);
        status["address"] = Value::String(address);
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(());
    }
    println!("running: pid {pid}, http://{address}");
    println!("model: {}", status["model"].as_str().unwrap_or("?"));
    println!("uptime: {} s", status["uptime_seconds"]);
    println!("queue: {} waiting", status["queue_depth"]);
    if let Some(heartbeat) = status.get("heartbeat").filter(|value| !value.is_null()) {
        println!(
            "heartbeat: last {} ({}), next {}, {} tokens so far",
            heartbeat["last_run"].as_str().unwrap_or("never"),
            heartbeat["last_outcome"]["kind"].as_str().unwrap_or("-"),
            heartbeat["next_run"].as_str().unwrap_or("-"),
            heartbeat["total_tokens"]
        );
    }
    if let Some(telegram) = status.get("telegram").filter(|value| !value.is_null()) {
        let state = telegram["state"].as_str().unwrap_or("?");
        match telegram["error"].as_str() {
            Some(error) => println!("telegram: {state} ({error})"),
            None => println!("telegram: {state}, {} owner id(s)", telegram["owners"]),
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
