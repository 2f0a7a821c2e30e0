//! The control plane: consumes the ingress bus, gives every input its trust level from the
//! identity its adapter authenticated (never from its text), picks the persona and tool scope
//! that follow, and runs the turn through a [`TurnRunner`] — one turn at a time per session,
//! different sessions side by side, each under a deadline. What untrusted inputs produce is kept
//! as an artifact for the owner to review.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use localgpt_core::chat::CancelToken;
use localgpt_core::ingress::{IngressMessage, TrustLevel};
use tokio::sync::mpsc;

use super::bus::{Envelope, IngressQueue, Outcome};
use super::{ArtifactStore, Persona, TrustPolicy};
use crate::runtime::{AgentEvent, TurnReport};

/// What a turn returns to the control plane: its report and the session it ran in.
pub type TurnResult = Result<(TurnReport, Option<String>), String>;

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

/// The control plane.
pub struct ControlPlane {
    policy: TrustPolicy,
    runner: Arc<dyn TurnRunner>,
    artifacts: Option<ArtifactStore>,
    deadline: Duration,
    sessions: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for ControlPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPlane")
            .field("policy", &self.policy)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl ControlPlane {
    /// A control plane deciding trust with `policy` and running turns with `runner`, each within
    /// `deadline`.
    pub fn new(policy: TrustPolicy, runner: Arc<dyn TurnRunner>, deadline: Duration) -> Self {
        Self {
            policy,
            runner,
            artifacts: None,
            deadline,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// Keeps what untrusted inputs produce in `store`.
    pub fn with_artifacts(mut self, store: ArtifactStore) -> Self {
        self.artifacts = Some(store);
        self
    }

    /// Serves the queue until every [`super::IngressBus`] handle is dropped.
    pub async fn serve(self: Arc<Self>, mut queue: IngressQueue) {
        let mut running = tokio::task::JoinSet::new();
        while let Some(envelope) = queue.receiver.recv().await {
            let plane = Arc::clone(&self);
            running.spawn(async move { plane.handle(envelope).await });
            // Reap finished turns so the set does not grow.
            while running.try_join_next().is_some() {}
        }
        while running.join_next().await.is_some() {}
    }

    async fn handle(&self, envelope: Envelope) {
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
        let lock = message
            .payload
            .session_id
            .as_ref()
            .map(|id| self.session_lock(id));
        let _turn = match &lock {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        let turn = self.runner.run(&message, &persona, cancel.clone(), events);
        let result = match tokio::time::timeout(deadline, turn).await {
            Ok(result) => self.finish(&message, result),
            Err(_) => {
                cancel.cancel();
                tracing::warn!(id = %message.id, "turn stopped at its deadline");
                Outcome::TimedOut
            }
        };
        let _ = outcome.send(result);
    }

    fn finish(&self, message: &IngressMessage, result: TurnResult) -> Outcome {
        let (report, session_id) = match result {
            Ok(done) => done,
            Err(error) => return Outcome::Failed(error),
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
                    Err(error) => return Outcome::Failed(format!("storing the artifact: {error}")),
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
