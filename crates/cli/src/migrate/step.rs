//! One line of a migration report about a setting: which LocalGPT key, its value, and whether it
//! was set, kept or skipped (and why). Settings and cron jobs both report in these steps.

use serde::Serialize;

/// What happened to one setting.
#[derive(Debug, Clone, Serialize)]
pub struct SettingStep {
    /// The LocalGPT key.
    pub key: String,
    /// The value (secrets shown masked).
    pub value: String,
    /// `set`, `kept` (you had set it) or `skipped`.
    pub action: &'static str,
    /// Why it was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl std::fmt::Display for SettingStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} = {} ({}", self.key, self.value, self.action)?;
        match &self.reason {
            Some(reason) => write!(f, ": {reason})"),
            None => write!(f, ")"),
        }
    }
}
