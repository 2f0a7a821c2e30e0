//! A stand-in for Telegram's Bot API on loopback, for testing the gateway: tests queue incoming
//! messages and button presses; `getUpdates` hands them out the way Telegram does (long polling,
//! `offset` confirms what was handled); every call is recorded, and all but `getUpdates` are
//! answered `ok` at once. It can be told to refuse a wrong token.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Json;
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::Notify;

/// A call the gateway made (other than `getUpdates`).
#[derive(Debug, Clone)]
pub struct BotCall {
    /// The token in the URL.
    pub token: String,
    /// `sendMessage`, `editMessageText`, …
    pub method: String,
    /// The JSON body.
    pub body: Value,
}

#[derive(Default)]
struct Shared {
    /// When set, calls with another token are refused like Telegram does (401).
    token: Option<String>,
    pending: VecDeque<Value>,
    next_update: i64,
    next_message: i64,
    calls: Vec<BotCall>,
}

/// The running stand-in.
#[derive(Clone)]
pub struct FakeTelegram {
    shared: Arc<Mutex<Shared>>,
    arrived: Arc<Notify>,
    url: String,
}

type AppState = (Arc<Mutex<Shared>>, Arc<Notify>);

impl FakeTelegram {
    /// Starts on a free loopback port.
    pub async fn start() -> std::io::Result<Self> {
        let shared = Arc::new(Mutex::new(Shared {
            next_update: 1,
            next_message: 1000,
            ..Shared::default()
        }));
        let arrived = Arc::new(Notify::new());
        let app = Router::new()
            .route("/{bot}/{method}", post(handle))
            .with_state((Arc::clone(&shared), Arc::clone(&arrived)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            shared,
            arrived,
            url,
        })
    }

    /// Refuses calls that do not carry `token` (HTTP 401, as Telegram answers a revoked token).
    pub fn require_token(&self, token: &str) {
        self.lock().token = Some(token.to_owned());
    }

    /// How many times `method` was called.
    pub fn count(&self, method: &str) -> usize {
        self.lock()
            .calls
            .iter()
            .filter(|call| call.method == method)
            .count()
    }

    /// The API address (`telegram.api_url`).
    pub fn url(&self) -> &str {
        &self.url
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        lock(&self.shared)
    }

    fn queue(&self, update: impl FnOnce(i64, i64) -> Value) {
        {
            let mut shared = self.lock();
            let (id, message) = (shared.next_update, shared.next_message);
            shared.next_update += 1;
            shared.next_message += 1;
            shared.pending.push_back(update(id, message));
        }
        self.arrived.notify_waiters();
    }

    /// `user` writes `text` in their private chat with the bot.
    pub fn send_text(&self, user: i64, name: &str, text: &str) {
        self.queue(|id, message| {
            json!({
                "update_id": id,
                "message": {
                    "message_id": message,
                    "from": {"id": user, "is_bot": false, "first_name": name},
                    "chat": {"id": user, "type": "private"},
                    "date": 0,
                    "text": text,
                },
            })
        });
    }

    /// `user` writes `text` in `chat` (e.g. `{"id": -100, "type": "group"}`), with `extra` fields
    /// merged into the message (e.g. `forward_origin`), for group and forwarded messages.
    pub fn send_in(&self, user: i64, name: &str, chat: Value, text: &str, extra: Value) {
        self.queue(|id, message| {
            let mut body = json!({
                "message_id": message,
                "from": {"id": user, "is_bot": false, "first_name": name},
                "chat": chat,
                "date": 0,
                "text": text,
            });
            if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
                body.extend(extra);
            }
            json!({"update_id": id, "message": body})
        });
    }

    /// `user` presses the inline button with `data` under message `message` of their chat.
    pub fn press_button(&self, user: i64, message: i64, data: &str) {
        self.queue(|id, _| {
            json!({
                "update_id": id,
                "callback_query": {
                    "id": format!("cb{id}"),
                    "from": {"id": user, "is_bot": false, "first_name": "Owner"},
                    "message": {
                        "message_id": message,
                        "chat": {"id": user, "type": "private"},
                        "date": 0,
                        "text": "(the approval question)",
                    },
                    "data": data,
                },
            })
        });
    }

    /// Every call so far, oldest first.
    pub fn calls(&self) -> Vec<BotCall> {
        self.lock().calls.clone()
    }

    /// The texts sent to `chat` with `sendMessage`, oldest first.
    pub fn messages_to(&self, chat: i64) -> Vec<(i64, Value)> {
        self.lock()
            .calls
            .iter()
            .filter(|call| call.method == "sendMessage" && call.body["chat_id"] == chat)
            .map(|call| {
                (
                    call.body["message_id_sent"].as_i64().unwrap_or_default(),
                    call.body.clone(),
                )
            })
            .collect()
    }

    /// Waits until a `sendMessage` to `chat` whose text contains `needle` was made, up to
    /// `timeout`; returns its body (with `message_id_sent`, the id it was given).
    pub async fn wait_for_message(
        &self,
        chat: i64,
        needle: &str,
        timeout: Duration,
    ) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let found = self
                .messages_to(chat)
                .into_iter()
                .map(|(_, body)| body)
                .find(|body| {
                    body["text"]
                        .as_str()
                        .is_some_and(|text| text.contains(needle))
                });
            if found.is_some() {
                return found;
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

async fn handle(
    State((shared, arrived)): State<AppState>,
    Path((bot, method)): Path<(String, String)>,
    body: String,
) -> (StatusCode, Json<Value>) {
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let token = bot.strip_prefix("bot").unwrap_or(&bot).to_owned();
    let call = {
        let mut shared = lock(&shared);
        let refused = shared.token.as_ref().is_some_and(|wanted| *wanted != token);
        shared.calls.push(BotCall {
            token,
            method: method.clone(),
            body: body.clone(),
        });
        if refused {
            return (
                StatusCode::UNAUTHORIZED,
                Json(json!({"ok": false, "error_code": 401, "description": "Unauthorized"})),
            );
        }
        shared.calls.len() - 1
    };
    if method == "getUpdates" {
        let offset = body["offset"].as_i64().unwrap_or(0);
        let wait =
            Duration::from_secs(body["timeout"].as_u64().unwrap_or(0)).min(Duration::from_secs(1));
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = arrived.notified();
            let updates: Vec<Value> = {
                let mut shared = lock(&shared);
                // Like Telegram: asking from `offset` confirms (forgets) every update before it.
                shared
                    .pending
                    .retain(|update| update["update_id"].as_i64().unwrap_or(0) >= offset);
                shared.pending.iter().cloned().collect()
            };
            if !updates.is_empty() || tokio::time::Instant::now() >= deadline {
                return (StatusCode::OK, Json(json!({"ok": true, "result": updates})));
            }
            let _ = tokio::time::timeout_at(deadline, notified).await;
        }
    }
    let mut shared = lock(&shared);
    let message_id = shared.next_message;
    shared.next_message += 1;
    let result = if method == "sendMessage" {
        shared.calls[call].body["message_id_sent"] = json!(message_id);
        json!({"message_id": message_id, "chat": {"id": body["chat_id"]}, "date": 0})
    } else {
        json!(true)
    };
    (StatusCode::OK, Json(json!({"ok": true, "result": result})))
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
