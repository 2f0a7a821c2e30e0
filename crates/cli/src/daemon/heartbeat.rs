//! The heartbeat: on its interval, inside `active_hours`, when `HEARTBEAT.md` has open tasks, a
//! trusted-event turn (Job persona, heartbeat tools only) works them. A reply of `HEARTBEAT_OK`
//! is not delivered; anything else goes to the owner (the event log, and Telegram when configured),
//! the same text only once per day. With nothing due no model is called at all. State (last run, outcome,
//! tokens spent) lives in `state/heartbeat.json`, so a restart continues the schedule.
//!
//! Before the model is called, the spend caps of `[budget]` and the heartbeat's precheck (if
//! any) are consulted (see [`super::background`]); `heartbeat.model` picks the model.

use std::path::PathBuf;
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use localgpt_agent::control::{IngressBus, Outcome, Submission};
use localgpt_agent::heartbeat::{is_heartbeat_ok, next_run, open_tasks};
use localgpt_agent::precheck::Verdict;
use localgpt_core::ingress::{Payload, Sender, Source};
use serde::{Deserialize, Serialize};

use super::background;
use super::delivery::{Delivery, Urgency};
use crate::app::App;

/// Tools a heartbeat turn may use.
pub const HEARTBEAT_TOOLS: &[&str] = &[
    "memory_search",
    "memory_get",
    "memory_append",
    "read_file",
    "edit_file",
    "list_dir",
];

/// Identical alerts within this window are delivered once.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// What one cycle did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CycleOutcome {
    /// Nothing ran (and no model was called).
    Skipped {
        /// Why.
        reason: String,
    },
    /// The model worked the tasks and had nothing to report.
    Ok,
    /// The model reported something for the owner.
    Delivered {
        /// The report.
        reply: String,
    },
    /// Reported before within the window; not delivered again.
    Duplicate,
    /// The turn failed.
    Failed {
        /// Why.
        message: String,
    },
}

/// What survives restarts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatState {
    /// When the last cycle ran (skips included).
    pub last_run: Option<Timestamp>,
    /// What it did.
    pub last_outcome: Option<CycleOutcome>,
    /// Tokens the last cycle spent.
    pub last_tokens: u64,
    /// Tokens spent by every cycle so far.
    pub total_tokens: u64,
    /// The last delivered reply and when, for collapsing duplicates.
    pub last_delivered: Option<(String, Timestamp)>,
    /// What the precheck said the last time it ran.
    #[serde(default)]
    pub last_precheck: Option<Verdict>,
    /// Cycles the precheck spared a model call.
    #[serde(default)]
    pub precheck_skips: u64,
    /// What the triage model decided the last time it was asked.
    #[serde(default)]
    pub last_triage: Option<localgpt_agent::triage::Decision>,
}

fn state_path(app: &App) -> PathBuf {
    app.paths.state_dir().join("heartbeat.json")
}

/// Reads the saved state (empty when there is none or it is unreadable).
pub fn load_state(app: &App) -> HeartbeatState {
    std::fs::read_to_string(state_path(app))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

fn save_state(app: &App, state: &HeartbeatState) {
    let result = serde_json::to_vec_pretty(state)
        .map_err(std::io::Error::other)
        .and_then(|bytes| localgpt_core::fs::write_atomic(&state_path(app), &bytes));
    if let Err(error) = result {
        tracing::warn!("could not save the heartbeat state: {error}");
    }
}

/// The configured time zone (the system's when unset or unknown).
pub fn time_zone(app: &App) -> TimeZone {
    crate::commands::usage::time_zone(app)
}

/// When the next cycle is due after `state`.
pub fn next_due(app: &App, state: &HeartbeatState) -> Timestamp {
    let heartbeat = &app.config.heartbeat;
    next_run(
        state.last_run,
        Timestamp::now(),
        heartbeat.interval.0,
        heartbeat.active_hours.as_ref(),
        &time_zone(app),
    )
}

/// Runs one cycle now through the bus, records it and returns what happened. The model is
/// called only when HEARTBEAT.md has open tasks, no spend cap is reached and the precheck (if
/// any) finds work.
pub async fn run_cycle(app: &App, bus: &IngressBus, delivery: &Delivery) -> CycleOutcome {
    let mut state = load_state(app);
    let previous_skip = match &state.last_outcome {
        Some(CycleOutcome::Skipped { reason }) => Some(reason.clone()),
        _ => None,
    };
    let heartbeat = &app.config.heartbeat;
    let workspace = app.paths.workspace(&app.config);
    let text = std::fs::read_to_string(workspace.join("HEARTBEAT.md")).unwrap_or_default();
    let tasks = open_tasks(&text);
    let skip = |reason: String| (CycleOutcome::Skipped { reason }, 0);
    let (outcome, tokens) = if tasks.is_empty() {
        skip("HEARTBEAT.md has no open tasks".to_owned())
    } else if let Some(reason) = background::budget_gate(app, delivery).await {
        skip(reason)
    } else {
        let verdict = background::precheck(
            app,
            heartbeat.precheck.as_deref(),
            heartbeat.precheck_script.as_deref(),
            heartbeat.precheck_timeout,
        )
        .await;
        state.last_precheck = verdict.clone();
        match &verdict {
            Some(verdict) if !verdict.work => {
                state.precheck_skips += 1;
                skip(format!("precheck: no work ({})", verdict.detail))
            }
            _ => work_tasks(app, bus, &tasks, verdict.as_ref(), &mut state).await,
        }
    };
    if let CycleOutcome::Skipped { reason } = &outcome
        && !tasks.is_empty()
    {
        background::note_skip(
            delivery,
            "heartbeat_skipped",
            "heartbeat",
            reason,
            previous_skip.as_deref(),
        )
        .await;
    }
    state.last_run = Some(Timestamp::now());
    state.last_outcome = Some(outcome.clone());
    state.last_tokens = tokens;
    state.total_tokens += tokens;
    save_state(app, &state);
    if let CycleOutcome::Delivered { reply } = &outcome {
        delivery
            .deliver(Urgency::Report, "heartbeat", "heartbeat", reply)
            .await;
    }
    outcome
}

async fn work_tasks(
    app: &App,
    bus: &IngressBus,
    tasks: &[localgpt_agent::heartbeat::OpenTask],
    verdict: Option<&Verdict>,
    state: &mut HeartbeatState,
) -> (CycleOutcome, u64) {
    let list: String = tasks
        .iter()
        .map(|task| format!("- line {}: {}\n", task.line, task.text))
        .collect();
    let prompt = format!(
        "Heartbeat. Work the open tasks of HEARTBEAT.md:\n{list}\nWhen a task is done, tick it \
         (`- [x]`) in HEARTBEAT.md with edit_file. If nothing needs the owner's attention, reply \
         with exactly HEARTBEAT_OK; otherwise reply with a short note for the owner."
    );
    let prompt = background::with_context(&prompt, "heartbeat", verdict);
    if let Some(triage) = &app.config.heartbeat.triage {
        let decision = background::triage(app, triage, &prompt, "heartbeat").await;
        let needed = decision.needed;
        let reason = decision.reason.clone();
        state.last_triage = Some(decision);
        if !needed {
            return (
                CycleOutcome::Skipped {
                    reason: format!("triage: main model not called ({reason})"),
                },
                0,
            );
        }
    }
    let submission = Submission {
        source: Source::Heartbeat,
        sender: Sender::Heartbeat,
        payload: Payload {
            text: prompt,
            session_id: None,
            model: app.config.heartbeat.model.clone(),
            ..Default::default()
        },
        job_tools: HEARTBEAT_TOOLS
            .iter()
            .map(|tool| (*tool).to_owned())
            .collect(),
        reply_to: None,
        deadline: None,
    };
    let ticket = match bus.submit(submission) {
        Ok(ticket) => ticket,
        Err(error) => {
            return (
                CycleOutcome::Failed {
                    message: error.to_string(),
                },
                0,
            );
        }
    };
    match ticket.outcome().await {
        Outcome::Done { report, .. } => {
            let tokens = report.usage.input_tokens + report.usage.output_tokens;
            let reply = report.answer.trim().to_owned();
            if is_heartbeat_ok(&reply) {
                return (CycleOutcome::Ok, tokens);
            }
            let now = Timestamp::now();
            let repeated = state.last_delivered.as_ref().is_some_and(|(last, at)| {
                *last == reply && now.duration_since(*at).unsigned_abs() < DUPLICATE_WINDOW
            });
            if repeated {
                return (CycleOutcome::Duplicate, tokens);
            }
            state.last_delivered = Some((reply.clone(), now));
            (CycleOutcome::Delivered { reply }, tokens)
        }
        Outcome::Failed(failure) => (
            CycleOutcome::Failed {
                message: failure.message,
            },
            0,
        ),
        Outcome::TimedOut => (
            CycleOutcome::Failed {
                message: "the heartbeat turn ran past its deadline".to_owned(),
            },
            0,
        ),
    }
}

/// Runs cycles on schedule until `stop` fires.
pub async fn run_loop(
    app: App,
    bus: IngressBus,
    delivery: Delivery,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut stop = stop;
    loop {
        let due = next_due(&app, &load_state(&app));
        let wait = due.duration_since(Timestamp::now()).unsigned_abs();
        let wait = if due <= Timestamp::now() {
            Duration::ZERO
        } else {
            wait
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        let outcome = run_cycle(&app, &bus, &delivery).await;
        tracing::info!(?outcome, "heartbeat cycle");
    }
}
