//! `localgpt usage [--json] [--days N]`: tokens and cost per day, per origin (owner, heartbeat,
//! each job, Telegram …) and per model, counted from the session transcripts, with today's and
//! this month's spend against the `[budget]` caps. [`usage_status`] is the same for `/api/status`.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use localgpt_agent::budget::BudgetStatus;
use localgpt_agent::usage::{Spend, UsageSummary, read_usage};
use localgpt_core::text::terminal_safe_line;
use serde_json::{Value, json};

use crate::app::App;

/// The time zone days and months are counted in: `heartbeat.timezone`, else the system's.
pub fn time_zone(app: &App) -> TimeZone {
    localgpt_agent::budget::time_zone(app.config.heartbeat.timezone.as_deref())
}

/// Prints the usage of the last `days` days.
pub fn run(app: &App, json_output: bool, days: u32) -> anyhow::Result<()> {
    let now = Timestamp::now();
    let tz = time_zone(app);
    let since = now
        .checked_sub(SignedDuration::from_hours(24 * i64::from(days.max(1))))
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let records = read_usage(&app.paths.sessions_dir(), since);
    let summary = UsageSummary::of(&records, &app.config.budget.prices, &tz);
    let budget = BudgetStatus::read(&app.paths.sessions_dir(), &app.config.budget, now, &tz);
    if json_output {
        let report = json!({
            "since": since.to_string(),
            "time_zone": tz.iana_name(),
            "summary": summary,
            "budget": usage_status(app),
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let caps = &app.config.budget;
    println!(
        "today:      {}   (caps: {} tokens, ${:.2})",
        spend_line(&budget.day),
        caps.daily_tokens,
        caps.daily_usd.0
    );
    println!(
        "this month: {}   (caps: {} tokens, ${:.2})",
        spend_line(&budget.month),
        caps.monthly_tokens,
        caps.monthly_usd.0
    );
    match budget.blocking() {
        Some(exceeded) => println!("paused:     {}", exceeded.report()),
        None => println!("background work runs (no cap reached)"),
    }
    if summary.total.calls == 0 {
        println!("\nno model calls in the last {days} days");
        return Ok(());
    }
    print_table(&format!("per day (last {days} days)"), &summary.days);
    print_table("per origin", &summary.origins);
    print_table("per model", &summary.models);
    if summary.models.values().any(|spend| spend.unpriced) {
        println!(
            "\n* no price in [budget.prices]: counted as $0 (tokens still count against the caps)"
        );
    }
    Ok(())
}

fn spend_line(spend: &Spend) -> String {
    format!(
        "{} tokens in {} calls, ${:.4}",
        spend.tokens(),
        spend.calls,
        spend.usd
    )
}

fn print_table(title: &str, rows: &std::collections::BTreeMap<String, Spend>) {
    println!("\n{title}:");
    println!(
        "  {:<32} {:>7} {:>12} {:>10} {:>10}",
        "", "calls", "input", "output", "usd"
    );
    for (name, spend) in rows {
        println!(
            "  {:<32} {:>7} {:>12} {:>10} {:>10.4}{}",
            terminal_safe_line(name),
            spend.calls,
            spend.input_tokens,
            spend.output_tokens,
            spend.usd,
            if spend.unpriced { " *" } else { "" }
        );
    }
}

fn budget_json(budget: &BudgetStatus) -> Value {
    json!({
        "today": budget.day,
        "month": budget.month,
        "caps": {
            "daily_tokens": budget.caps.daily_tokens.0,
            "monthly_tokens": budget.caps.monthly_tokens.0,
            "daily_usd": budget.caps.daily_usd.0,
            "monthly_usd": budget.caps.monthly_usd.0,
        },
        "paused": budget.blocking().map(|exceeded| json!({
            "cap": exceeded.cap,
            "used": exceeded.used,
            "limit": exceeded.limit,
            "resumes": exceeded.resumes.to_string(),
            "report": exceeded.report(),
        })),
    })
}

/// The `usage` part of `/api/status`: today's and this month's spend against the caps, and this
/// month's spend per origin and per model.
pub fn usage_status(app: &App) -> Value {
    let now = Timestamp::now();
    let tz = time_zone(app);
    let budget = BudgetStatus::read(&app.paths.sessions_dir(), &app.config.budget, now, &tz);
    let records = read_usage(&app.paths.sessions_dir(), budget.month_window.start);
    let month = UsageSummary::of(&records, &app.config.budget.prices, &tz);
    let mut status = budget_json(&budget);
    if let Some(fields) = status.as_object_mut() {
        fields.insert("origins".to_owned(), json!(month.origins));
        fields.insert("models".to_owned(), json!(month.models));
    }
    status
}
