//! What the heartbeat and every job do before calling a model: the spend caps of `[budget]`
//! (past one, no call, and one report to the owner per period), then the precheck (no work, no
//! call), then the triage model when one is set (no escalation, no call to the main model). Both are recorded either way: in the run's state (`jobs list`, `/api/status`) and, when
//! the reason for skipping changes, in the event log.

use std::sync::Arc;

use jiff::Timestamp;
use localgpt_agent::budget::{BudgetStatus, ReportLog};
use localgpt_agent::precheck::{Precheck, PrecheckEnv, Verdict, fenced_context};
use localgpt_agent::runtime::transcript::{assistant_message, user_message};
use localgpt_agent::sessions::{SessionStore, TurnTrust};
use localgpt_agent::triage::Decision;
use localgpt_core::chat::{ChatMessage, ChatModel, StopReason, Usage};
use localgpt_core::config::Duration;

use super::delivery::{Delivery, Urgency};
use crate::app::App;
use crate::commands::usage::time_zone;

/// The budget now, read from the transcripts.
pub fn budget_status(app: &App, now: Timestamp) -> BudgetStatus {
    BudgetStatus::read(
        &app.paths.sessions_dir(),
        &app.config.budget,
        now,
        &time_zone(app),
    )
}

/// Why background work may not call a model now, if a cap is reached. The first time in a
/// period the owner gets a report (the event log and Telegram).
pub async fn budget_gate(app: &App, delivery: &Delivery) -> Option<String> {
    let status = budget_status(app, Timestamp::now());
    let exceeded = status.blocking()?;
    let log = ReportLog::new(app.paths.state_dir().join("budget.json"));
    if log.first_report(&exceeded.period_key) {
        tracing::warn!("{}", exceeded.report());
        delivery
            .deliver(Urgency::Report, "budget", "budget", &exceeded.report())
            .await;
    }
    Some(format!(
        "budget: {} of {} ({}) reached; resumes {}",
        exceeded.used, exceeded.limit, exceeded.cap, exceeded.resumes
    ))
}

/// Runs the precheck a section declares (none: there is work).
pub async fn precheck(
    app: &App,
    command: Option<&str>,
    script: Option<&str>,
    timeout: Duration,
) -> Option<Verdict> {
    let precheck = Precheck::from_config(command, script)?;
    let workspace = app.paths.workspace(&app.config);
    let env = PrecheckEnv {
        policy: crate::commands::sandbox::policy(app, &workspace),
        protected: localgpt_agent::host::setup::protected_paths(&app.paths),
        workspace,
        timeout: timeout.get(),
    };
    let verdict = localgpt_agent::precheck::run(&precheck, &env).await;
    tracing::info!(
        work = verdict.work,
        detail = %verdict.detail,
        "{}",
        precheck.describe()
    );
    Some(verdict)
}

/// The turn's text: `prompt`, and the precheck's context fenced as data when it gave one.
pub fn with_context(prompt: &str, source: &str, verdict: Option<&Verdict>) -> String {
    match verdict.and_then(|verdict| verdict.context.as_deref()) {
        Some(context) => format!("{prompt}\n\n{}", fenced_context(source, context)),
        None => prompt.to_owned(),
    }
}

/// Notes a skipped run in the event log when the kind of its reason differs from the last run's,
/// so a precheck that says "no work" every half hour is one line, not thousands.
pub async fn note_skip(
    delivery: &Delivery,
    kind: &str,
    source: &str,
    reason: &str,
    previous: Option<&str>,
) {
    // Compared by kind (`precheck`, `triage`, `budget`): the details change from run to run.
    let kind_of = |text: &str| text.split(':').next().unwrap_or_default().to_owned();
    if previous.map(kind_of) != Some(kind_of(reason)) {
        delivery
            .deliver(
                Urgency::LogOnly,
                kind,
                source,
                &format!("skipped: {reason}"),
            )
            .await;
    }
}

/// Asks the triage model `reference` whether `task` needs the main model now. The call is
/// recorded as a session of `origin` (so `usage` and the caps count it). Only an explicit yes
/// escalates; a triage model that cannot answer keeps the main model off.
pub async fn triage(app: &App, reference: &str, task: &str, origin: &str) -> Decision {
    let model = match triage_model(app, reference) {
        Ok(model) => model,
        Err(error) => {
            return Decision {
                needed: false,
                reason: format!("triage model {reference} unavailable: {error:#}"),
            };
        }
    };
    let decision = match localgpt_agent::triage::ask(model.as_ref(), task).await {
        Ok((decision, reply, usage)) => {
            record_triage(app, model.name(), task, &reply, usage, origin);
            decision
        }
        Err(error) => Decision {
            needed: false,
            reason: format!("triage model {reference} failed: {error}"),
        },
    };
    tracing::info!(needed = decision.needed, reason = %decision.reason, "{origin} triage");
    decision
}

fn triage_model(app: &App, reference: &str) -> anyhow::Result<Arc<dyn ChatModel>> {
    let target = localgpt_llm::ModelRef::resolve(reference, &app.config.agent.aliases)?;
    if target.provider == "local" {
        return crate::local_model::load(app, &target.model, None);
    }
    Ok(Arc::from(
        localgpt_llm::ModelFactory::new(&app.config).create(reference)?,
    ))
}

fn record_triage(
    app: &App,
    model: &str,
    task: &str,
    reply: &ChatMessage,
    usage: Option<Usage>,
    origin: &str,
) {
    let store = SessionStore::new(app.paths.sessions_dir());
    let recorded = store
        .create(&app.paths.workspace(&app.config))
        .and_then(|mut session| {
            session.append_origin(origin)?;
            session.append_user(user_message(task), &TurnTrust::Owner)?;
            session.append_message(assistant_message(
                reply,
                model,
                usage,
                &StopReason::EndTurn,
                None,
            ))
        });
    if let Err(error) = recorded {
        tracing::warn!("could not record the triage call: {error}");
    }
}
