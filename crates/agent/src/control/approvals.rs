//! Approvals asked over the network: when a daemon turn wants a tool that needs the owner's
//! consent, the [`ApprovalDesk`] gives the request an unguessable id, announces it on the turn's
//! event stream (the web UI shows Approve/Deny buttons), and waits until the owner answers through
//! the API, the client stops listening, or the wait runs out — then the call runs or is refused.
//! Nobody listening means nobody can approve, so the answer is "no" at once.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::runtime::{AgentEvent, ApprovalRequest, Approver};

/// How long a request waits for the owner before it is denied.
pub const DEFAULT_APPROVAL_WAIT: Duration = Duration::from_mins(5);

/// A request waiting for the owner, as the API lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PendingApproval {
    /// The id to answer with.
    pub id: String,
    /// The session whose turn asks.
    pub session_id: Option<String>,
    /// The tool.
    pub tool: String,
    /// Its arguments.
    pub arguments: Value,
    /// When it was asked (RFC 3339).
    pub asked_at: String,
}

/// No request with that id is waiting (answered, expired, or never existed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no approval request `{0}` is waiting")]
pub struct UnknownApproval(pub String);

struct Waiting {
    info: PendingApproval,
    answer: oneshot::Sender<bool>,
}

/// Approval requests of all running turns; shared by the runner (which asks) and the API (which
/// answers).
pub struct ApprovalDesk {
    waiting: Mutex<HashMap<String, Waiting>>,
    wait: Duration,
}

impl Default for ApprovalDesk {
    fn default() -> Self {
        Self::new(DEFAULT_APPROVAL_WAIT)
    }
}

impl std::fmt::Debug for ApprovalDesk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApprovalDesk")
            .field("waiting", &self.pending().len())
            .finish_non_exhaustive()
    }
}

impl ApprovalDesk {
    /// A desk whose requests wait at most `wait` for an answer.
    pub fn new(wait: Duration) -> Self {
        Self {
            waiting: Mutex::new(HashMap::new()),
            wait,
        }
    }

    /// Requests waiting now, oldest first.
    pub fn pending(&self) -> Vec<PendingApproval> {
        let mut list: Vec<PendingApproval> = self
            .lock()
            .values()
            .map(|waiting| waiting.info.clone())
            .collect();
        list.sort_by(|a, b| a.asked_at.cmp(&b.asked_at));
        list
    }

    /// Answers a waiting request.
    pub fn answer(&self, id: &str, approved: bool) -> Result<PendingApproval, UnknownApproval> {
        let waiting = self
            .lock()
            .remove(id)
            .ok_or_else(|| UnknownApproval(id.to_owned()))?;
        tracing::info!(tool = %waiting.info.tool, approved, "approval answered");
        // The turn may have ended meanwhile; then the answer has nobody to reach.
        let _ = waiting.answer.send(approved);
        Ok(waiting.info)
    }

    /// An approver for one turn: it announces requests on `events` and waits here for answers.
    pub fn approver_for(
        self: &Arc<Self>,
        session_id: Option<String>,
        events: mpsc::UnboundedSender<AgentEvent>,
    ) -> TurnApprover {
        TurnApprover {
            desk: Arc::clone(self),
            session_id,
            events,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Waiting>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn ask(
        &self,
        request: &ApprovalRequest,
        session_id: Option<String>,
        events: &mpsc::UnboundedSender<AgentEvent>,
    ) -> bool {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let (answer, decision) = oneshot::channel();
        let info = PendingApproval {
            id: id.clone(),
            session_id,
            tool: request.tool.clone(),
            arguments: request.arguments.clone(),
            asked_at: jiff::Timestamp::now().to_string(),
        };
        self.lock().insert(id.clone(), Waiting { info, answer });
        // Whatever ends the wait (answer, timeout, a turn stopped mid-wait), the request goes.
        let _forget = Forget {
            desk: self,
            id: &id,
        };
        let announced = events.send(AgentEvent::ApprovalRequested {
            id: id.clone(),
            tool: request.tool.clone(),
            arguments: request.arguments.clone(),
        });
        if announced.is_err() {
            tracing::info!(tool = %request.tool, "denied: nobody is listening to approve it");
            return false;
        }
        tokio::select! {
            answer = decision => answer.unwrap_or(false),
            () = events.closed() => {
                tracing::info!(tool = %request.tool, "denied: the client stopped listening");
                false
            }
            () = tokio::time::sleep(self.wait) => {
                tracing::info!(tool = %request.tool, "denied: nobody answered in time");
                false
            }
        }
    }
}

/// Removes a request from the desk when its wait ends, however it ends.
struct Forget<'a> {
    desk: &'a ApprovalDesk,
    id: &'a str,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.desk.lock().remove(self.id);
    }
}

/// The [`Approver`] of one daemon turn.
pub struct TurnApprover {
    desk: Arc<ApprovalDesk>,
    session_id: Option<String>,
    events: mpsc::UnboundedSender<AgentEvent>,
}

impl Approver for TurnApprover {
    fn approve<'a>(
        &'a self,
        request: &'a ApprovalRequest,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>> {
        Box::pin(
            self.desk
                .ask(request, self.session_id.clone(), &self.events),
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request() -> ApprovalRequest {
        ApprovalRequest {
            tool: "bash".to_owned(),
            arguments: json!({"command": "ls"}),
        }
    }

    async fn asked_id(events: &mut mpsc::UnboundedReceiver<AgentEvent>) -> String {
        match events.recv().await {
            Some(AgentEvent::ApprovalRequested { id, tool, .. }) => {
                assert_eq!(tool, "bash");
                id
            }
            other => panic!("expected an approval request, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_answer_reaches_the_waiting_turn() {
        for approved in [true, false] {
            let desk = Arc::new(ApprovalDesk::new(Duration::from_secs(30)));
            let (sender, mut events) = mpsc::unbounded_channel();
            let approver = desk.approver_for(Some("s1".to_owned()), sender);
            let request = request();
            let waiting = tokio::spawn(async move { approver.approve(&request).await });
            let id = asked_id(&mut events).await;
            assert_eq!(desk.pending().len(), 1);
            assert_eq!(desk.pending()[0].session_id.as_deref(), Some("s1"));
            desk.answer(&id, approved).unwrap();
            assert_eq!(waiting.await.unwrap(), approved);
            assert!(desk.pending().is_empty());
            assert_eq!(desk.answer(&id, true), Err(UnknownApproval(id)));
        }
    }

    #[tokio::test]
    async fn nobody_listening_means_no() {
        let desk = Arc::new(ApprovalDesk::new(Duration::from_secs(30)));
        let (sender, events) = mpsc::unbounded_channel();
        drop(events);
        let approver = desk.approver_for(None, sender);
        assert!(!approver.approve(&request()).await);
        assert!(desk.pending().is_empty());
    }

    #[tokio::test]
    async fn a_client_leaving_mid_wait_denies() {
        let desk = Arc::new(ApprovalDesk::new(Duration::from_secs(30)));
        let (sender, mut events) = mpsc::unbounded_channel();
        let approver = desk.approver_for(None, sender);
        let request = request();
        let waiting = tokio::spawn(async move { approver.approve(&request).await });
        asked_id(&mut events).await;
        drop(events);
        assert!(!waiting.await.unwrap());
        assert!(desk.pending().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn an_unanswered_request_expires() {
        let desk = Arc::new(ApprovalDesk::new(Duration::from_secs(60)));
        let (sender, mut events) = mpsc::unbounded_channel();
        let approver = desk.approver_for(None, sender);
        let request = request();
        let waiting = tokio::spawn(async move { approver.approve(&request).await });
        asked_id(&mut events).await;
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(!waiting.await.unwrap());
        assert!(desk.pending().is_empty());
    }
}
