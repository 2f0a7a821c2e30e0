//! LocalGPT's side of a model process: starts it, loads its model, and sends it requests; a writer
//! thread alone writes to the process (so no caller, and not the reader, ever waits on a full
//! pipe while the process waits on us) and a reader thread hands each reply to the call or reply
//! stream waiting for it. When the process ends —
//! told to, or killed by a crash inside llama.cpp — every waiting call gets an error and
//! [`ModelProcess::is_alive`] turns false, so the owner starts a new one for the next call.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use futures_channel::mpsc::UnboundedSender;
use localgpt_core::chat::{ChatError, ChatEvent, ChatRequest};

use super::program::Staged;
use super::protocol::{ModelSpec, Reply, Request};
use super::{ProcessCommand, Running};
use crate::error::InferenceError;

/// How long a process that was told to end (its input closed) may take before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// The longest reply line read (the vectors of 64 texts of 4,096 dimensions take about 3 MiB). A
/// model process that went wrong — or was taken over by a hostile model file — cannot make
/// LocalGPT buffer more.
const MAX_REPLY_BYTES: u64 = 64 << 20;

/// A running model process with its model loaded.
pub struct ModelProcess {
    /// Shared with the reader thread, which tells callers how the process ended.
    child: Arc<Mutex<Child>>,
    /// Lines for the writer thread; also used by the reader thread for cancellations.
    outgoing: mpsc::Sender<Outgoing>,
    waiting: Arc<Mutex<HashMap<u64, Waiter>>>,
    alive: Arc<AtomicBool>,
    next_id: AtomicU64,
    /// Joined when the process is dropped. The reader thread is not: it ends when the process's
    /// output closes, which a process that forked could delay.
    writer: Option<JoinHandle<()>>,
    /// The image the process was started from, kept for the next start while it runs.
    _program: Option<Arc<Staged>>,
}

/// What the writer thread does next.
enum Outgoing {
    /// Write this request line.
    Line(Vec<u8>),
    /// Close the process's input (which ends it) and stop.
    Close,
}

impl std::fmt::Debug for ModelProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelProcess")
            .field("pid", &self.pid())
            .field("alive", &self.is_alive())
            .finish_non_exhaustive()
    }
}

/// Who waits for replies to a request.
enum Waiter {
    /// A call with one answer.
    Call(mpsc::Sender<Result<Reply, String>>),
    /// A streamed reply; `cancel` is the caller's stop flag, `cancel_sent` whether the process
    /// has been told.
    Stream {
        events: UnboundedSender<Result<ChatEvent, ChatError>>,
        cancel: Arc<AtomicBool>,
        cancel_sent: bool,
    },
}

impl ModelProcess {
    /// Starts `command`, has it load `model`, and returns once the model is loaded (or with the
    /// process's reason it could not be).
    pub fn start(command: &ProcessCommand, model: &ModelSpec) -> Result<Self, InferenceError> {
        let failed = |message: String| InferenceError::Process(message);
        let (mut spawn, staged) = command.command()?;
        // A process group of its own, so ending it ends anything it started.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut spawn, 0);
        let mut child = spawn
            .args(&command.args)
            .env_clear()
            .envs(std::env::vars_os().filter(|(name, _)| passed_on(name)))
            .envs(command.envs.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|error| {
                failed(format!(
                    "starting {} as the model process: {error}",
                    command.program
                ))
            })?;

        let (Some(mut input), Some(output)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(failed("the model process has no pipes".to_owned()));
        };
        let mut output = BufReader::new(output);
        let watchdog = LoadWatchdog::start(&child, command.load_timeout);
        let loaded = send(
            &mut input,
            &Request::Load {
                model: model.clone(),
            },
        )
        .map_err(|error| format!("writing to the model process: {error}"))
        .and_then(|()| read_reply(&mut output));
        let hung = watchdog.is_some_and(LoadWatchdog::stop);
        let outcome = match loaded {
            _ if hung => Err(failed(format!(
                "the model process did not finish loading the model within {} s and was ended",
                command.load_timeout.as_secs()
            ))),
            Ok(Some(Reply::Loaded)) => Ok(()),
            Ok(Some(Reply::LoadFailed { message })) => Err(InferenceError::ProcessLoad(message)),
            Ok(Some(other)) => Err(failed(format!("answered {other:?} to loading the model"))),
            Ok(None) => Err(failed(ended(&mut child))),
            Err(error) => Err(failed(format!("{error} ({})", ended(&mut child)))),
        };
        if let Err(error) = outcome {
            drop(input);
            finish(&mut child);
            return Err(error);
        }
        let waiting = Arc::new(Mutex::new(HashMap::new()));
        let alive = Arc::new(AtomicBool::new(true));
        let (outgoing, lines) = mpsc::channel();
        let writer = std::thread::Builder::new()
            .name("model-process-writer".to_owned())
            .spawn(move || write_requests(input, &lines));
        let writer = match writer {
            Ok(writer) => writer,
            Err(error) => {
                finish(&mut child);
                return Err(failed(format!("starting the request writer: {error}")));
            }
        };
        let pid = child.id();
        let child = Arc::new(Mutex::new(child));
        let reader = {
            let waiting = Arc::clone(&waiting);
            let alive = Arc::clone(&alive);
            let outgoing = outgoing.clone();
            let child = Arc::clone(&child);
            // Counted until its output ends: a process that died is no longer running.
            let running = Running::new();
            std::thread::Builder::new()
                .name("model-process-reader".to_owned())
                .spawn(move || {
                    read_replies(output, &child, &waiting, &alive, &outgoing);
                    drop(running);
                })
        };
        // The reader runs detached (see `writer`).
        if let Err(error) = reader {
            let _ = outgoing.send(Outgoing::Close);
            finish(&mut lock(&child));
            let _ = writer.join();
            return Err(failed(format!("starting the reply reader: {error}")));
        }
        tracing::info!(pid, "model process started");
        Ok(Self {
            child,
            outgoing,
            waiting,
            alive,
            next_id: AtomicU64::new(1),
            writer: Some(writer),
            _program: staged,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        lock(&self.child).id()
    }

    /// Whether the process still runs (a process that died is not started again by this value).
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }

    /// Embeds `texts` in the process.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
        let texts = texts.iter().map(|text| (*text).to_owned()).collect();
        match self.call(|id| Request::Embed { id, texts }, None)? {
            Reply::Vectors { vectors, .. } => Ok(vectors),
            other => Err(format!("the model process answered {other:?} to embed")),
        }
    }

    /// The model's token count of `text`; `None` after `timeout` or when the process cannot say.
    pub fn count_tokens(&self, text: &str, timeout: Option<Duration>) -> Result<usize, String> {
        let text = text.to_owned();
        match self.call(|id| Request::CountTokens { id, text }, timeout)? {
            Reply::Tokens { count, .. } => Ok(count),
            other => Err(format!(
                "the model process answered {other:?} to count tokens"
            )),
        }
    }

    /// Streams the reply to `request` into `events`; setting `cancel` (or dropping the receiver
    /// of `events`) stops it at the process's next event.
    pub fn chat(
        &self,
        request: ChatRequest,
        events: UnboundedSender<Result<ChatEvent, ChatError>>,
        cancel: Arc<AtomicBool>,
    ) {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        lock(&self.waiting).insert(
            id,
            Waiter::Stream {
                events: events.clone(),
                cancel,
                cancel_sent: false,
            },
        );
        if let Err(message) = self.send(&Request::Chat { id, request }) {
            lock(&self.waiting).remove(&id);
            let _ = events.unbounded_send(Err(ChatError::Failed {
                provider: "local".to_owned(),
                message,
            }));
        }
    }

    /// Sends the request `make(id)` and waits for its one reply.
    fn call(
        &self,
        make: impl FnOnce(u64) -> Request,
        timeout: Option<Duration>,
    ) -> Result<Reply, String> {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let (sender, receiver) = mpsc::channel();
        lock(&self.waiting).insert(id, Waiter::Call(sender));
        if let Err(message) = self.send(&make(id)) {
            lock(&self.waiting).remove(&id);
            return Err(message);
        }
        let reply = match timeout {
            Some(timeout) => receiver.recv_timeout(timeout).map_err(|_| {
                lock(&self.waiting).remove(&id);
                "the model process did not answer in time".to_owned()
            })?,
            None => receiver
                .recv()
                .map_err(|_| "the model process ended".to_owned())?,
        };
        match reply? {
            Reply::Failed { message, .. } => Err(message),
            reply => Ok(reply),
        }
    }

    fn send(&self, request: &Request) -> Result<(), String> {
        if !self.is_alive() {
            return Err("the model process has ended".to_owned());
        }
        let line = encode(request).map_err(|error| format!("encoding a request: {error}"))?;
        self.outgoing
            .send(Outgoing::Line(line))
            .map_err(|_| "the model process has ended".to_owned())
    }
}

impl Drop for ModelProcess {
    /// Closes the process's input, which ends it; one that does not end in time is killed.
    fn drop(&mut self) {
        let _ = self.outgoing.send(Outgoing::Close);
        finish(&mut lock(&self.child));
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
        tracing::info!("model process ended");
    }
}

/// Writes request lines until told to close (or the process stops reading); dropping `input`
/// then closes the process's standard input.
fn write_requests(mut input: ChildStdin, lines: &mpsc::Receiver<Outgoing>) {
    while let Ok(Outgoing::Line(line)) = lines.recv() {
        if input.write_all(&line).and_then(|()| input.flush()).is_err() {
            return; // The process ended; the reader tells the callers.
        }
    }
}

/// Whether the environment variable `name` reaches the model process: only log and engine
/// settings do — keys and tokens in the environment have no business there.
fn passed_on(name: &std::ffi::OsStr) -> bool {
    let name = name.to_string_lossy();
    name == "LOCALGPT_LOG"
        || name == "LD_LIBRARY_PATH"
        || ["OMP_", "GGML_"]
            .iter()
            .any(|prefix| name.starts_with(prefix))
}

/// Waits up to [`EXIT_GRACE`] for `child` to end after its input closed, then kills it.
fn finish(child: &mut Child) {
    let deadline = Instant::now() + EXIT_GRACE;
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    tracing::warn!(
        pid = child.id(),
        "the model process did not end; killing it"
    );
    kill_group(child.id());
    let _ = child.kill();
    let _ = child.wait();
}

/// Kills the process group the model process `pid` leads, so nothing it forked keeps running.
/// Only for a child not yet waited for (its process group id is then still its own).
fn kill_group(pid: u32) {
    #[cfg(unix)]
    if let Ok(group) = libc::pid_t::try_from(pid) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
    }
}

/// Ends a model process that has not answered its load within a time limit: a hung load (a
/// stuck disk, a model file that sends llama.cpp into a loop) must not leave the request that
/// started it waiting forever.
struct LoadWatchdog {
    done: mpsc::Sender<()>,
    fired: JoinHandle<bool>,
}

impl LoadWatchdog {
    /// Watches `child` (not yet waited for, and not waited for until [`Self::stop`]).
    fn start(child: &Child, timeout: Duration) -> Option<Self> {
        let pid = child.id();
        let (done, waiting) = mpsc::channel::<()>();
        let fired = std::thread::Builder::new()
            .name("model-load-watchdog".to_owned())
            .spawn(move || match waiting.recv_timeout(timeout) {
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    tracing::warn!(pid, ?timeout, "the model process hung loading; ending it");
                    kill_group(pid);
                    true
                }
                _ => false,
            })
            .ok()?;
        Some(Self { done, fired })
    }

    /// Stops watching; true when the time ran out and the process was ended.
    fn stop(self) -> bool {
        let _ = self.done.send(());
        self.fired.join().unwrap_or(false)
    }
}

/// How `child` ended, for messages (it is waited for briefly: its output has already closed).
fn ended(child: &mut Child) -> String {
    let deadline = Instant::now() + EXIT_GRACE;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return format!("the model process ended ({status})"),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => return "the model process stopped answering".to_owned(),
        }
    }
}

/// One request as a line.
fn encode(request: &Request) -> serde_json::Result<Vec<u8>> {
    let mut line = serde_json::to_vec(request)?;
    line.push(b'\n');
    Ok(line)
}

/// Writes one request line.
fn send(input: &mut impl Write, request: &Request) -> std::io::Result<()> {
    input.write_all(&encode(request).map_err(std::io::Error::other)?)?;
    input.flush()
}

/// Reads one reply line; `None` at the end of the output.
fn read_reply(output: &mut impl BufRead) -> Result<Option<Reply>, String> {
    let mut line = Vec::new();
    match output
        .by_ref()
        .take(MAX_REPLY_BYTES)
        .read_until(b'\n', &mut line)
    {
        Ok(0) => Ok(None),
        Ok(read) if read as u64 == MAX_REPLY_BYTES && line.last() != Some(&b'\n') => Err(format!(
            "the model process sent a reply longer than {} MiB",
            MAX_REPLY_BYTES >> 20
        )),
        Ok(_) => serde_json::from_slice(&line)
            .map(Some)
            .map_err(|error| format!("the model process sent something unreadable: {error}")),
        Err(error) => Err(format!("reading from the model process: {error}")),
    }
}

/// Hands every reply to its waiter until the output ends, then fails everyone still waiting.
fn read_replies(
    mut output: BufReader<ChildStdout>,
    child: &Mutex<Child>,
    waiting: &Mutex<HashMap<u64, Waiter>>,
    alive: &AtomicBool,
    outgoing: &mpsc::Sender<Outgoing>,
) {
    let why = loop {
        match read_reply(&mut output) {
            Ok(Some(reply)) => deliver(reply, waiting, outgoing),
            Ok(None) => break ended(&mut lock(child)),
            Err(message) => break message,
        }
    };
    alive.store(false, Ordering::SeqCst);
    let _ = outgoing.send(Outgoing::Close);
    let orphans: Vec<Waiter> = lock(waiting).drain().map(|(_, waiter)| waiter).collect();
    if !orphans.is_empty() {
        tracing::warn!("{why} with {} request(s) unanswered", orphans.len());
    }
    for waiter in orphans {
        match waiter {
            Waiter::Call(sender) => {
                let _ = sender.send(Err(why.clone()));
            }
            Waiter::Stream { events, .. } => {
                let _ = events.unbounded_send(Err(ChatError::Failed {
                    provider: "local".to_owned(),
                    message: format!("{why} before the reply was complete"),
                }));
            }
        }
    }
}

/// Hands `reply` to whoever waits for it; a reply stream whose reader went away or was
/// cancelled gets the process told to stop it.
fn deliver(reply: Reply, waiting: &Mutex<HashMap<u64, Waiter>>, outgoing: &mpsc::Sender<Outgoing>) {
    let id = match &reply {
        Reply::Vectors { id, .. }
        | Reply::Tokens { id, .. }
        | Reply::Event { id, .. }
        | Reply::Failed { id, .. }
        | Reply::Done { id } => *id,
        Reply::Loaded | Reply::LoadFailed { .. } => {
            tracing::warn!("the model process sent {reply:?} out of turn");
            return;
        }
    };
    let mut waiting = lock(waiting);
    let Some(waiter) = waiting.get_mut(&id) else {
        return; // A call that timed out and left.
    };
    match waiter {
        Waiter::Call(_) => {
            if let Some(Waiter::Call(sender)) = waiting.remove(&id) {
                let _ = sender.send(Ok(reply));
            }
        }
        Waiter::Stream {
            events,
            cancel,
            cancel_sent,
        } => match reply {
            Reply::Event { event, .. } => {
                let delivered =
                    !cancel.load(Ordering::SeqCst) && events.unbounded_send(Ok(event)).is_ok();
                if !delivered && !*cancel_sent {
                    *cancel_sent = true;
                    if let Ok(line) = encode(&Request::Cancel { id }) {
                        let _ = outgoing.send(Outgoing::Line(line));
                    }
                }
            }
            Reply::Failed { message, .. } => {
                let _ = events.unbounded_send(Err(ChatError::Failed {
                    provider: "local".to_owned(),
                    message,
                }));
                waiting.remove(&id);
            }
            _ => {
                waiting.remove(&id);
            }
        },
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
