//! What the heartbeat and every job do before calling a model: the spend caps of `[budget]`
//! (past one, no call, and one report to the owner per period), then the precheck (no work, no
//! call). Both are recorded either way: in the run's state (`jobs list`, `/api/status`) and, when
//! the reason for skipping changes, in the event log.

use jiff::Timestamp;
use localgpt_agent::budget::{BudgetStatus, ReportLog};
use localgpt_agent::precheck::{Precheck, PrecheckEnv, Verdict, fenced_context};
use localgpt_core::config::Duration;
use localgpt_core::protected::ProtectedPaths;

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
        protected: ProtectedPaths::for_current_user(&[
            app.paths.config_file.clone(),
            app.paths.state_dir(),
            app.paths.models_dir(),
        ]),
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

/// Notes a skipped run in the event log when its reason differs from the last run's, so a
/// precheck that says "no work" every half hour is one line, not thousands.
pub async fn note_skip(
    delivery: &Delivery,
    kind: &str,
    source: &str,
    reason: &str,
    previous: Option<&str>,
) {
    if previous != Some(reason) {
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
