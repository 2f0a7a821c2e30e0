//! The binary's [`TurnRunner`], for the daemon and for `ask`: each input becomes a turn of an
//! agent built for its persona — tools limited to the persona's scope, the session named in the
//! request resumed (or a new one), approvals through the terminal (`ask`, `chat`) or the daemon's
//! approval desk (answered over the API), the default model loaded once and shared. A turn the bus
//! did not trust is recorded and shown to the model as someone else's text.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use localgpt_agent::control::{ApprovalDesk, Persona, TurnFailure, TurnResult, TurnRunner};
use localgpt_agent::runtime::{AgentEvent, Approver, TurnTrust};
use localgpt_memory::MemoryHandle;
use localgpt_core::chat::{CancelToken, ChatModel};
use localgpt_core::ingress::{IngressMessage, Sender, TrustLevel};
use tokio::sync::mpsc;

use crate::app::App;
use crate::assistant::{SessionChoice, build_scoped_agent, create_model};

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

/// The default model, or why it could not be set up (with the fix). Everything but a chat
/// works without it.
pub type DefaultModel = Result<Arc<dyn ChatModel>, UnavailableModel>;

/// A model that could not be set up: its name and what to do about it.
#[derive(Debug, Clone)]
pub struct UnavailableModel {
    /// The model's name, as configured or asked for.
    pub name: String,
    /// Why, with the command or variable that fixes it.
    pub problem: String,
}

/// Runs turns for the control plane.
pub struct DaemonRunner {
    app: App,
    default_model: DefaultModel,
    memory: MemoryHandle,
    approvals: Approvals,
}

impl DaemonRunner {
    /// A runner answering with `default_model` unless a request names another.
    pub fn new(
        app: App,
        default_model: DefaultModel,
        memory: MemoryHandle,
        approvals: Approvals,
    ) -> Self {
        Self {
            app,
            default_model,
            memory,
            approvals,
        }
    }

    fn model_for(&self, requested: Option<&str>) -> Result<Arc<dyn ChatModel>, TurnFailure> {
        let default_name = match &self.default_model {
            Ok(model) => model.name(),
            Err(unavailable) => unavailable.name.as_str(),
        };
        match (requested, &self.default_model) {
            (Some(name), _) if name != default_name => create_model(&self.app, Some(name))
                .map_err(|error| TurnFailure::model_unavailable(format!("{error:#}"))),
            (_, Ok(model)) => Ok(Arc::clone(model)),
            (_, Err(unavailable)) => {
                Err(TurnFailure::model_unavailable(unavailable.problem.clone()))
            }
        }
    }
}

impl TurnRunner for DaemonRunner {
    fn run<'a>(
        &'a self,
        message: &'a IngressMessage,
        persona: &'a Persona,
        cancel: CancelToken,
        events: mpsc::UnboundedSender<AgentEvent>,
    ) -> Pin<Box<dyn Future<Output = TurnResult> + Send + 'a>> {
        Box::pin(async move {
            let model = self.model_for(message.payload.model.as_deref())?;
            let session = match (&message.payload.session_id, origin_label(message)) {
                (Some(id), _) => SessionChoice::Resume(id.clone()),
                (None, Some(origin)) => SessionChoice::NewFrom(origin),
                (None, None) => SessionChoice::New,
            };
            let mut agent = build_scoped_agent(
                &self.app,
                model,
                &session,
                self.approvals.for_turn(message, &events),
                persona,
                Some(&self.memory),
            )
            .map_err(|error| TurnFailure::from(format!("{error:#}")))?;
            if let Some(id) = agent.session_id() {
                let _ = events.send(AgentEvent::Session(id.to_owned()));
            }
            let who = turn_trust(message);
            let report = agent
                .turn_as(&message.payload.text, &who, &cancel, &mut |event| {
                    // A listener may be gone (a JSON request); the events are then not needed.
                    let _ = events.send(event);
                })
                .await
                .map_err(|error| TurnFailure::from(error.to_string()))?;
            Ok((report, agent.session_id().map(str::to_owned)))
        })
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
