//! The sandbox as the daemon reports it: the level, and what this machine cannot enforce of the
//! `[sandbox]` policy — warned once at start, then shown by `daemon status`, `/api/status` and
//! the web UI's Status.

use localgpt_sandbox::{SandboxLevel, Support};
use serde::Serialize;

use crate::app::App;

/// The sandbox's state for status reports.
#[derive(Debug, Clone, Serialize)]
pub struct SandboxStatus {
    /// `auto`, `strict` or `off`.
    pub level: &'static str,
    /// Parts of the policy this machine does not enforce, in plain words (empty: all of it).
    pub not_enforced: Vec<String>,
    /// Whether shell commands run at all (`strict` refuses them when something is not enforced).
    pub commands_run: bool,
}

impl SandboxStatus {
    /// Probes the kernel for the policy of `app`'s workspace.
    pub fn detect(app: &App) -> Self {
        let workspace = app.paths.workspace(&app.config);
        let policy = crate::commands::sandbox::policy(app, &workspace);
        let not_enforced = match policy.level {
            SandboxLevel::Off => {
                vec!["the sandbox is off (level = \"off\"): commands run unconfined".to_owned()]
            }
            _ => Support::detect().gaps(&policy),
        };
        Self {
            level: match policy.level {
                SandboxLevel::Auto => "auto",
                SandboxLevel::Strict => "strict",
                SandboxLevel::Off => "off",
            },
            commands_run: policy.level != SandboxLevel::Strict || not_enforced.is_empty(),
            not_enforced,
        }
    }

    /// Logs each gap once (a warning), and that commands are refused under `strict`.
    pub fn warn(&self) {
        for gap in &self.not_enforced {
            tracing::warn!(level = self.level, "sandbox: not enforced: {gap}");
        }
        if !self.commands_run {
            tracing::warn!(
                "sandbox level is strict and part of the policy cannot be enforced here: shell \
                 commands are refused (`localgpt sandbox check` shows what is missing)"
            );
        }
    }
}
