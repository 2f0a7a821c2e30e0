//! The daemon itself (`daemon start --foreground`): takes the home's lock, writes the pid file,
//! opens the memory index and the default model, and serves the API with the control plane until
//! SIGTERM or Ctrl-C; then it stops taking requests, lets turns finish (up to a deadline) and
//! removes the pid file.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use localgpt_agent::control::{ApprovalDesk, ArtifactStore, bounded};
use localgpt_agent::embedding_worker::EmbeddingWorker;
use localgpt_agent::host::{Approvals, PlaneParts};
use localgpt_agent::runtime::DenyAll;
use localgpt_agent::sessions::SessionStore;
use localgpt_server::ServerState;

use localgpt_memory::MemoryHandle;

use super::process::{lock_path, pid_path};
use super::{delivery, heartbeat, jobs, sandbox_status, telegram};
use crate::app::App;
use crate::assistant::host;

/// Inputs that may wait for the control plane before callers are told "busy".
const QUEUE_CAPACITY: usize = 64;
/// How long stopping waits for turns in flight.
const STOP_GRACE: Duration = Duration::from_secs(30);

/// Runs the daemon in this process until SIGTERM or Ctrl-C.
///
/// Each time the daemon goes a whole `providers.local.keep_alive` without work, it trims its heap
/// and hands back the resident pages of its own code (read back from the executable on the next
/// request): an idle daemon then holds little more than its own data. (The desktop app's host
/// does not: the window's code would then be read back on the next click.)
pub fn run_foreground(app: &App) -> anyhow::Result<()> {
    let _trimmer = localgpt_inference::process_memory::IdleTrimmer::start(
        app.config.providers.local.keep_alive.0,
    )
    .context("starting the idle memory trimmer")?;
    serve_home(app, |_| {}, shutdown_signal())
}

/// The daemon's work — the API, the control plane, memory upkeep, heartbeat, jobs, Telegram —
/// hosted on a thread of this process: the desktop app's host when no daemon runs. It holds the
/// home's lock and pid file like a daemon (so `daemon status` shows it and no second writer
/// starts) and stops when dropped, or on SIGTERM or Ctrl-C (`localgpt daemon stop`), which then
/// end the whole app as they would without it.
#[cfg(feature = "desktop")]
pub struct InProcessHost {
    /// Where its API listens.
    pub address: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
}

#[cfg(feature = "desktop")]
impl InProcessHost {
    /// Starts hosting this home; returns once the API answers (or with why it could not start:
    /// another daemon holds the home, the port is taken …).
    pub fn start(app: &App) -> anyhow::Result<Self> {
        let (ready, address) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = app.clone();
        let thread = std::thread::Builder::new()
            .name("localgpt-host".to_owned())
            .spawn(move || {
                let signalled = Arc::new(std::sync::atomic::AtomicBool::new(false));
                let signal_seen = Arc::clone(&signalled);
                let stop = async move {
                    tokio::select! {
                        _ = stopped => {}
                        () = shutdown_signal() => signal_seen.store(true, std::sync::atomic::Ordering::SeqCst),
                    }
                };
                let served = serve_home(
                    &app,
                    move |address| {
                        let _ = ready.send(address);
                    },
                    stop,
                );
                if signalled.load(std::sync::atomic::Ordering::SeqCst) {
                    // SIGTERM (`localgpt daemon stop`) or Ctrl-C ends the whole app, as it would
                    // without the handler the host installed; the host has finished cleanly.
                    std::process::exit(i32::from(served.is_err()));
                }
                served
            })
            .context("starting the host thread")?;
        match address.recv() {
            Ok(address) => Ok(Self {
                address,
                stop: Some(stop),
                thread: Some(thread),
            }),
            // It stopped before it was ready: its error says why.
            Err(_) => match thread.join() {
                Ok(Err(error)) => Err(error),
                Ok(Ok(())) => anyhow::bail!("the host stopped before it was ready"),
                Err(_) => anyhow::bail!("the host thread failed while starting"),
            },
        }
    }
}

#[cfg(feature = "desktop")]
impl Drop for InProcessHost {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take()
            && let Ok(Err(error)) = thread.join()
        {
            tracing::warn!("the in-process host stopped with an error: {error:#}");
        }
    }
}

/// How long a starting daemon waits for the home's lock. A daemon killed a moment ago can show as
/// a zombie (its main thread gone) while its other threads still hold the lock's descriptor.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Takes `lock`, trying again for up to `wait`.
fn lock_within(lock: &std::fs::File, wait: std::time::Duration) -> bool {
    let deadline = std::time::Instant::now() + wait;
    loop {
        if lock.try_lock().is_ok() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Serves this home until `stop` resolves; `ready` gets the API's address once it answers.
fn serve_home(
    app: &App,
    ready: impl FnOnce(std::net::SocketAddr),
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // Models come and go (`providers.local.keep_alive`); their memory should go with them.
    localgpt_inference::process_memory::return_freed_memory_promptly();
    let state_dir = app.paths.state_dir();
    std::fs::create_dir_all(&state_dir)
        .with_context(|| format!("creating {}", state_dir.display()))?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path(app))
        .context("opening the daemon lock file")?;
    if !lock_within(&lock, LOCK_WAIT) {
        anyhow::bail!(
            "another LocalGPT daemon is running for {} (`localgpt daemon status`)",
            app.paths.home.display()
        );
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let server = &app.config.server;
    let listener = runtime.block_on(localgpt_server::bind(
        &server.bind,
        server.port,
        server.token().is_some(),
    ))?;
    let address = listener.local_addr()?;
    let mut pid_file = std::fs::File::create(pid_path(app)).context("writing the pid file")?;
    writeln!(pid_file, "{}\n{address}", std::process::id())?;
    drop(pid_file);

    let desk = Arc::new(ApprovalDesk::default());
    let host = host(app, None, Some(app.config.providers.local.keep_alive.0))?;
    let memory = host.memory().clone();
    let PlaneParts {
        plane,
        model_name,
        model_problem,
    } = host.plane(None, Approvals::Desk(Arc::clone(&desk)));
    if let Some(problem) = &model_problem {
        tracing::warn!("the default model {model_name} cannot answer yet: {problem}");
    }
    let _watcher = watch_memory(app, &memory);
    let sandbox = sandbox_status::SandboxStatus::detect(app);
    sandbox.warn();
    let (bus, queue) = bounded(QUEUE_CAPACITY);
    let telegram = telegram::gateway(app, &bus, &desk)?;
    let heartbeat_app = app.clone();
    let telegram_status = telegram.clone();
    let state = ServerState {
        bus,
        sessions: Arc::new(SessionStore::new(app.paths.sessions_dir())),
        approvals: Some(desk),
        events: Some(delivery::event_log(app)),
        log_file: Some(app.paths.logs_dir().join("daemon.log")),
        mcp: Some(Arc::new(localgpt_mcp::McpServer::new(
            crate::commands::mcp::backend(app, memory.clone())?,
        ))),
        memory: Some(memory),
        artifacts: Some(ArtifactStore::new(state_dir.join("artifacts"))),
        model: model_name.clone(),
        model_problem: model_problem.clone(),
        models: model_choices(app, &model_name),
        auth_token: server.token().cloned(),
        allow_local_unauthenticated: server.allow_local_unauthenticated,
        limits: localgpt_server::Limits::from_config(server),
        caps: Arc::new(localgpt_server::Caps::from_config(server)),
        started: Instant::now(),
        extra_status: Some(Arc::new(move || {
            serde_json::json!({
                "heartbeat": heartbeat_status(&heartbeat_app),
                "jobs": jobs::rows(&heartbeat_app),
                "telegram": telegram_status.as_ref().map(|gateway| gateway.status()),
                "sandbox": sandbox,
                "usage": crate::commands::usage::usage_status(&heartbeat_app),
            })
        })),
    };
    let heartbeat_bus = state.bus.clone();
    tracing::info!(%address, model = %model_name, "daemon ready");
    eprintln!(
        "localgpt daemon (pid {}) serving http://{address} with {model_name}",
        std::process::id()
    );
    ready(address);
    let heartbeat_app = app.clone();
    let heartbeat_enabled = app.config.heartbeat.enabled;
    // One way to the owner for every background report (its Bot API client made once).
    let delivery = delivery::Delivery::for_app(app);
    let result = runtime.block_on(async move {
        let plane = tokio::spawn(plane.serve(queue));
        let (stop_heartbeat, stopped) = tokio::sync::watch::channel(false);
        let jobs = tokio::spawn(jobs::run_loop(
            heartbeat_app.clone(),
            heartbeat_bus.clone(),
            delivery.clone(),
            stopped.clone(),
        ));
        let telegram = telegram.map(|gateway| tokio::spawn(gateway.run(stopped.clone())));
        let heartbeat = heartbeat_enabled.then(|| {
            tokio::spawn(heartbeat::run_loop(
                heartbeat_app,
                heartbeat_bus,
                delivery,
                stopped,
            ))
        });
        let served = localgpt_server::serve(listener, state, stop).await;
        let _ = stop_heartbeat.send(true);
        if let Some(heartbeat) = heartbeat {
            let _ = heartbeat.await;
        }
        let _ = jobs.await;
        if let Some(telegram) = telegram {
            let _ = telegram.await;
        }
        // The bus closes with the server's state; turns in flight get a grace period.
        if tokio::time::timeout(STOP_GRACE, plane).await.is_err() {
            tracing::warn!("turns still running after {STOP_GRACE:?}; stopping anyway");
        }
        served
    });
    std::fs::remove_file(pid_path(app)).ok();
    drop(lock);
    eprintln!("localgpt daemon stopped");
    result.context("serving the API")
}

/// The control plane of this home for one command (`daemon heartbeat`, `jobs run`): tools that
/// need approval are denied, since nobody is there to ask.
fn build_plane(app: &App) -> anyhow::Result<PlaneParts> {
    Ok(host(app, None, None)?.plane(None, Approvals::Fixed(Arc::new(DenyAll))))
}

/// What keeps memory current while the daemon runs; dropping it stops both.
struct MemoryUpkeep {
    _watcher: Option<localgpt_memory::watcher::MemoryWatcher>,
    _warmer: Option<Arc<EmbeddingWorker>>,
}

/// Keeps the index following the files while the daemon runs (a failure to watch is logged; the
/// index is still refreshed before every search). Indexing is keyword-first: the embedding
/// worker embeds new chunks, then the lines recall weighs, at start and after each change.
fn watch_memory(app: &App, memory: &MemoryHandle) -> MemoryUpkeep {
    let warmer = match EmbeddingWorker::start(memory.clone()) {
        Ok(warmer) => {
            if let Err(error) = memory.embed_later() {
                tracing::warn!("memory index: {error}");
            }
            Some(Arc::new(warmer))
        }
        Err(error) => {
            tracing::warn!("not embedding in the background (indexing embeds inline): {error}");
            None
        }
    };
    // Indexed after the API is up: splitting notes into chunks counts tokens with the
    // embedding model's tokenizer, so the first refresh may load the model, which the daemon
    // does not wait for. A search meanwhile waits for the refresh (the handle serialises them).
    let first = memory.clone();
    let spawned = std::thread::Builder::new()
        .name("memory-first-index".to_owned())
        .spawn(move || {
            if let Err(error) = first.refresh_now() {
                tracing::warn!("indexing the workspace at start failed: {error}");
            }
        });
    if let Err(error) = spawned {
        tracing::warn!("could not index the workspace at start: {error}");
    }
    let mut roots = vec![app.paths.workspace(&app.config)];
    roots.extend(app.paths.extra_paths(&app.config));
    let memory = memory.clone();
    let started = localgpt_memory::watcher::MemoryWatcher::start(
        &roots,
        Duration::from_secs(1),
        move |paths| match memory.refresh_now() {
            Ok(report) => {
                tracing::info!(
                    changed = paths.len(),
                    indexed = report.files_indexed,
                    removed = report.files_removed,
                    "memory index updated"
                );
            }
            Err(error) => tracing::warn!("memory index update failed: {error}"),
        },
    );
    let watcher = match started {
        Ok(watcher) => Some(watcher),
        Err(error) => {
            tracing::warn!("not watching the workspace: {error}");
            None
        }
    };
    MemoryUpkeep {
        _watcher: watcher,
        _warmer: warmer,
    }
}

/// Models a client may pick: the default, the targets of `[agent.aliases]`, installed local chat
/// models.
fn model_choices(app: &App, default: &str) -> Vec<String> {
    let mut names = vec![default.to_owned()];
    names.extend(app.config.agent.aliases.values().cloned());
    match localgpt_inference::ModelStore::new(app.paths.models_dir()).list() {
        Ok(installed) => names.extend(
            installed
                .into_iter()
                .filter(|model| model.kind == localgpt_inference::ModelKind::Chat)
                .map(|model| format!("local/{}", model.name)),
        ),
        Err(error) => tracing::warn!("listing local models: {error}"),
    }
    let mut seen = std::collections::HashSet::new();
    names.retain(|name| seen.insert(name.clone()));
    names
}

/// The heartbeat part of `/api/status`.
fn heartbeat_status(app: &App) -> serde_json::Value {
    let state = heartbeat::load_state(app);
    serde_json::json!({
        "enabled": app.config.heartbeat.enabled,
        "last_run": state.last_run.map(|at| at.to_string()),
        "last_outcome": state.last_outcome,
        "last_tokens": state.last_tokens,
        "total_tokens": state.total_tokens,
        "next_run": heartbeat::next_due(app, &state).to_string(),
    })
}

/// `daemon heartbeat`: one cycle now, in this process, through the same control plane.
pub fn heartbeat_once(app: &App, json: bool) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let PlaneParts { plane, .. } = build_plane(app)?;
    let outcome = runtime.block_on(async {
        let (bus, queue) = bounded(1);
        let serving = tokio::spawn(plane.serve(queue));
        let outcome = heartbeat::run_cycle(app, &bus, &delivery::Delivery::for_app(app)).await;
        drop(bus);
        let _ = serving.await;
        outcome
    });
    let state = heartbeat::load_state(app);
    if json {
        println!(
            "{}",
            serde_json::json!({"outcome": outcome, "tokens": state.last_tokens})
        );
        return Ok(());
    }
    match &outcome {
        heartbeat::CycleOutcome::Skipped { reason } => {
            println!("skipped: {reason} (no model call)")
        }
        heartbeat::CycleOutcome::Ok => println!("HEARTBEAT_OK ({} tokens)", state.last_tokens),
        heartbeat::CycleOutcome::Delivered { reply } => {
            println!(
                "{reply}
({} tokens)",
                state.last_tokens
            );
        }
        heartbeat::CycleOutcome::Duplicate => println!("already reported today; not repeated"),
        heartbeat::CycleOutcome::Failed { message } => anyhow::bail!("heartbeat failed: {message}"),
    }
    Ok(())
}

/// `jobs run NAME`: runs one job now, in this process, through the same control plane.
pub fn run_job_once(app: &App, name: &str) -> anyhow::Result<()> {
    let Some(job) = app.config.jobs.iter().find(|job| job.name == name) else {
        let names: Vec<&str> = app
            .config
            .jobs
            .iter()
            .map(|job| job.name.as_str())
            .collect();
        anyhow::bail!(
            "no job named `{name}`; configured: {}",
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        );
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let PlaneParts { plane, .. } = build_plane(app)?;
    let state = runtime.block_on(async {
        let (bus, queue) = bounded(1);
        let serving = tokio::spawn(plane.serve(queue));
        let state = jobs::run_job(app, &bus, job, &delivery::Delivery::for_app(app)).await;
        drop(bus);
        let _ = serving.await;
        state
    });
    match (state.last_outcome.as_deref(), state.last_reply) {
        (Some("ok"), Some(reply)) => {
            println!("{reply}");
            Ok(())
        }
        (outcome, _) => anyhow::bail!("job `{name}`: {}", outcome.unwrap_or("no outcome")),
    }
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(error) => {
                    tracing::warn!("cannot watch SIGTERM: {error}");
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = terminate.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("stopping: no new requests; letting turns finish");
}
