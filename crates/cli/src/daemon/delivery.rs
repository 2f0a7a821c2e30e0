//! Delivery to the owner: every note from the background goes to the event log
//! (`state/events.jsonl`, served at `GET /api/events`); reports meant for the owner's attention
//! (a heartbeat's findings, a job's reply) also go to each Telegram owner id when a bot token is
//! configured (through the gateway's Bot API client: retried briefly, then logged without the
//! token). A channel that fails never stops the daemon.

use localgpt_agent::control::EventLog;
use localgpt_server::telegram::BotApi;

use crate::app::App;

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
            .and_then(|token| match BotApi::new(&config.api_url, token) {
                Ok(api) => Some(TelegramChannel {
                    api,
                    chats: config.owner_ids.clone(),
                }),
                Err(error) => {
                    tracing::warn!("reports will not reach Telegram: {error}");
                    None
                }
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
        if let (Urgency::Report, Some(telegram)) = (urgency, &self.telegram) {
            telegram.send_to_owners(&format!("{source}: {text}")).await;
        }
    }
}

/// The daemon's event log.
pub fn event_log(app: &App) -> EventLog {
    EventLog::new(app.paths.state_dir().join("events.jsonl"))
}

/// Sends to each owner chat through the Bot API.
#[derive(Clone)]
struct TelegramChannel {
    api: BotApi,
    chats: Vec<i64>,
}

impl TelegramChannel {
    async fn send_to_owners(&self, text: &str) {
        for chat in &self.chats {
            if let Err(error) = self.api.send_message(*chat, text, &[]).await {
                tracing::warn!("could not deliver to Telegram chat {chat}: {error}");
            }
        }
    }
}
