//! Finding an OpenClaw home and reading what LocalGPT can use from its `openclaw.json` (JSON5):
//! the workspace, the default model, heartbeat timing, and the Telegram bot. The file is only
//! read; `${VAR}` references are kept as they are (LocalGPT's config expands them the same way).

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::Value;

/// What an OpenClaw home holds, as far as the migration cares.
#[derive(Debug, Default)]
pub struct OpenClawHome {
    /// The default agent's workspace.
    pub workspace: PathBuf,
    /// `agents.defaults.model` (its primary).
    pub model: Option<String>,
    /// `agents.defaults.heartbeat.every`.
    pub heartbeat_every: Option<String>,
    /// `agents.defaults.heartbeat.activeHours` start and end.
    pub active_hours: Option<(String, String)>,
    /// `agents.defaults.userTimezone` or the active hours' IANA time zone.
    pub timezone: Option<String>,
    /// `channels.telegram.botToken`.
    pub telegram_token: Option<String>,
    /// Numeric ids in `channels.telegram.allowFrom`.
    pub telegram_owner_ids: Vec<i64>,
}

/// The OpenClaw home at `explicit`, or where OpenClaw itself looks: `$OPENCLAW_STATE_DIR`,
/// `~/.openclaw`, then the legacy `~/.clawdbot`.
pub fn locate(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = explicit {
        anyhow::ensure!(path.is_dir(), "{} is not a folder", path.display());
        return Ok(path.to_owned());
    }
    if let Some(dir) = std::env::var_os("OPENCLAW_STATE_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let home = std::env::home_dir().context("cannot tell the home folder")?;
    [".openclaw", ".clawdbot"]
        .iter()
        .map(|name| home.join(name))
        .find(|dir| dir.is_dir())
        .with_context(|| {
            format!(
                "no OpenClaw home in {} (give its path: `localgpt migrate openclaw PATH`)",
                home.join(".openclaw").display()
            )
        })
}

/// Reads `root/openclaw.json` (when there is one) and resolves the workspace.
pub fn read(root: &Path) -> anyhow::Result<OpenClawHome> {
    let config_path = root.join("openclaw.json");
    let config: Value = match std::fs::read_to_string(&config_path) {
        Ok(text) => json5::from_str(&text)
            .with_context(|| format!("reading {} (JSON5)", config_path.display()))?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Value::Null,
        Err(error) => {
            return Err(error).with_context(|| format!("reading {}", config_path.display()));
        }
    };
    let defaults = &config["agents"]["defaults"];
    let text = |value: &Value| value.as_str().map(str::to_owned);
    let workspace = text(&defaults["workspace"])
        .map(|path| expand_home(&path))
        .unwrap_or_else(|| root.join("workspace"));
    let model = text(&defaults["model"]).or_else(|| text(&defaults["model"]["primary"]));
    let heartbeat = &defaults["heartbeat"];
    let heartbeat_every = match &heartbeat["every"] {
        Value::Number(minutes) => Some(format!("{minutes}m")),
        other => text(other),
    };
    let hours = &heartbeat["activeHours"];
    let active_hours = text(&hours["start"]).zip(text(&hours["end"]));
    let timezone = text(&defaults["userTimezone"])
        .or_else(|| text(&hours["timezone"]).filter(|zone| zone.contains('/')));
    let telegram = &config["channels"]["telegram"];
    let telegram_owner_ids = telegram["allowFrom"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|id| id.as_i64().or_else(|| id.as_str()?.trim().parse().ok()))
                .collect()
        })
        .unwrap_or_default();
    Ok(OpenClawHome {
        workspace,
        model,
        heartbeat_every,
        active_hours,
        timezone,
        telegram_token: text(&telegram["botToken"]),
        telegram_owner_ids,
    })
}

fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json5_settings_are_read_and_missing_ones_default() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("openclaw.json"),
            r#"{
              // JSON5: comments, unquoted keys, trailing commas
              agents: { defaults: {
                model: { primary: "anthropic/claude-sonnet-4-6" },
                heartbeat: { every: 45, activeHours: { start: "08:00", end: "21:30", timezone: "Europe/Berlin" } },
              } },
              channels: { telegram: { botToken: "${TELEGRAM_BOT_TOKEN}", allowFrom: [123, "456", "@someone"] } },
            }"#,
        )
        .unwrap();
        let home = read(dir.path()).unwrap();
        assert_eq!(home.workspace, dir.path().join("workspace"));
        assert_eq!(home.model.as_deref(), Some("anthropic/claude-sonnet-4-6"));
        assert_eq!(home.heartbeat_every.as_deref(), Some("45m"));
        assert_eq!(
            home.active_hours,
            Some(("08:00".to_owned(), "21:30".to_owned()))
        );
        assert_eq!(home.timezone.as_deref(), Some("Europe/Berlin"));
        assert_eq!(
            home.telegram_token.as_deref(),
            Some("${TELEGRAM_BOT_TOKEN}")
        );
        assert_eq!(home.telegram_owner_ids, [123, 456]);

        let empty = tempfile::tempdir().unwrap();
        let home = read(empty.path()).unwrap();
        assert_eq!(home.model, None);
        assert!(home.telegram_owner_ids.is_empty());
    }
}
