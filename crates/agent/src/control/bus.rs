//! The ingress bus: the one way in for every input (CLI, API, Telegram, scheduler, heartbeat).
//! Adapters submit who sent what; the queue is bounded, so when it is full the submitter is told
//! "busy" at once, and nothing is dropped silently or queued without bound. Each submission gets
//! a [`Ticket`] that streams the turn's events and then its outcome.

use localgpt_core::chat::CancelToken;
use localgpt_core::ingress::{Payload, Sender, Source};
use tokio::sync::{mpsc, oneshot};

use crate::runtime::{AgentEvent, TurnReport};

/// What an adapter submits: the identity it authenticated and the request. No trust level: the
/// control plane decides that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// The adapter it came through.
    pub source: Source,
    /// Who sent it.
    pub sender: Sender,
    /// What is asked.
    pub payload: Payload,
    /// Tools a scheduled job declared (only used for trusted events).
    pub job_tools: Vec<String>,
    /// Where the answer goes (adapter-specific).
    pub reply_to: Option<String>,
    /// A shorter deadline than the control plane's default (a job's timeout).
    pub deadline: Option<std::time::Duration>,
}

/// How a submitted turn ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The turn ran; its report and the session it ran in.
    Done {
        /// The turn's report.
        report: TurnReport,
        /// The session id.
        session_id: Option<String>,
        /// For untrusted inputs: the artifact holding the output (the owner reviews it).
        artifact: Option<String>,
    },
    /// The turn failed.
    Failed(super::TurnFailure),
    /// The turn ran past its deadline and was stopped.
    TimedOut,
}

/// Why a submission was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    /// The queue is full; try again later.
    #[error("busy: {0} inputs are already waiting; try again shortly")]
    Busy(usize),
    /// The control plane has stopped.
    #[error("the assistant is shutting down")]
    Closed,
}

/// A submission travelling to the control plane.
#[derive(Debug)]
pub(crate) struct Envelope {
    pub submission: Submission,
    pub events: mpsc::UnboundedSender<AgentEvent>,
    pub outcome: oneshot::Sender<Outcome>,
    pub cancel: CancelToken,
}

/// The submitting end of the bus; cheap to clone, one per adapter.
#[derive(Debug, Clone)]
pub struct IngressBus {
    queue: mpsc::Sender<Envelope>,
    capacity: usize,
}

/// The consuming end, owned by the control plane.
#[derive(Debug)]
pub struct IngressQueue {
    pub(crate) receiver: mpsc::Receiver<Envelope>,
}

/// A submitted input: its events as they happen, then its outcome. Dropping the ticket before the
/// outcome arrives (a client that disconnects, a stream closed by a stop button) stops the turn.
#[derive(Debug)]
pub struct Ticket {
    /// Streamed events of the turn (text, tool activity).
    pub events: mpsc::UnboundedReceiver<AgentEvent>,
    /// `None` once the outcome arrived.
    outcome: Option<oneshot::Receiver<Outcome>>,
    cancel: CancelToken,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.outcome.is_some() {
            self.cancel.cancel();
        }
    }
}

impl Ticket {
    /// A handle that stops the turn (Ctrl-C in the terminal, a stop button in a UI).
    pub fn canceller(&self) -> CancelToken {
        self.cancel.clone()
    }

    /// Waits for the outcome (the events may be read before or not at all). Events from here on
    /// are not listened to, so the turn knows nobody can answer an approval request.
    pub async fn outcome(mut self) -> Outcome {
        self.events.close();
        let stopped = || Outcome::Failed("the control plane stopped before answering".into());
        let Some(receiver) = self.outcome.as_mut() else {
            return stopped();
        };
        // Awaited in place: if this future is dropped, so is the ticket, and the turn stops.
        let outcome = receiver.await.unwrap_or_else(|_| stopped());
        self.outcome = None;
        outcome
    }

    /// Reads events until the turn ends, passing each to `on_event`, then returns the outcome.
    pub async fn follow(mut self, mut on_event: impl FnMut(AgentEvent)) -> Outcome {
        while let Some(event) = self.events.recv().await {
            on_event(event);
        }
        self.outcome().await
    }
}

/// A bus that holds at most `capacity` waiting inputs.
pub fn bounded(capacity: usize) -> (IngressBus, IngressQueue) {
    let capacity = capacity.max(1);
    let (queue, receiver) = mpsc::channel(capacity);
    (IngressBus { queue, capacity }, IngressQueue { receiver })
}

impl IngressBus {
    /// Submits an input; fails at once with [`BusError::Busy`] when the queue is full.
    pub fn submit(&self, submission: Submission) -> Result<Ticket, BusError> {
        let (events, event_receiver) = mpsc::unbounded_channel();
        let (outcome, outcome_receiver) = oneshot::channel();
        let cancel = CancelToken::new();
        let envelope = Envelope {
            submission,
            events,
            outcome,
            cancel: cancel.clone(),
        };
        match self.queue.try_send(envelope) {
            Ok(()) => Ok(Ticket {
                events: event_receiver,
                outcome: Some(outcome_receiver),
                cancel,
            }),
            Err(mpsc::error::TrySendError::Full(_)) => Err(BusError::Busy(self.capacity)),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(BusError::Closed),
        }
    }

    /// Inputs waiting now.
    pub fn depth(&self) -> usize {
        self.capacity - self.queue.capacity()
    }
}
