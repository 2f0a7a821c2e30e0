//! Delivery to the owner: every note from the background goes to the event log
//! (`state/events.jsonl`, served at `GET /api/events`); reports meant for the owner's attention
//! (a heartbeat's findings, a job's reply) also go to each Telegram owner id when a bot token is
//! configured. A channel that fails is retried briefly and then logged — without the token —
//! and never stops the daemon.

use std::time::Duration;

use localgpt_agent::control::EventLog;
use localgpt_core::config::Secret;
use serde_json::{Value, json};

use crate::app::App;

/// Telegram rejects longer messages.
const TELEGRAM_MAX_CHARS: usize = 4096;
/// Attempts per message before giving up.
const TELEGRAM_ATTEMPTS: u32 = 3;

/// Whether a note asks for the owner's attention or is only kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    /// Sent to the owner's channels and kept in the log.
    Report,
    /// Kept in the log only.
    LogOnly,
}

/// Where the daemon's notes for the owner go.
#[derive(Clone)]
pub struct Delivery {
    log: EventLog,
    telegram: Option<TelegramChannel>,
}

impl Delivery {
    /// The event log under the state folder, and Telegram when a bot token and owner ids are set.
    pub fn for_app(app: &App) -> Self {
        let config = &app.config.telegram;
        let telegram = config
            .bot_token
            .clone()
            .filter(|_| !config.owner_ids.is_empty())
            .map(|token| TelegramChannel {
                api_url: config.api_url.trim_end_matches('/').to_owned(),
                token,
                chats: config.owner_ids.clone(),
            });
        Self {
            log: event_log(app),
            telegram,
        }
    }

    /// Records the note and, for a report, sends it to the owner's channels.
    pub async fn deliver(&self, urgency: Urgency, kind: &str, source: &str, text: &str) {
        if let Err(error) = self.log.record(kind, source, text) {
            tracing::warn!("{error}");
        }
        let Some(telegram) = self.telegram.clone() else {
            return;
        };
        if urgency == Urgency::LogOnly {
            return;
        }
        let message = format!("{source}: {text}");
        let sent = tokio::task::spawn_blocking(move || telegram.send_to_owners(&message)).await;
        if let Err(error) = sent {
            tracing::warn!("telegram delivery stopped: {error}");
        }
    }
}

/// The daemon's event log.
pub fn event_log(app: &App) -> EventLog {
    EventLog::new(app.paths.state_dir().join("events.jsonl"))
}

/// Sends through the Bot API's `sendMessage`.
#[derive(Clone)]
struct TelegramChannel {
    api_url: String,
    token: Secret,
    chats: Vec<i64>,
}

impl TelegramChannel {
    fn send_to_owners(&self, text: &str) {
        let text = clip(text, TELEGRAM_MAX_CHARS);
        for chat in &self.chats {
            if let Err(error) = self.send(*chat, &text) {
                tracing::warn!("could not deliver to Telegram chat {chat}: {error}");
            }
        }
    }

    fn send(&self, chat: i64, text: &str) -> Result<(), String> {
        let url = format!("{}/bot{}/sendMessage", self.api_url, self.token.expose());
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build()
            .new_agent();
        let body = json!({"chat_id": chat, "text": text}).to_string();
        let mut last_error = String::new();
        for attempt in 1..=TELEGRAM_ATTEMPTS {
            match agent
                .post(&url)
                .header("content-type", "application/json")
                .send(body.as_str())
            {
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    let answer: Value = response
                        .body_mut()
                        .read_to_string()
                        .ok()
                        .and_then(|text| serde_json::from_str(&text).ok())
                        .unwrap_or_else(|| json!({}));
                    if status == 200 && answer["ok"] == true {
                        return Ok(());
                    }
                    last_error = format!(
                        "HTTP {status}: {}",
                        answer["description"].as_str().unwrap_or("no description")
                    );
                    let retry_after = answer["parameters"]["retry_after"].as_u64();
                    let transient = status == 429 || status >= 500;
                    if !transient || attempt == TELEGRAM_ATTEMPTS {
                        break;
                    }
                    std::thread::sleep(Duration::from_secs(retry_after.unwrap_or(1).min(30)));
                }
                Err(error) => {
                    // Transport errors can quote the URL, which holds the token.
                    last_error = error.to_string().replace(self.token.expose(), "<token>");
                    if attempt < TELEGRAM_ATTEMPTS {
                        std::thread::sleep(Duration::from_secs(1));
                    }
                }
            }
        }
        Err(last_error)
    }
}

/// `text` cut to at most `max` characters, marked when cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max - 1).collect();
    format!("{kept}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_clipped_to_telegrams_limit() {
        assert_eq!(clip("short", 10), "short");
        let clipped = clip(&"é".repeat(5000), TELEGRAM_MAX_CHARS);
        assert_eq!(clipped.chars().count(), TELEGRAM_MAX_CHARS);
        assert!(clipped.ends_with('…'));
    }
}
