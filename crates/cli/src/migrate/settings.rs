//! OpenClaw settings that have a LocalGPT equivalent, written into `config.toml` with the same
//! editor as `localgpt config set` (comments kept, the result must load). A key the user already
//! set is left alone; a value LocalGPT cannot take is reported, not guessed.

use anyhow::Context;
use localgpt_core::config::{self, edit};
use localgpt_core::fs::write_atomic;

use super::source::OpenClawHome;
use super::step::SettingStep;
use crate::app::App;

/// Providers LocalGPT speaks, as the first part of a model reference.
const PROVIDERS: &[&str] = &["anthropic", "openai", "ollama", "claude-cli", "local"];

/// The settings to carry over, as (key, value, shown value).
fn candidates(home: &OpenClawHome) -> Vec<(String, String, Option<String>)> {
    let mut wanted = Vec::new();
    if let Some(model) = &home.model {
        let reason = (!supported_model(model)).then(|| {
            format!(
                "LocalGPT has no provider for `{model}` (it speaks {})",
                PROVIDERS.join(", ")
            )
        });
        wanted.push(("agent.default_model".to_owned(), model.clone(), reason));
    }
    match home.heartbeat_every.as_deref().map(str::trim) {
        Some("0" | "0m" | "0s" | "0h") => {
            wanted.push(("heartbeat.enabled".to_owned(), "false".to_owned(), None));
        }
        Some(every) => wanted.push(("heartbeat.interval".to_owned(), every.to_owned(), None)),
        None => {}
    }
    if let Some((start, end)) = &home.active_hours {
        wanted.push((
            "heartbeat.active_hours".to_owned(),
            format!("{{ start = \"{start}\", end = \"{end}\" }}"),
            None,
        ));
    }
    if let Some(zone) = &home.timezone {
        wanted.push(("heartbeat.timezone".to_owned(), zone.clone(), None));
    }
    if let Some(token) = &home.telegram_token {
        wanted.push(("telegram.bot_token".to_owned(), token.clone(), None));
    }
    if !home.telegram_owner_ids.is_empty() {
        let ids: Vec<String> = home.telegram_owner_ids.iter().map(i64::to_string).collect();
        wanted.push((
            "telegram.owner_ids".to_owned(),
            format!("[{}]", ids.join(", ")),
            None,
        ));
    }
    wanted
}

/// Shows a value, masking a literal secret (a `${VAR}` reference is not one).
fn shown(key: &str, value: &str) -> String {
    if key.ends_with("token") && !value.starts_with("${") {
        "****".to_owned()
    } else {
        value.to_owned()
    }
}

/// Whether LocalGPT speaks the provider of a `provider/model` reference.
pub fn supported_model(model: &str) -> bool {
    model
        .split_once('/')
        .is_some_and(|(provider, _)| PROVIDERS.contains(&provider))
}

/// Writes the settings and cron jobs LocalGPT does not have yet; returns what happened to each.
pub fn apply(
    app: &App,
    root: &std::path::Path,
    home: &OpenClawHome,
    dry_run: bool,
) -> anyhow::Result<Vec<SettingStep>> {
    let wanted = candidates(home);
    if wanted.is_empty() && !super::jobs::store_path(root).exists() {
        return Ok(Vec::new());
    }
    let path = &app.paths.config_file;
    let mut text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "{} does not exist yet; run `localgpt config init` first",
            path.display()
        )
    })?;
    let mut steps = Vec::new();
    for (key, value, unsupported) in wanted {
        let mut step = SettingStep {
            value: shown(&key, &value),
            key: key.clone(),
            action: "set",
            reason: None,
        };
        if let Some(reason) = unsupported {
            step.action = "skipped";
            step.reason = Some(reason);
        } else if edit::is_set(&text, &key) {
            step.action = "kept";
            step.reason = Some(format!(
                "you had set it; `localgpt config set {key} '{}'` takes OpenClaw's",
                step.value
            ));
        } else {
            // Checked against the real loader. A `${VAR}` that is not set in this shell is
            // written (only commands that need it fail) and the report says to export it.
            match edit::set(&text, path, &key, &value, &config::process_env) {
                Ok(edited) => {
                    text = edited;
                    if let Some(var) = unset_variable(&value) {
                        step.reason = Some(format!(
                            "{var} is not set in this shell; export it before `localgpt daemon start`"
                        ));
                    }
                }
                Err(error) => {
                    step.action = "skipped";
                    step.reason = Some(error.to_string());
                }
            }
        }
        steps.push(step);
    }
    let existing: Vec<&str> = app
        .config
        .jobs
        .iter()
        .map(|job| job.name.as_str())
        .collect();
    let (edited, job_steps) = super::jobs::import(root, &text, path, &existing, &supported_model)?;
    text = edited;
    steps.extend(job_steps);
    if !dry_run && steps.iter().any(|step| step.action == "set") {
        write_atomic(path, text.as_bytes())
            .map_err(|error| anyhow::anyhow!("writing {}: {error}", path.display()))?;
    }
    Ok(steps)
}

/// The first `${VAR}` in `value` whose variable is not set here.
fn unset_variable(value: &str) -> Option<String> {
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        let tail = &rest[start + 2..];
        let end = tail.find('}')?;
        let name = &tail[..end];
        if config::process_env(name).is_none() {
            return Some(name.to_owned());
        }
        rest = &tail[end + 1..];
    }
    None
}
