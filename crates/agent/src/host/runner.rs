//! The host's [`TurnRunner`], for the daemon, `ask` and `chat`: each input becomes a turn of an
//! agent built for its persona — tools limited to the persona's scope, the session named in the
//! request resumed (or a new one), approvals through the terminal or the daemon's approval desk,
//! the default model made once and shared. A turn the bus did not trust is recorded and shown to
//! the model as someone else's text. Failures leave typed ([`TurnFailure`] kinds), so that each
//! front end maps them once.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use localgpt_core::chat::{CancelToken, ChatModel};
use localgpt_core::ingress::{IngressMessage, Request, Sender, TrustLevel};
use tokio::sync::mpsc;

use super::{DefaultModel, Host, HostError, SessionChoice};
use crate::budget::{BudgetStatus, owner_warning, time_zone};
use crate::control::{ApprovalDesk, FailureKind, Persona, TurnFailure, TurnResult, TurnRunner};
use crate::runtime::{Agent, AgentError, AgentEvent, Approver, TurnReport, TurnTrust};
use crate::sessions::SessionError;

/// Who decides about tool calls that need the owner's consent.
#[derive(Clone)]
pub enum Approvals {
    /// One approver for every turn (the terminal; or nobody, denying).
    Fixed(Arc<dyn Approver>),
    /// Each turn announces its requests on its event stream and waits at the desk.
    Desk(Arc<ApprovalDesk>),
}

impl Approvals {
    fn for_turn(
        &self,
        message: &IngressMessage,
        events: &mpsc::UnboundedSender<AgentEvent>,
    ) -> Arc<dyn Approver> {
        match self {
            Self::Fixed(approver) => Arc::clone(approver),
            Self::Desk(desk) => {
                Arc::new(desk.approver_for(message.payload.session_id.clone(), events.clone()))
            }
        }
    }
}

/// Runs turns for the control plane.
pub struct HostRunner {
    host: Host,
    default_model: DefaultModel,
    approvals: Approvals,
}

impl HostRunner {
    /// A runner answering with `default_model` unless a request names another.
    pub fn new(host: Host, default_model: DefaultModel, approvals: Approvals) -> Self {
        Self {
            host,
            default_model,
            approvals,
        }
    }

    /// The warning an owner's turn gets when a `[budget]` cap has been reached (background work
    /// is then paused), read from the transcripts on a blocking thread.
    async fn budget_warning(&self) -> Option<String> {
        let sessions_dir = self.host.paths().sessions_dir();
        let config = self.host.config().budget.clone();
        let zone = self.host.config().heartbeat.timezone.clone();
        let status = tokio::task::spawn_blocking(move || {
            let tz = time_zone(zone.as_deref());
            BudgetStatus::read(&sessions_dir, &config, jiff::Timestamp::now(), &tz)
        })
        .await
        .ok()?;
        owner_warning(&status)
    }

    fn model_for(&self, requested: Option<&str>) -> Result<Arc<dyn ChatModel>, TurnFailure> {
        let default_name = match &self.default_model {
            Ok(model) => model.name(),
            Err(unavailable) => unavailable.name.as_str(),
        };
        match (requested, &self.default_model) {
            (Some(name), _) if name != default_name => self
                .host
                .model(Some(name))
                .map_err(|unavailable| TurnFailure::model_unavailable(unavailable.problem)),
            (_, Ok(model)) => Ok(Arc::clone(model)),
            (_, Err(unavailable)) => {
                Err(TurnFailure::model_unavailable(unavailable.problem.clone()))
            }
        }
    }
}

impl TurnRunner for HostRunner {
    fn run<'a>(
        &'a self,
        message: &'a IngressMessage,
        persona: &'a Persona,
        cancel: CancelToken,
        events: mpsc::UnboundedSender<AgentEvent>,
    ) -> Pin<Box<dyn Future<Output = TurnResult> + Send + 'a>> {
        Box::pin(async move {
            let model = self.model_for(message.payload.model.as_deref())?;
            if message.payload.request == Request::Compact && message.payload.session_id.is_none() {
                // Compacting needs a conversation; never start one to compact it.
                return Err(TurnFailure::new(
                    FailureKind::BadSession,
                    "nothing to compact: name the session to compact",
                ));
            }
            let session = match (&message.payload.session_id, origin_label(message)) {
                (Some(id), _) => SessionChoice::Resume(id.clone()),
                (None, Some(origin)) => SessionChoice::NewFrom(origin),
                (None, None) => SessionChoice::New,
            };
            let approver = self.approvals.for_turn(message, &events);
            let mut agent = self
                .host
                .agent(model, &session, approver, persona)
                .map_err(setup_failure)?;
            if let Some(id) = agent.session_id() {
                let _ = events.send(AgentEvent::Session(id.to_owned()));
            }
            if message.payload.request == Request::Compact {
                return compact(&mut agent, &cancel, &events).await;
            }
            if message.trust == TrustLevel::OwnerCommand
                && let Some(warning) = self.budget_warning().await
            {
                // The owner is never stopped by a cap, only told.
                tracing::warn!("{warning}");
                let _ = events.send(AgentEvent::Notice(warning));
            }
            let who = turn_trust(message);
            let report = agent
                .turn_as(&message.payload.text, &who, &cancel, &mut |event| {
                    // A listener may be gone (a JSON request); the events are then not needed.
                    let _ = events.send(event);
                })
                .await
                .map_err(turn_failure)?;
            Ok((report, agent.session_id().map(str::to_owned)))
        })
    }
}

/// `/compact`: summarises the session's older turns now; the answer says whether anything was.
async fn compact(
    agent: &mut Agent,
    cancel: &CancelToken,
    events: &mpsc::UnboundedSender<AgentEvent>,
) -> TurnResult {
    let compacted = agent
        .compact(cancel, &mut |event| {
            let _ = events.send(event);
        })
        .await
        .map_err(turn_failure)?;
    let answer = if compacted {
        "Compacted: older turns are now a summary."
    } else {
        "Nothing to compact yet."
    };
    let report = TurnReport {
        answer: answer.to_owned(),
        ..TurnReport::default()
    };
    Ok((report, agent.session_id().map(str::to_owned)))
}

/// A failure to set up the turn's agent, by whose it is.
fn setup_failure(error: HostError) -> TurnFailure {
    let kind = match &error {
        HostError::Session(session) => session_kind(session),
        HostError::Workspace { .. } => FailureKind::Setup,
    };
    TurnFailure::new(kind, error.to_string())
}

/// A failure of the turn itself: the model's own, or writing the transcript.
fn turn_failure(error: AgentError) -> TurnFailure {
    let kind = match &error {
        AgentError::Model(_) => FailureKind::Model,
        AgentError::Session(session) => session_kind(session),
    };
    TurnFailure::new(kind, error.to_string())
}

fn session_kind(error: &SessionError) -> FailureKind {
    match error {
        SessionError::NotFound(_) => FailureKind::UnknownSession,
        SessionError::Ambiguous { .. } | SessionError::BadId(_) => FailureKind::BadSession,
        SessionError::Io { .. } | SessionError::NotATranscript(_) => FailureKind::Storage,
    }
}

/// Who wrote `message`, as its transcript records it: anything the bus did not trust (a stranger,
/// a forwarded message) is someone else's text and reaches the model fenced as data.
fn turn_trust(message: &IngressMessage) -> TurnTrust {
    match message.trust {
        TrustLevel::UntrustedEvent => TurnTrust::Untrusted {
            source: origin_label(message).unwrap_or_else(|| "untrusted".to_owned()),
        },
        TrustLevel::OwnerCommand | TrustLevel::TrustedEvent => TurnTrust::Owner,
    }
}

/// How a session started by `message` is labelled in lists: by what sent it, unless it is the
/// owner at the keyboard or on the API.
fn origin_label(message: &IngressMessage) -> Option<String> {
    let source = serde_json::to_value(message.source)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default();
    match (&message.trust, &message.sender) {
        (TrustLevel::UntrustedEvent, _) => Some(format!("untrusted {source}")),
        (_, Sender::Heartbeat) => Some("heartbeat".to_owned()),
        (_, Sender::Job { name }) => Some(format!("job {name}")),
        (_, Sender::TelegramUser { .. }) => Some("telegram".to_owned()),
        _ => None,
    }
}
