#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Adversarial: the control plane under a flood and against turns that misbehave. A burst of
//! inputs never runs more than the allowed number of turns at once (the rest wait in order, and
//! the bus says "busy" when full); a turn that never yields, ignores its cancel token or hangs
//! forever is still reported as timed out at its deadline and its future is dropped; a caller
//! who left before its turn started costs no model call; a failed turn's text carries no secret.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use localgpt_agent::control::{
    BusError, ControlPlane, Outcome, Persona, Submission, TrustPolicy, TurnResult, TurnRunner,
    bounded,
};
use localgpt_agent::runtime::{AgentEvent, TurnReport};
use localgpt_core::chat::CancelToken;
use localgpt_core::ingress::{IngressMessage, Payload, Sender, Source};
use localgpt_core::redact::Redactor;
use tokio::sync::{Semaphore, mpsc};

const SAFETY: Duration = Duration::from_secs(20);

fn policy() -> TrustPolicy {
    TrustPolicy {
        telegram_owner_ids: vec![7],
        allow_local_unauthenticated: true,
    }
}

fn submission(text: &str) -> Submission {
    Submission {
        source: Source::Api,
        sender: Sender::OwnerToken,
        payload: Payload {
            text: text.to_owned(),
            session_id: None,
            model: None,
            ..Default::default()
        },
        job_tools: Vec::new(),
        reply_to: None,
        deadline: None,
    }
}

type Run<'a> = Pin<Box<dyn Future<Output = TurnResult> + Send + 'a>>;

/// Turns that wait for a permit from the test, recording how many ran at once and in which order
/// they started.
struct Gated {
    gate: Arc<Semaphore>,
    now: AtomicUsize,
    most: AtomicUsize,
    started: Mutex<Vec<String>>,
}

impl Default for Gated {
    fn default() -> Self {
        Self {
            gate: Arc::new(Semaphore::new(0)),
            now: AtomicUsize::new(0),
            most: AtomicUsize::new(0),
            started: Mutex::new(Vec::new()),
        }
    }
}

impl TurnRunner for Gated {
    fn run<'a>(
        &'a self,
        message: &'a IngressMessage,
        _persona: &'a Persona,
        _cancel: CancelToken,
        _events: mpsc::UnboundedSender<AgentEvent>,
    ) -> Run<'a> {
        Box::pin(async move {
            let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            self.started
                .lock()
                .unwrap()
                .push(message.payload.text.clone());
            let permit = self.gate.acquire().await.unwrap();
            permit.forget();
            self.now.fetch_sub(1, Ordering::SeqCst);
            Ok((TurnReport::default(), None))
        })
    }
}

async fn wait_until(mut condition: impl FnMut() -> bool) {
    tokio::time::timeout(SAFETY, async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("condition never became true");
}

#[tokio::test]
async fn a_burst_of_inputs_runs_at_most_the_allowed_turns_in_order() {
    let runner = Arc::new(Gated::default());
    let (bus, queue) = bounded(64);
    let plane = Arc::new(ControlPlane::new(policy(), runner.clone(), SAFETY).with_max_turns(3));
    tokio::spawn(Arc::clone(&plane).serve(queue));
    let tickets: Vec<_> = (0..20)
        .map(|n| bus.submit(submission(&format!("input {n}"))).unwrap())
        .collect();
    wait_until(|| runner.now.load(Ordering::SeqCst) == 3).await;
    assert_eq!(plane.running_turns(), 3);
    // Release the turns one by one: never more than three run, and they start in order.
    let waiting = tokio::spawn(async move {
        let mut outcomes = Vec::new();
        for ticket in tickets {
            outcomes.push(ticket.outcome().await);
        }
        outcomes
    });
    for _ in 0..20 {
        runner.gate.add_permits(1);
        tokio::task::yield_now().await;
    }
    let outcomes = tokio::time::timeout(SAFETY, waiting)
        .await
        .unwrap()
        .unwrap();
    assert!(outcomes.iter().all(|o| matches!(o, Outcome::Done { .. })));
    assert_eq!(runner.most.load(Ordering::SeqCst), 3);
    let started = runner.started.lock().unwrap().clone();
    let expected: Vec<String> = (0..20).map(|n| format!("input {n}")).collect();
    assert_eq!(started, expected);
}

#[tokio::test]
async fn inputs_beyond_the_running_turns_wait_in_the_bus_which_then_answers_busy() {
    let runner = Arc::new(Gated::default());
    let (bus, queue) = bounded(2);
    let plane = Arc::new(ControlPlane::new(policy(), runner.clone(), SAFETY).with_max_turns(1));
    tokio::spawn(Arc::clone(&plane).serve(queue));
    let first = bus.submit(submission("first")).unwrap();
    wait_until(|| runner.now.load(Ordering::SeqCst) == 1).await;
    // The running turn holds the only slot: the next two wait in the bus, the one after is told.
    let second = bus.submit(submission("second")).unwrap();
    let third = bus.submit(submission("third")).unwrap();
    assert_eq!(bus.depth(), 2);
    for _ in 0..5 {
        assert_eq!(
            bus.submit(submission("flood")).unwrap_err(),
            BusError::Busy(2)
        );
    }
    runner.gate.add_permits(3);
    for ticket in [first, second, third] {
        let outcome = tokio::time::timeout(SAFETY, ticket.outcome())
            .await
            .unwrap();
        assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    }
    assert_eq!(runner.most.load(Ordering::SeqCst), 1);
    assert_eq!(runner.started.lock().unwrap().len(), 3);
}

/// A turn that blocks its worker thread (as a read of a FIFO would) until `release` is set.
struct Blocking {
    release: Arc<AtomicBool>,
    finished: Arc<AtomicBool>,
}

impl TurnRunner for Blocking {
    fn run<'a>(
        &'a self,
        _message: &'a IngressMessage,
        _persona: &'a Persona,
        _cancel: CancelToken,
        _events: mpsc::UnboundedSender<AgentEvent>,
    ) -> Run<'a> {
        Box::pin(async move {
            let until = std::time::Instant::now() + SAFETY;
            while !self.release.load(Ordering::SeqCst) && std::time::Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
            }
            self.finished.store(true, Ordering::SeqCst);
            Ok((TurnReport::default(), None))
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_turn_that_never_yields_is_reported_timed_out_and_keeps_its_slot_until_it_ends() {
    let release = Arc::new(AtomicBool::new(false));
    let finished = Arc::new(AtomicBool::new(false));
    let runner = Arc::new(Blocking {
        release: Arc::clone(&release),
        finished: Arc::clone(&finished),
    });
    let (bus, queue) = bounded(4);
    let plane =
        Arc::new(ControlPlane::new(policy(), runner, Duration::from_millis(100)).with_max_turns(2));
    tokio::spawn(Arc::clone(&plane).serve(queue));
    let ticket = bus.submit(submission("stuck")).unwrap();
    let outcome = tokio::time::timeout(SAFETY, ticket.outcome())
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::TimedOut);
    // Reported while the turn is still stuck, and the slot is not handed out twice.
    assert!(!finished.load(Ordering::SeqCst));
    assert_eq!(plane.running_turns(), 1);
    release.store(true, Ordering::SeqCst);
    wait_until(|| plane.running_turns() == 0).await;
}

/// A turn that ignores its cancel token and waits forever; notes when its future is dropped.
struct Deaf {
    dropped: Arc<AtomicBool>,
    cancel_seen: Arc<Mutex<Option<CancelToken>>>,
}

struct OnDrop(Arc<AtomicBool>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl TurnRunner for Deaf {
    fn run<'a>(
        &'a self,
        _message: &'a IngressMessage,
        _persona: &'a Persona,
        cancel: CancelToken,
        _events: mpsc::UnboundedSender<AgentEvent>,
    ) -> Run<'a> {
        *self.cancel_seen.lock().unwrap() = Some(cancel);
        let guard = OnDrop(Arc::clone(&self.dropped));
        Box::pin(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
            Ok((TurnReport::default(), None))
        })
    }
}

#[tokio::test]
async fn a_turn_deaf_to_cancellation_is_dropped_at_its_deadline() {
    let dropped = Arc::new(AtomicBool::new(false));
    let cancel_seen = Arc::new(Mutex::new(None));
    let runner = Arc::new(Deaf {
        dropped: Arc::clone(&dropped),
        cancel_seen: Arc::clone(&cancel_seen),
    });
    let (bus, queue) = bounded(4);
    let plane = Arc::new(ControlPlane::new(
        policy(),
        runner,
        Duration::from_millis(100),
    ));
    tokio::spawn(Arc::clone(&plane).serve(queue));
    for n in 0..3 {
        let ticket = bus.submit(submission(&format!("deaf {n}"))).unwrap();
        let outcome = tokio::time::timeout(SAFETY, ticket.outcome())
            .await
            .unwrap();
        assert_eq!(outcome, Outcome::TimedOut);
        let cancel = cancel_seen.lock().unwrap().take().unwrap();
        assert!(cancel.is_cancelled(), "the turn's token was not fired");
        wait_until(|| dropped.swap(false, Ordering::SeqCst)).await;
    }
    wait_until(|| plane.running_turns() == 0).await;
}

#[tokio::test]
async fn a_caller_gone_before_its_turn_started_costs_no_model_call() {
    let runner = Arc::new(Gated::default());
    let (bus, queue) = bounded(8);
    let plane = Arc::new(ControlPlane::new(policy(), runner.clone(), SAFETY).with_max_turns(1));
    tokio::spawn(Arc::clone(&plane).serve(queue));
    let first = bus.submit(submission("first")).unwrap();
    wait_until(|| runner.now.load(Ordering::SeqCst) == 1).await;
    // Five callers give up while waiting for the slot.
    for n in 0..5 {
        drop(bus.submit(submission(&format!("gone {n}"))).unwrap());
    }
    let last = bus.submit(submission("last")).unwrap();
    runner.gate.add_permits(10);
    assert!(matches!(first.outcome().await, Outcome::Done { .. }));
    let outcome = tokio::time::timeout(SAFETY, last.outcome()).await.unwrap();
    assert!(matches!(outcome, Outcome::Done { .. }));
    assert_eq!(*runner.started.lock().unwrap(), ["first", "last"]);
}

/// A turn that fails with a message quoting a secret in several spellings.
struct Leaky;

const SECRET: &str = "sk-PLANTED-turn/secret \"x\"";

impl TurnRunner for Leaky {
    fn run<'a>(
        &'a self,
        _message: &'a IngressMessage,
        _persona: &'a Persona,
        _cancel: CancelToken,
        _events: mpsc::UnboundedSender<AgentEvent>,
    ) -> Run<'a> {
        Box::pin(async move {
            let json = serde_json::to_string(SECRET).unwrap();
            Err(format!(
                "provider said: bad key {SECRET}; url key=sk-PLANTED-turn%2Fsecret%20%22x%22; \
                 form sk-PLANTED-turn%2Fsecret+%22x%22; json {json}"
            )
            .into())
        })
    }
}

#[tokio::test]
async fn a_failed_turns_text_carries_no_secret() {
    let (bus, queue) = bounded(4);
    let plane = Arc::new(
        ControlPlane::new(policy(), Arc::new(Leaky), SAFETY).with_redactor(Redactor::new([SECRET])),
    );
    tokio::spawn(plane.serve(queue));
    let outcome = bus.submit(submission("x")).unwrap().outcome().await;
    let Outcome::Failed(failure) = outcome else {
        panic!("expected a failure, got {outcome:?}");
    };
    let text = failure.message;
    assert!(!text.contains("PLANTED"), "{text}");
    assert!(text.contains("provider said"), "{text}");
    assert_eq!(text.matches("[redacted]").count(), 4, "{text}");
}
