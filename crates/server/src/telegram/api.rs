//! A small client for the Telegram Bot API: long-polling `getUpdates`, `sendMessage` (with inline
//! buttons), `editMessageText`, `answerCallbackQuery`, `sendChatAction`. Rate limits (429 with
//! `retry_after`) and server errors are retried briefly; every error message has the bot token
//! removed — raw, percent-encoded or as the URL spells it — because the token is part of each
//! request's URL.

use std::time::Duration;

use localgpt_core::config::Secret;
use localgpt_core::redact::Redactor;
use serde::Deserialize;
use serde_json::{Value, json};

/// Telegram rejects longer messages.
pub const MAX_MESSAGE_CHARS: usize = 4096;
/// Attempts for a call that hits a rate limit or a server error.
const ATTEMPTS: u32 = 3;

/// Why a Bot API call failed (the token never appears here).
#[derive(Debug, thiserror::Error)]
pub enum TelegramError {
    /// The server could not be reached or the connection broke.
    #[error("telegram: {0}")]
    Transport(String),
    /// The Bot API answered with an error.
    #[error("telegram {method}: {description} (HTTP {status})")]
    Api {
        /// The method called.
        method: String,
        /// The HTTP status.
        status: u16,
        /// Telegram's description.
        description: String,
    },
}

impl TelegramError {
    /// Whether Telegram refused the bot token (revoked or mistyped): retrying cannot help.
    pub fn is_refused_token(&self) -> bool {
        matches!(
            self,
            Self::Api {
                status: 401 | 404,
                ..
            }
        )
    }
}

/// One incoming update: a message or a button press.
#[derive(Debug, Clone, Deserialize)]
pub struct Update {
    /// Increasing id; the next poll asks for those after it.
    pub update_id: i64,
    /// A new message.
    #[serde(default)]
    pub message: Option<Message>,
    /// An inline button was pressed.
    #[serde(default)]
    pub callback_query: Option<CallbackQuery>,
}

/// A message.
#[derive(Debug, Clone, Deserialize)]
pub struct Message {
    /// Id within the chat.
    pub message_id: i64,
    /// Who sent it (absent for channel posts).
    #[serde(default)]
    pub from: Option<User>,
    /// Where it was sent.
    pub chat: Chat,
    /// Its text, when it is a text message.
    #[serde(default)]
    pub text: Option<String>,
    /// Where a forwarded message came from (Bot API 7+).
    #[serde(default)]
    pub forward_origin: Option<Value>,
    /// The original sender of a forwarded message (older Bot API).
    #[serde(default)]
    pub forward_from: Option<Value>,
    /// The original chat of a forwarded message (older Bot API).
    #[serde(default)]
    pub forward_from_chat: Option<Value>,
    /// The name of a forwarded message's hidden sender (older Bot API).
    #[serde(default)]
    pub forward_sender_name: Option<String>,
    /// When the original of a forwarded message was sent (older Bot API).
    #[serde(default)]
    pub forward_date: Option<i64>,
    /// Set for a channel post forwarded into its discussion group automatically.
    #[serde(default)]
    pub is_automatic_forward: Option<bool>,
    /// The inline bot a message was written through.
    #[serde(default)]
    pub via_bot: Option<Value>,
}

impl Message {
    /// Whether the text is someone else's: forwarded (in either Bot API spelling) or written
    /// through an inline bot. Whoever sent it on, its author is not them.
    pub fn is_passed_on(&self) -> bool {
        self.forward_origin.is_some()
            || self.forward_from.is_some()
            || self.forward_from_chat.is_some()
            || self.forward_sender_name.is_some()
            || self.forward_date.is_some()
            || self.is_automatic_forward == Some(true)
            || self.via_bot.is_some()
    }
}

/// A Telegram user.
#[derive(Debug, Clone, Deserialize)]
pub struct User {
    /// Numeric id (what `telegram.owner_ids` lists).
    pub id: i64,
    /// First name.
    #[serde(default)]
    pub first_name: String,
    /// `@username`, without the `@`.
    #[serde(default)]
    pub username: Option<String>,
}

impl User {
    /// How to name the user to the owner.
    pub fn label(&self) -> String {
        match &self.username {
            Some(name) => format!("{} (@{name}, id {})", self.first_name, self.id),
            None => format!("{} (id {})", self.first_name, self.id),
        }
    }
}

/// A chat.
#[derive(Debug, Clone, Deserialize)]
pub struct Chat {
    /// Numeric id (a private chat's id is the user's id).
    pub id: i64,
    /// `private`, `group`, `supergroup` or `channel` (empty when missing).
    #[serde(default, rename = "type")]
    pub kind: String,
}

impl Chat {
    /// Whether this is `user`'s private chat with the bot: the only place the owner is answered.
    pub fn is_private_with(&self, user: i64) -> bool {
        self.kind == "private" && self.id == user
    }
}

/// A press of an inline button.
#[derive(Debug, Clone, Deserialize)]
pub struct CallbackQuery {
    /// Id to acknowledge.
    pub id: String,
    /// Who pressed it.
    pub from: User,
    /// The message the button belongs to.
    #[serde(default)]
    pub message: Option<Message>,
    /// The button's data.
    #[serde(default)]
    pub data: Option<String>,
}

/// The Bot API for one bot.
#[derive(Clone)]
pub struct BotApi {
    http: reqwest::Client,
    api_url: String,
    token: Secret,
    /// Removes the token from error texts in every spelling.
    redactor: Redactor,
}

impl std::fmt::Debug for BotApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BotApi")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

impl BotApi {
    /// A client for the bot with `token` on the server at `api_url`
    /// (`https://api.telegram.org`, or a self-hosted Bot API server).
    pub fn new(api_url: &str, token: Secret) -> Result<Self, TelegramError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|error| TelegramError::Transport(error.to_string()))?;
        let api_url = api_url.trim_end_matches('/').to_owned();
        let redactor = Redactor::new([token.expose()]).with(url_spellings(&api_url, &token));
        Ok(Self {
            http,
            api_url,
            token,
            redactor,
        })
    }

    /// `text` without the bot token.
    fn scrub(&self, text: &str) -> String {
        self.redactor.scrub(text).into_owned()
    }

    /// Updates after `offset`, waiting up to `wait` for one to arrive.
    pub async fn get_updates(
        &self,
        offset: i64,
        wait: Duration,
    ) -> Result<Vec<Update>, TelegramError> {
        let result = self
            .call(
                "getUpdates",
                json!({
                    "offset": offset,
                    "timeout": wait.as_secs(),
                    "allowed_updates": ["message", "callback_query"],
                }),
                wait + Duration::from_secs(15),
            )
            .await?;
        serde_json::from_value(result).map_err(|error| TelegramError::Api {
            method: "getUpdates".to_owned(),
            status: 200,
            description: format!("unexpected answer: {error}"),
        })
    }

    /// Sends `text` (cut to Telegram's limit) with optional inline `buttons` (rows of
    /// `(label, data)`); returns the message id.
    pub async fn send_message(
        &self,
        chat: i64,
        text: &str,
        buttons: &[Vec<(&str, String)>],
    ) -> Result<i64, TelegramError> {
        let mut body = json!({"chat_id": chat, "text": clip(text, MAX_MESSAGE_CHARS)});
        if !buttons.is_empty() {
            body["reply_markup"] = inline_keyboard(buttons);
        }
        let sent = self
            .call("sendMessage", body, Duration::from_secs(30))
            .await?;
        Ok(sent["message_id"].as_i64().unwrap_or_default())
    }

    /// Replaces a message's text (and drops its buttons).
    pub async fn edit_message_text(
        &self,
        chat: i64,
        message: i64,
        text: &str,
    ) -> Result<(), TelegramError> {
        let body = json!({
            "chat_id": chat,
            "message_id": message,
            "text": clip(text, MAX_MESSAGE_CHARS),
        });
        self.call("editMessageText", body, Duration::from_secs(30))
            .await
            .map(drop)
    }

    /// Acknowledges a button press, showing `text` briefly.
    pub async fn answer_callback_query(&self, id: &str, text: &str) -> Result<(), TelegramError> {
        let body = json!({"callback_query_id": id, "text": text});
        self.call("answerCallbackQuery", body, Duration::from_secs(30))
            .await
            .map(drop)
    }

    /// Shows "typing…" in the chat for a few seconds.
    pub async fn send_typing(&self, chat: i64) -> Result<(), TelegramError> {
        let body = json!({"chat_id": chat, "action": "typing"});
        self.call("sendChatAction", body, Duration::from_secs(30))
            .await
            .map(drop)
    }

    async fn call(
        &self,
        method: &str,
        body: Value,
        timeout: Duration,
    ) -> Result<Value, TelegramError> {
        let url = format!("{}/bot{}/{method}", self.api_url, self.token.expose());
        let mut last = TelegramError::Transport("no attempt made".to_owned());
        for attempt in 1..=ATTEMPTS {
            let sent = self
                .http
                .post(&url)
                .header("content-type", "application/json")
                .body(body.to_string())
                .timeout(timeout)
                .send()
                .await;
            let response = match sent {
                Ok(response) => response,
                Err(error) => {
                    // reqwest's messages quote the URL, which holds the token.
                    return Err(TelegramError::Transport(self.scrub(&error.to_string())));
                }
            };
            let status = response.status().as_u16();
            let answer: Value = response
                .bytes()
                .await
                .ok()
                .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                .unwrap_or_else(|| json!({}));
            if status == 200 && answer["ok"] == true {
                return Ok(answer["result"].clone());
            }
            last = TelegramError::Api {
                method: method.to_owned(),
                status,
                description: self.scrub(answer["description"].as_str().unwrap_or("no description")),
            };
            let transient = status == 429 || status >= 500;
            if !transient || attempt == ATTEMPTS {
                break;
            }
            let wait = answer["parameters"]["retry_after"].as_u64().unwrap_or(1);
            tokio::time::sleep(Duration::from_secs(wait.min(30))).await;
        }
        Err(last)
    }
}

/// The token as the request URL spells it (the URL parser escapes a space or a non-ASCII
/// character but leaves `:` and the like alone), so an error quoting the URL is caught too.
fn url_spellings(api_url: &str, token: &Secret) -> Vec<String> {
    let url = format!("{api_url}/bot{}/getUpdates", token.expose());
    let Ok(parsed) = reqwest::Url::parse(&url) else {
        return Vec::new();
    };
    let spelled = parsed
        .path()
        .rsplit_once("/bot")
        .and_then(|(_, rest)| rest.strip_suffix("/getUpdates"))
        .map(str::to_owned);
    spelled.into_iter().collect()
}

fn inline_keyboard(rows: &[Vec<(&str, String)>]) -> Value {
    let rows: Vec<Value> = rows
        .iter()
        .map(|row| {
            Value::Array(
                row.iter()
                    .map(|(label, data)| json!({"text": label, "callback_data": data}))
                    .collect(),
            )
        })
        .collect();
    json!({ "inline_keyboard": rows })
}

/// `text` cut to at most `max` characters, marked when cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// `text` in pieces of at most `max` characters, split at line breaks where possible.
pub fn split_message(text: &str, max: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    for line in text.split_inclusive('\n') {
        if current.chars().count() + line.chars().count() > max && !current.is_empty() {
            pieces.push(std::mem::take(&mut current));
        }
        if line.chars().count() > max {
            let chars: Vec<char> = line.chars().collect();
            for chunk in chars.chunks(max) {
                pieces.push(chunk.iter().collect());
            }
        } else {
            current.push_str(line);
        }
    }
    if !current.trim().is_empty() || pieces.is_empty() {
        pieces.push(current);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_answers_split_at_lines_and_fit_the_limit() {
        assert_eq!(split_message("short", 10), ["short"]);
        let text = "aaaa\nbbbb\ncccc\n";
        assert_eq!(split_message(text, 10), ["aaaa\nbbbb\n", "cccc\n"]);
        let long = "x".repeat(25);
        let pieces = split_message(&long, 10);
        assert_eq!(pieces.len(), 3);
        assert!(pieces.iter().all(|piece| piece.chars().count() <= 10));
        assert_eq!(clip(&"é".repeat(20), 10).chars().count(), 10);
    }

    #[test]
    fn the_token_is_scrubbed_as_the_url_spells_it() {
        let api = BotApi::new(
            "http://127.0.0.1:1",
            Secret::new("123:SEC RET é!".to_owned()),
        )
        .unwrap();
        for leaked in [
            "123:SEC RET é!",
            "url (http://127.0.0.1:1/bot123:SEC%20RET%20%C3%A9!/getUpdates)",
            "bot123%3ASEC%20RET%20%C3%A9%21",
            "bot123%3asec",
        ] {
            let scrubbed = api.scrub(leaked);
            assert!(!scrubbed.contains("SEC"), "{leaked} -> {scrubbed}");
        }
    }

    #[test]
    fn buttons_become_an_inline_keyboard() {
        let keyboard = inline_keyboard(&[vec![
            ("Approve", "a:1".to_owned()),
            ("Deny", "d:1".to_owned()),
        ]]);
        assert_eq!(keyboard["inline_keyboard"][0][1]["callback_data"], "d:1");
    }
}
