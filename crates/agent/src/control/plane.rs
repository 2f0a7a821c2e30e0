//! The control plane: consumes the ingress bus, gives every input its trust level from the
//! identity its adapter authenticated (never from its text), picks the persona and tool scope
//! that follow, and runs the turn through a [`TurnRunner`] — one turn at a time per session,
//! different sessions side by side, each under a deadline. What untrusted inputs produce is kept
//! as an artifact for the owner to review.
//!
//! At most [`ControlPlane::with_max_turns`] turns run at once (default [`default_max_turns`]);
//! further inputs wait in the bus in the order they came, and the bus answers "busy" once it is
//! full. Each turn runs as its own task: at its deadline its cancel token fires, the task is
//! aborted (its future dropped) and the outcome is [`Outcome::TimedOut`] at once, even if the turn
//! never yields. A failed turn's text passes through the plane's [`Redactor`] before anyone
//! sees it.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use localgpt_core::chat::CancelToken;
use localgpt_core::ingress::{IngressMessage, TrustLevel};
use localgpt_core::redact::Redactor;
use tokio::sync::{Semaphore, mpsc};

use super::bus::{Envelope, IngressQueue, Outcome};
use super::{ArtifactStore, Persona, TrustPolicy};
use crate::runtime::{AgentEvent, TurnReport};

/// What a turn returns to the control plane: its report and the session it ran in.
pub type TurnResult = Result<(TurnReport, Option<String>), super::TurnFailure>;

/// Runs one turn of the agent for an input, as the given persona. The daemon's runner builds an
/// agent whose tool box is limited to `persona.tool_scope()`.
pub trait TurnRunner: Send + Sync + 'static {
    /// Runs the turn, sending events as they happen; stops when `cancel` fires.
    fn run<'a>(
        &'a self,
        message: &'a IngressMessage,
        persona: &'a Persona,
        cancel: CancelToken,
        events: mpsc::UnboundedSender<AgentEvent>,
    ) -> Pin<Box<dyn Future<Output = TurnResult> + Send + 'a>>;
}

/// Most turns at once when nothing else is said: four per core, at most 32.
pub fn default_max_turns() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    (cores * 4).clamp(1, 32)
}

/// The control plane.
pub struct ControlPlane {
    policy: TrustPolicy,
    runner: Arc<dyn TurnRunner>,
    artifacts: Option<ArtifactStore>,
    deadline: Duration,
    sessions: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    turns: Arc<Semaphore>,
    max_turns: usize,
    running: Arc<AtomicUsize>,
    redactor: Redactor,
}

/// Counts a turn as running while it lives.
struct Running(Arc<AtomicUsize>);

impl Running {
    fn start(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(count))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl std::fmt::Debug for ControlPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPlane")
            .field("policy", &self.policy)
            .field("deadline", &self.deadline)
            .field("max_turns", &self.max_turns)
            .finish_non_exhaustive()
    }
}

impl ControlPlane {
    /// A control plane deciding trust with `policy` and running turns with `runner`, each within
    /// `deadline`, at most [`default_max_turns`] at once. Failures are scrubbed of the provider
    /// keys in the environment; [`ControlPlane::with_redactor`] adds the configuration's secrets.
    pub fn new(policy: TrustPolicy, runner: Arc<dyn TurnRunner>, deadline: Duration) -> Self {
        let max_turns = default_max_turns();
        Self {
            policy,
            runner,
            artifacts: None,
            deadline,
            sessions: Mutex::new(HashMap::new()),
            turns: Arc::new(Semaphore::new(max_turns)),
            max_turns,
            running: Arc::new(AtomicUsize::new(0)),
            redactor: Redactor::from_config(&localgpt_core::Config::default()),
        }
    }

    /// Runs at most `max_turns` turns at once (at least one); later inputs wait their turn.
    pub fn with_max_turns(mut self, max_turns: usize) -> Self {
        self.max_turns = max_turns.max(1);
        self.turns = Arc::new(Semaphore::new(self.max_turns));
        self
    }

    /// Scrubs the secrets `redactor` knows from the text of failed turns.
    pub fn with_redactor(mut self, redactor: Redactor) -> Self {
        self.redactor = redactor;
        self
    }

    /// Turns running now (a turn stopped at its deadline counts until its task has ended).
    pub fn running_turns(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Keeps what untrusted inputs produce in `store`.
    pub fn with_artifacts(mut self, store: ArtifactStore) -> Self {
        self.artifacts = Some(store);
        self
    }

    /// Serves the queue until every [`super::IngressBus`] handle is dropped.
    pub async fn serve(self: Arc<Self>, mut queue: IngressQueue) {
        let mut running = tokio::task::JoinSet::new();
        loop {
            // A free slot first, then the next input: what waits stays in the bounded bus, in
            // order, and the bus says "busy" when it is full.
            let Ok(slot) = Arc::clone(&self.turns).acquire_owned().await else {
                break;
            };
            let Some(envelope) = queue.receiver.recv().await else {
                break;
            };
            let plane = Arc::clone(&self);
            running.spawn(async move { plane.handle(envelope, slot).await });
            // Reap finished turns so the set does not grow.
            while running.try_join_next().is_some() {}
        }
        while running.join_next().await.is_some() {}
    }

    async fn handle(&self, envelope: Envelope, slot: tokio::sync::OwnedSemaphorePermit) {
        let Envelope {
            submission,
            events,
            outcome,
            cancel,
        } = envelope;
        let deadline = submission
            .deadline
            .map_or(self.deadline, |asked| asked.min(self.deadline));
        let trust = self.policy.decide(submission.source, &submission.sender);
        let persona = Persona::for_trust(trust, &submission.job_tools);
        let mut payload = submission.payload;
        if !persona.may_resume_sessions() {
            // A stranger cannot continue (and so read) the owner's conversations, nor pick the
            // model the owner pays for.
            payload.session_id = None;
            payload.model = None;
        }
        let message = IngressMessage {
            id: uuid::Uuid::new_v4().to_string(),
            source: submission.source,
            sender: submission.sender,
            trust,
            payload,
            reply_to: submission.reply_to,
            received_at: jiff::Timestamp::now().to_string(),
        };
        tracing::info!(id = %message.id, source = ?message.source, ?trust, "input accepted");
        // One turn at a time per session; new sessions need no lock.
        let session = match message.payload.session_id.as_ref() {
            Some(id) => Some(self.session_lock(id).lock_owned().await),
            None => None,
        };
        if cancel.is_cancelled() {
            // Its caller went away while it waited: no model call for nobody.
            let _ = outcome.send(Outcome::Failed("cancelled before it started".into()));
            return;
        }
        let message = Arc::new(message);
        let mut task = {
            let (runner, message, cancel) = (
                Arc::clone(&self.runner),
                Arc::clone(&message),
                cancel.clone(),
            );
            let running = Running::start(&self.running);
            tokio::spawn(async move {
                let result = runner.run(&message, &persona, cancel, events).await;
                // The slot and the session are held until the turn really ends.
                drop((slot, session, running));
                result
            })
        };
        let result = match tokio::time::timeout(deadline, &mut task).await {
            Ok(Ok(result)) => self.finish(&message, result),
            Ok(Err(error)) => {
                tracing::error!(id = %message.id, "turn task failed: {error}");
                Outcome::Failed("the turn stopped unexpectedly".into())
            }
            Err(_) => {
                cancel.cancel();
                task.abort();
                tracing::warn!(id = %message.id, "turn stopped at its deadline");
                Outcome::TimedOut
            }
        };
        let _ = outcome.send(result);
    }

    fn finish(&self, message: &IngressMessage, result: TurnResult) -> Outcome {
        let (report, session_id) = match result {
            Ok(done) => done,
            Err(error) => {
                return Outcome::Failed(
                    error.map_message(|text| self.redactor.scrub(text).into_owned()),
                );
            }
        };
        let artifact = match (&self.artifacts, message.trust) {
            (Some(store), TrustLevel::UntrustedEvent) => {
                let title: String = message.payload.text.chars().take(80).collect();
                match store.put(
                    report.answer.as_bytes(),
                    message.source,
                    message.trust,
                    session_id.as_deref(),
                    &title,
                ) {
                    Ok(record) => Some(record.id),
                    Err(error) => {
                        let error = format!("storing the artifact: {error}");
                        return Outcome::Failed(self.redactor.scrub(&error).into_owned().into());
                    }
                }
            }
            _ => None,
        };
        Outcome::Done {
            report,
            session_id,
            artifact,
        }
    }

    fn session_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut sessions = self
            .sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Forget sessions nobody is using any more.
        sessions.retain(|_, lock| Arc::strong_count(lock) > 1);
        Arc::clone(sessions.entry(id.to_owned()).or_default())
    }
}
