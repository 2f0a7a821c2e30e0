//! Scheduled jobs (`[[jobs]]`): each runs on its cron schedule as a trusted event with only the
//! tools it declares and its own model and timeout. A job never overlaps itself; runs missed while
//! the daemon was down are reported once (in the event log), not replayed. `localgpt jobs
//! list|run NAME` shows them and runs one now. State lives in `state/jobs.json`. A job runs its
//! precheck first and stays off the model past a spend cap (see [`super::background`]).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use localgpt_agent::control::{IngressBus, Outcome, Submission};
use localgpt_agent::precheck::Verdict;
use localgpt_agent::scheduler::JobSchedule;
use localgpt_agent::triage::Decision;
use localgpt_core::config::JobConfig;
use localgpt_core::ingress::{Payload, Sender, Source};
use serde::{Deserialize, Serialize};

use super::background;
use super::delivery::{Delivery, Urgency};
use super::heartbeat::time_zone;
use crate::app::App;

/// What the last run of a job did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobState {
    /// When it last ran.
    pub last_run: Option<Timestamp>,
    /// `ok`, `failed: …`, `timed out` or `skipped: …` (a precheck found no work, a spend cap).
    pub last_outcome: Option<String>,
    /// The reply of its last successful run.
    pub last_reply: Option<String>,
    /// What its precheck said the last time it ran.
    #[serde(default)]
    pub last_precheck: Option<Verdict>,
    /// What its triage model decided the last time it was asked.
    #[serde(default)]
    pub last_triage: Option<Decision>,
    /// Runs that called the model.
    #[serde(default)]
    pub model_runs: u64,
    /// Runs that did not reach the job's model (precheck, triage or budget).
    #[serde(default)]
    pub skipped_runs: u64,
}

fn state_path(app: &App) -> std::path::PathBuf {
    app.paths.state_dir().join("jobs.json")
}

/// Saved job states by name.
pub fn load_states(app: &App) -> BTreeMap<String, JobState> {
    std::fs::read_to_string(state_path(app))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

fn save_state(app: &App, name: &str, state: JobState) {
    let mut states = load_states(app);
    states.insert(name.to_owned(), state);
    let written = serde_json::to_vec_pretty(&states)
        .map_err(std::io::Error::other)
        .and_then(|bytes| localgpt_core::fs::write_atomic(&state_path(app), &bytes));
    if let Err(error) = written {
        tracing::warn!("could not save job state: {error}");
    }
}

/// Runs `job` now through the bus and records the result. Past a spend cap, or when its precheck
/// finds no work, no model is called and the run is recorded as skipped.
pub async fn run_job(
    app: &App,
    bus: &IngressBus,
    job: &JobConfig,
    delivery: &Delivery,
) -> JobState {
    let mut state = load_states(app).remove(&job.name).unwrap_or_default();
    let previous = state.last_outcome.clone();
    let previous_skip = previous
        .as_deref()
        .and_then(|outcome| outcome.strip_prefix("skipped: "));
    let skipped = match background::budget_gate(app, delivery).await {
        Some(reason) => Some(reason),
        None => {
            let verdict = background::precheck(
                app,
                job.precheck.as_deref(),
                job.precheck_script.as_deref(),
                job.precheck_timeout,
            )
            .await;
            state.last_precheck = verdict.clone();
            match verdict {
                Some(verdict) if !verdict.work => {
                    Some(format!("precheck: no work ({})", verdict.detail))
                }
                verdict => {
                    let origin = format!("job {}", job.name);
                    let text = background::with_context(&job.prompt, &origin, verdict.as_ref());
                    let decision = match &job.triage {
                        Some(triage) => Some(background::triage(app, triage, &text, &origin).await),
                        None => None,
                    };
                    state.last_triage = decision.clone();
                    match decision {
                        Some(decision) if !decision.needed => Some(format!(
                            "triage: main model not called ({})",
                            decision.reason
                        )),
                        _ => {
                            let (outcome, reply) = run_turn(bus, job, text, delivery).await;
                            state.model_runs += 1;
                            state.last_outcome = Some(outcome);
                            state.last_reply = reply;
                            None
                        }
                    }
                }
            }
        }
    };
    if let Some(reason) = skipped {
        background::note_skip(delivery, "job_skipped", &job.name, &reason, previous_skip).await;
        state.skipped_runs += 1;
        state.last_outcome = Some(format!("skipped: {reason}"));
    }
    state.last_run = Some(Timestamp::now());
    save_state(app, &job.name, state.clone());
    state
}

/// One turn of `job` with `text`; its outcome line and reply, delivered to the owner.
async fn run_turn(
    bus: &IngressBus,
    job: &JobConfig,
    text: String,
    delivery: &Delivery,
) -> (String, Option<String>) {
    let submission = Submission {
        source: Source::Scheduler,
        sender: Sender::Job {
            name: job.name.clone(),
        },
        payload: Payload {
            text,
            session_id: None,
            model: job.model.clone(),
            ..Default::default()
        },
        job_tools: job.tools.clone(),
        reply_to: None,
        deadline: Some(job.timeout.0),
    };
    let outcome = match bus.submit(submission) {
        Ok(ticket) => ticket.outcome().await,
        Err(error) => Outcome::Failed(error.to_string().into()),
    };
    match outcome {
        Outcome::Done { report, .. } => {
            delivery
                .deliver(Urgency::Report, "job", &job.name, &report.answer)
                .await;
            ("ok".to_owned(), Some(report.answer))
        }
        Outcome::Failed(failure) => {
            let message = failure.message;
            delivery
                .deliver(Urgency::Report, "job_failed", &job.name, &message)
                .await;
            (format!("failed: {message}"), None)
        }
        Outcome::TimedOut => {
            delivery
                .deliver(
                    Urgency::Report,
                    "job_timed_out",
                    &job.name,
                    "stopped at its timeout",
                )
                .await;
            ("timed out".to_owned(), None)
        }
    }
}

/// Runs every job on its schedule until `stop` fires.
pub async fn run_loop(
    app: App,
    bus: IngressBus,
    delivery: Delivery,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut stop = stop;
    let tz = time_zone(&app);
    let schedules: Vec<(JobConfig, JobSchedule)> = app
        .config
        .jobs
        .iter()
        .filter_map(|job| match JobSchedule::parse(&job.schedule) {
            Ok(schedule) => Some((job.clone(), schedule)),
            Err(error) => {
                tracing::warn!("job `{}` is not scheduled: {error}", job.name);
                None
            }
        })
        .collect();
    if schedules.is_empty() {
        return;
    }
    // Runs missed while the daemon was down: reported once, not replayed.
    let states = load_states(&app);
    let now = Timestamp::now();
    let mut next: Vec<Option<Timestamp>> = Vec::new();
    for (job, schedule) in &schedules {
        let plan = schedule.plan(states.get(&job.name).and_then(|s| s.last_run), now, &tz);
        if plan.missed > 0 {
            let note = format!(
                "missed {} run(s) while the daemon was down; not replayed",
                plan.missed
            );
            tracing::warn!(job = %job.name, "{note}");
            delivery
                .deliver(Urgency::LogOnly, "job_missed", &job.name, &note)
                .await;
        }
        next.push(plan.next);
    }
    let running: Arc<Mutex<HashSet<String>>> = Arc::default();
    loop {
        let now = Timestamp::now();
        let soonest = next.iter().flatten().min().copied();
        let Some(soonest) = soonest else { return };
        let wait = if soonest <= now {
            Duration::ZERO
        } else {
            soonest.duration_since(now).unsigned_abs()
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        let now = Timestamp::now();
        for (slot, (job, schedule)) in next.iter_mut().zip(&schedules) {
            if slot.is_none_or(|due| due > now) {
                continue;
            }
            *slot = schedule.next_after(now, &tz);
            let already = !running
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(job.name.clone());
            if already {
                tracing::warn!(job = %job.name, "still running; this run is skipped");
                continue;
            }
            let (app, bus, job, running, delivery) = (
                app.clone(),
                bus.clone(),
                job.clone(),
                Arc::clone(&running),
                delivery.clone(),
            );
            tokio::spawn(async move {
                let state = run_job(&app, &bus, &job, &delivery).await;
                tracing::info!(job = %job.name, outcome = ?state.last_outcome, "job ran");
                running
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&job.name);
            });
        }
    }
}

/// `localgpt jobs list`.
pub fn list(app: &App, json: bool) -> anyhow::Result<()> {
    let rows = rows(app);
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if rows.is_empty() {
        println!("no jobs (add [[jobs]] to config.toml)");
    }
    for row in rows {
        println!(
            "{}  {}  next {}  last {} ({})",
            row["name"].as_str().unwrap_or_default(),
            row["schedule"].as_str().unwrap_or_default(),
            row["next_run"].as_str().unwrap_or("-"),
            row["last_run"].as_str().unwrap_or("never"),
            row["last_outcome"].as_str().unwrap_or("-"),
        );
    }
    Ok(())
}

/// Each job with its schedule, next and last run (for `jobs list` and `/api/status`).
pub fn rows(app: &App) -> Vec<serde_json::Value> {
    let states = load_states(app);
    let tz = time_zone(app);
    let now = Timestamp::now();
    let mut rows = Vec::new();
    for job in &app.config.jobs {
        let schedule = JobSchedule::parse(&job.schedule);
        let state = states.get(&job.name).cloned().unwrap_or_default();
        rows.push(serde_json::json!({
            "name": job.name,
            "schedule": job.schedule,
            "describe": schedule.as_ref().map(JobSchedule::describe).unwrap_or_else(|error| error.clone()),
            "next_run": schedule.ok().and_then(|s| s.next_after(now, &tz)).map(|at| at.to_string()),
            "tools": job.tools,
            "model": job.model,
            "precheck": job.precheck.as_deref().or(job.precheck_script.as_deref()),
            "last_run": state.last_run.map(|at| at.to_string()),
            "last_outcome": state.last_outcome,
            "last_precheck": state.last_precheck,
            "triage": job.triage,
            "last_triage": state.last_triage,
            "model_runs": state.model_runs,
            "skipped_runs": state.skipped_runs,
        }));
    }
    rows
}
