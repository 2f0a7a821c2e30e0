//! The gateway loop: long-polls for updates and submits every text message to the ingress bus as a
//! Telegram input from its sender's user id — the control plane decides the trust (owner ids are
//! the owner; anyone else is untrusted). The owner's chat continues one session until `/new`;
//! approval requests arrive as Approve/Deny buttons; answers go back to the chat. A stranger's
//! message is answered with a fixed note, never with the model's words, and its summary goes to
//! the owner; strangers' messages are capped per hour, so they cannot run up the model bill.
//! Messages of one chat are handled in order; chats proceed side by side.
//!
//! The owner is answered only in their private chat with the bot: what the owner writes in a
//! group is not answered there (anyone in the group would read the answer) — they get a note in
//! their private chat instead, and no model runs. A forwarded message (or one written through
//! another bot) is someone else's text even when the owner sends it on: it is submitted as a
//! [`Sender::TelegramForward`], which the control plane never trusts, so it is read by the
//! sanitizer without tools and outside the owner's conversation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use localgpt_agent::control::{ApprovalDesk, EventLog, IngressBus, Outcome, Submission};
use localgpt_agent::runtime::AgentEvent;
use localgpt_core::ingress::{Payload, Sender, Source};

use super::api::{BotApi, CallbackQuery, MAX_MESSAGE_CHARS, Message, split_message};
use super::limit::StrangerLimit;
use super::state::ChatState;

/// What a stranger is told.
const STRANGER_REPLY: &str =
    "This assistant answers its owner only. Your message was passed on to them.";
const HELP: &str = "Send a message and I answer it here. /new starts a new conversation. \
                    Tools that need your consent ask with Approve/Deny buttons.";
/// What the owner is told in their private chat after writing to the bot in a group.
const GROUP_NOTE: &str = "You wrote to me in a group chat. I answer you only here, in our \
                          private chat, so nothing was posted in the group. Ask me here instead.";
/// How a forwarded message's summary is introduced to the owner.
const FORWARD_INTRO: &str =
    "Forwarded message (someone else's text, read without tools or your files):";
/// Pause after the Bot API could not be reached.
const RETRY_PAUSE: Duration = Duration::from_secs(5);

/// Whose words a message carries, which decides how it is submitted and answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The owner, in their private chat: their conversation, every tool.
    Owner,
    /// Someone else's text the owner forwarded: read untrusted, summary to the owner.
    Forward,
    /// Anyone else: a fixed note to them, a summary to the owner.
    Stranger,
}

/// The Telegram gateway of the daemon.
pub struct TelegramGateway {
    api: BotApi,
    bus: IngressBus,
    owners: Vec<i64>,
    state: ChatState,
    approvals: Option<Arc<ApprovalDesk>>,
    events: Option<EventLog>,
    poll_wait: Duration,
    chats: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
    health: Mutex<Health>,
    strangers: StrangerLimit,
}

/// How the gateway is doing, for `daemon status` and `/api/status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Health {
    /// Not polled yet.
    Starting,
    /// The last poll worked.
    Polling,
    /// The last poll failed; polling again soon.
    Retrying {
        /// Why (without the token).
        error: String,
    },
    /// Telegram refused the token; the gateway stopped.
    Off {
        /// Why.
        error: String,
    },
}

impl std::fmt::Debug for TelegramGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramGateway")
            .field("owners", &self.owners)
            .finish_non_exhaustive()
    }
}

impl TelegramGateway {
    /// A gateway submitting to `bus`, treating `owners` as the owner, keeping its offset and the
    /// owner chats' sessions in `state`.
    pub fn new(api: BotApi, bus: IngressBus, owners: Vec<i64>, state: ChatState) -> Self {
        Self {
            api,
            bus,
            owners,
            state,
            approvals: None,
            events: None,
            poll_wait: Duration::from_secs(25),
            chats: Mutex::new(HashMap::new()),
            health: Mutex::new(Health::Starting),
            strangers: StrangerLimit::default(),
        }
    }

    /// Caps how often strangers' messages reach the model.
    pub fn with_stranger_limit(mut self, limit: StrangerLimit) -> Self {
        self.strangers = limit;
        self
    }

    /// How the gateway is doing, with the number of owner ids, as JSON.
    pub fn status(&self) -> serde_json::Value {
        let health = self
            .health
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let mut status = serde_json::to_value(health).unwrap_or_default();
        status["owners"] = self.owners.len().into();
        status
    }

    fn set_health(&self, health: Health) {
        *self
            .health
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = health;
    }

    /// Answers approval buttons at `desk` (the one the daemon's turns wait at).
    pub fn with_approvals(mut self, desk: Arc<ApprovalDesk>) -> Self {
        self.approvals = Some(desk);
        self
    }

    /// Records strangers' messages for the owner in `log`.
    pub fn with_event_log(mut self, log: EventLog) -> Self {
        self.events = Some(log);
        self
    }

    /// How long one poll waits for updates (Telegram allows up to 50 s).
    pub fn with_poll_wait(mut self, wait: Duration) -> Self {
        self.poll_wait = wait;
        self
    }

    /// Polls until `stop` changes; handles each update on a task of its own.
    pub async fn run(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut offset = self.state.offset();
        tracing::info!(owners = self.owners.len(), "telegram gateway polling");
        loop {
            let polled = tokio::select! {
                polled = self.api.get_updates(offset, self.poll_wait) => polled,
                _ = stop.changed() => return,
            };
            match polled {
                Ok(updates) => {
                    self.set_health(Health::Polling);
                    for update in updates {
                        offset = offset.max(update.update_id + 1);
                        if let Some(message) = update.message {
                            tokio::spawn(Arc::clone(&self).on_message(message));
                        } else if let Some(query) = update.callback_query {
                            tokio::spawn(Arc::clone(&self).on_button(query));
                        }
                    }
                    self.state.set_offset(offset);
                }
                Err(error) if error.is_refused_token() => {
                    self.set_health(Health::Off {
                        error: error.to_string(),
                    });
                    tracing::error!(
                        "{error}: telegram.bot_token was refused, so the Telegram gateway is off \
                         until the daemon restarts (check the token with @BotFather)"
                    );
                    return;
                }
                Err(error) => {
                    self.set_health(Health::Retrying {
                        error: error.to_string(),
                    });
                    tracing::warn!("{error}; polling again in {RETRY_PAUSE:?}");
                    tokio::select! {
                        () = tokio::time::sleep(RETRY_PAUSE) => {}
                        _ = stop.changed() => return,
                    }
                }
            }
        }
    }

    fn chat_lock(&self, chat: i64) -> Arc<tokio::sync::Mutex<()>> {
        let mut chats = self
            .chats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        chats.retain(|_, lock| Arc::strong_count(lock) > 1);
        Arc::clone(chats.entry(chat).or_default())
    }

    async fn say(&self, chat: i64, text: &str) {
        let text = if text.trim().is_empty() {
            "(no answer)"
        } else {
            text
        };
        for piece in split_message(text, MAX_MESSAGE_CHARS) {
            if let Err(error) = self.api.send_message(chat, &piece, &[]).await {
                tracing::warn!(chat, "could not answer: {error}");
                return;
            }
        }
    }

    async fn on_message(self: Arc<Self>, message: Message) {
        let Some(user) = message.from.clone() else {
            return;
        };
        let chat = message.chat.id;
        let owner = self.owners.contains(&user.id);
        if owner && !message.chat.is_private_with(user.id) {
            // Anything said in a group is read by the group: the owner's answer never goes there.
            tracing::info!(
                chat,
                "the owner wrote in a group chat; answered privately with a note"
            );
            self.say(user.id, GROUP_NOTE).await;
            return;
        }
        let role = match (owner, message.is_passed_on()) {
            (false, _) => Role::Stranger,
            (true, true) => Role::Forward,
            (true, false) => Role::Owner,
        };
        let lock = self.chat_lock(chat);
        let _in_order = lock.lock().await;
        let Some(text) = message.text.filter(|text| !text.trim().is_empty()) else {
            if owner {
                self.say(chat, "I can read text messages only.").await;
            }
            return;
        };
        if role == Role::Owner {
            match text.trim() {
                "/start" | "/help" => return self.say(chat, HELP).await,
                "/new" => {
                    self.state.forget_session(chat);
                    return self.say(chat, "Started a new conversation.").await;
                }
                _ => {}
            }
        }
        if role == Role::Stranger && !self.strangers.allow(user.id, std::time::Instant::now()) {
            tracing::info!(
                user = user.id,
                "a stranger's message over the hourly limit was dropped"
            );
            return;
        }
        if let Err(error) = self.api.send_typing(chat).await {
            tracing::debug!("typing indicator: {error}");
        }
        let submission = Submission {
            source: Source::Telegram,
            sender: match role {
                Role::Forward => Sender::TelegramForward { by: user.id },
                Role::Owner | Role::Stranger => Sender::TelegramUser { id: user.id },
            },
            payload: Payload {
                text: text.clone(),
                session_id: if role == Role::Owner {
                    self.state.session(chat)
                } else {
                    None
                },
                model: None,
                ..Default::default()
            },
            job_tools: Vec::new(),
            reply_to: Some(format!("telegram:{chat}")),
            deadline: None,
        };
        let mut ticket = match self.bus.submit(submission) {
            Ok(ticket) => ticket,
            Err(error) => {
                if owner {
                    self.say(chat, &format!("Not now: {error}")).await;
                }
                return;
            }
        };
        while let Some(event) = ticket.events.recv().await {
            match event {
                AgentEvent::Session(id) if role == Role::Owner => {
                    self.state.remember_session(chat, &id);
                }
                AgentEvent::ApprovalRequested {
                    id,
                    tool,
                    arguments,
                } if role == Role::Owner => {
                    let question = format!(
                        "{tool} needs your approval to run:\n{}",
                        serde_json::to_string_pretty(&arguments).unwrap_or_default()
                    );
                    let buttons = [vec![
                        ("Approve", format!("a:{id}")),
                        ("Deny", format!("d:{id}")),
                    ]];
                    if let Err(error) = self.api.send_message(chat, &question, &buttons).await {
                        tracing::warn!(chat, "could not ask for approval: {error}");
                    }
                }
                _ => {}
            }
        }
        match (ticket.outcome().await, role) {
            (Outcome::Done { report, .. }, Role::Owner) => self.say(chat, &report.answer).await,
            (Outcome::Done { report, .. }, Role::Forward) => {
                self.say(chat, &format!("{FORWARD_INTRO}\n{}", report.answer))
                    .await;
            }
            (
                Outcome::Done {
                    report, artifact, ..
                },
                Role::Stranger,
            ) => {
                self.say(chat, STRANGER_REPLY).await;
                self.tell_owners(&user.label(), artifact.as_deref(), &report.answer)
                    .await;
            }
            (Outcome::Failed(error), Role::Owner | Role::Forward) => {
                self.say(chat, &format!("That failed: {error}")).await;
            }
            (Outcome::TimedOut, Role::Owner | Role::Forward) => {
                self.say(chat, "That took too long and was stopped.").await;
            }
            (Outcome::Failed(error), Role::Stranger) => {
                tracing::warn!("a stranger's message failed: {error}");
            }
            (Outcome::TimedOut, Role::Stranger) => tracing::warn!("a stranger's message timed out"),
        }
    }

    /// A stranger wrote: the sanitizer's summary goes to every owner chat and the event log.
    async fn tell_owners(&self, sender: &str, artifact: Option<&str>, summary: &str) {
        let kept = artifact.map_or_else(String::new, |id| {
            format!(" (kept as artifact {})", id.get(..12).unwrap_or(id))
        });
        let note = format!("Telegram message from {sender}{kept}:\n{summary}");
        if let Some(log) = &self.events
            && let Err(error) = log.record("untrusted_message", "telegram", &note)
        {
            tracing::warn!("{error}");
        }
        for owner in &self.owners {
            self.say(*owner, &note).await;
        }
    }

    async fn on_button(self: Arc<Self>, query: CallbackQuery) {
        let data = query.data.clone().unwrap_or_default();
        let (approve, id) = match data.split_once(':') {
            Some(("a", id)) => (true, id),
            Some(("d", id)) => (false, id),
            _ => return,
        };
        let reply = if !self.owners.contains(&query.from.id) {
            "Only the owner can answer this.".to_owned()
        } else {
            match self
                .approvals
                .as_deref()
                .map(|desk| desk.answer(id, approve))
            {
                Some(Ok(request)) => {
                    let verdict = if approve { "approved" } else { "denied" };
                    if let Some(message) = &query.message {
                        let text = format!(
                            "{}\n\n{} {verdict}.",
                            message.text.as_deref().unwrap_or_default(),
                            request.tool
                        );
                        if let Err(error) = self
                            .api
                            .edit_message_text(message.chat.id, message.message_id, &text)
                            .await
                        {
                            tracing::debug!("marking the approval: {error}");
                        }
                    }
                    format!("{} {verdict}", request.tool)
                }
                _ => "This request is no longer waiting.".to_owned(),
            }
        };
        if let Err(error) = self.api.answer_callback_query(&query.id, &reply).await {
            tracing::debug!("acknowledging the button: {error}");
        }
    }
}
