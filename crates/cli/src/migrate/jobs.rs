//! OpenClaw's cron jobs (`cron/jobs.json`, version 1) as LocalGPT `[[jobs]]`: a recurring cron
//! schedule that runs an agent turn becomes a job with the same expression, prompt, model and
//! timeout. Its tools are the job's `toolsAllow` — an OpenClaw job without that list ran with every
//! tool, which a LocalGPT job never gets, so it comes over with none and the report says so. Other
//! kinds (one-shot `at`, `every`, system events) and disabled jobs are reported, not guessed.

use std::path::Path;

use localgpt_core::config::{self, JobConfig, edit};
use serde_json::Value;

use super::step::SettingStep;

/// LocalGPT's default job timeout, for jobs that name none.
const DEFAULT_TIMEOUT_MINUTES: u64 = 10;

/// Where OpenClaw keeps its cron jobs.
pub fn store_path(root: &Path) -> std::path::PathBuf {
    root.join("cron/jobs.json")
}

/// Adds the convertible jobs of `root/cron/jobs.json` to `text`; returns the new text and a
/// step per job.
pub fn import(
    root: &Path,
    text: &str,
    config_path: &Path,
    existing: &[&str],
    models: &dyn Fn(&str) -> bool,
) -> anyhow::Result<(String, Vec<SettingStep>)> {
    let path = store_path(root);
    let raw = match std::fs::read_to_string(&path) {
        Ok(raw) => raw,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok((text.to_owned(), Vec::new()));
        }
        Err(error) => return Err(anyhow::anyhow!("reading {}: {error}", path.display())),
    };
    let store: Value = json5::from_str(&raw)
        .map_err(|error| anyhow::anyhow!("reading {} (JSON5): {error}", path.display()))?;
    let mut text = text.to_owned();
    let mut steps = Vec::new();
    for job in store["jobs"].as_array().into_iter().flatten() {
        let name = job["name"]
            .as_str()
            .or_else(|| job["id"].as_str())
            .unwrap_or("job")
            .to_owned();
        let mut step = SettingStep {
            key: format!("[[jobs]] {name}"),
            value: job["schedule"]["expr"].as_str().unwrap_or("").to_owned(),
            action: "set",
            reason: None,
        };
        if existing.contains(&name.as_str()) {
            step.action = "kept";
            step.reason = Some("you have a job of this name".to_owned());
            steps.push(step);
            continue;
        }
        match convert(&name, job, models) {
            Err(reason) => {
                step.action = "skipped";
                step.reason = Some(reason);
            }
            Ok((converted, note)) => {
                match edit::append_job(&text, config_path, &converted, &config::process_env) {
                    Ok(edited) => {
                        text = edited;
                        step.reason = note;
                    }
                    Err(error) => {
                        step.action = "skipped";
                        step.reason = Some(error.to_string());
                    }
                }
            }
        }
        steps.push(step);
    }
    Ok((text, steps))
}

/// The LocalGPT job for one OpenClaw job, with a note for the report; or why there is none.
fn convert(
    name: &str,
    job: &Value,
    models: &dyn Fn(&str) -> bool,
) -> Result<(JobConfig, Option<String>), String> {
    if job["enabled"] == false {
        return Err("disabled in OpenClaw".to_owned());
    }
    let schedule = &job["schedule"];
    let kind = schedule["kind"].as_str().unwrap_or("?");
    let Some(expr) = schedule["expr"].as_str().filter(|_| kind == "cron") else {
        return Err(format!(
            "a `{kind}` schedule; LocalGPT jobs run on cron expressions"
        ));
    };
    let payload = &job["payload"];
    let Some(prompt) = payload["message"]
        .as_str()
        .filter(|_| payload["kind"] == "agentTurn")
    else {
        return Err(format!(
            "a `{}` payload; LocalGPT jobs run an agent turn",
            payload["kind"].as_str().unwrap_or("?")
        ));
    };
    let tools: Vec<String> = payload["toolsAllow"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let mut notes = Vec::new();
    if payload["toolsAllow"].is_null() {
        notes.push("no tools (OpenClaw gave it all; list the ones it needs in `tools`)".to_owned());
    }
    let model = payload["model"].as_str().filter(|model| {
        let known = models(model);
        if !known {
            notes.push(format!("the default model instead of `{model}`"));
        }
        known
    });
    if schedule["tz"].as_str().is_some() {
        notes.push("times follow heartbeat.timezone".to_owned());
    }
    let seconds = payload["timeoutSeconds"]
        .as_u64()
        .unwrap_or(DEFAULT_TIMEOUT_MINUTES * 60);
    let timeout = format!("{seconds}s")
        .parse()
        .map_err(|error| format!("timeout: {error}"))?;
    Ok((
        JobConfig {
            name: name.to_owned(),
            schedule: expr.to_owned(),
            prompt: prompt.to_owned(),
            tools,
            model: model.map(str::to_owned),
            timeout,
            precheck: None,
            precheck_script: None,
            precheck_timeout: localgpt_core::config::default_precheck_timeout(),
            triage: None,
        },
        (!notes.is_empty()).then(|| notes.join("; ")),
    ))
}
