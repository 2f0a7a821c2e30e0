//! The network thread: one background thread with a small tokio runtime does every request to
//! the daemon, so the window never waits on the network. The window sends [`Request`]s; each
//! [`Reply`] is put on a channel and the window is woken to draw it (and only then). The owner
//! token goes only to the daemon's own address, in the `Authorization` header. Closing the chat
//! stream ([`Request::Stop`]) drops the connection, which stops the turn in the daemon.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::AbortHandle;

use crate::protocol::{ChatEvent, Reply, Request};
use crate::sse::SseParser;
use crate::{Connection, DesktopError};

/// Wakes the window after a reply was queued (`egui::Context::request_repaint`).
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// How long a plain request may take; streams have no overall limit (a turn may be long).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest plain answer read (a session, a file, an export).
const MAX_BODY: usize = 32 * 1024 * 1024;

/// The window's end: send requests, take replies.
pub struct Client {
    requests: UnboundedSender<Request>,
    replies: mpsc::Receiver<Reply>,
}

impl Client {
    /// Starts the network thread for `connection`; `wake` is called after each reply.
    pub fn start(connection: Connection, wake: Waker) -> Result<Self, DesktopError> {
        let (requests, inbox) = unbounded_channel();
        let (outbox, replies) = mpsc::channel();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            // The daemon is on this machine: no proxy may see the token or the conversation.
            .no_proxy()
            .build()
            .map_err(|error| DesktopError::Setup(error.to_string()))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| DesktopError::Setup(error.to_string()))?;
        let worker = Worker {
            http,
            base: connection.base_url.trim_end_matches('/').to_owned(),
            token: connection.token,
            outbox,
            wake,
        };
        std::thread::Builder::new()
            .name("localgpt-desktop-net".into())
            .spawn(move || runtime.block_on(worker.serve(inbox)))
            .map_err(|error| DesktopError::Setup(error.to_string()))?;
        Ok(Self { requests, replies })
    }

    /// Queues `request` (a closed network thread drops it; the window shows no reply).
    pub fn send(&self, request: Request) {
        let _ = self.requests.send(request);
    }

    /// Every reply that has arrived, without waiting.
    pub fn replies(&self) -> Vec<Reply> {
        self.replies.try_iter().collect()
    }
}

#[derive(Clone)]
struct Worker {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
    outbox: mpsc::Sender<Reply>,
    wake: Waker,
}

impl Worker {
    async fn serve(self, mut inbox: UnboundedReceiver<Request>) {
        let mut chat: Option<AbortHandle> = None;
        while let Some(request) = inbox.recv().await {
            match request {
                Request::Stop => {
                    if let Some(handle) = chat.take() {
                        handle.abort();
                        self.reply(Reply::ChatEnded {
                            stopped: true,
                            broken: None,
                        });
                    }
                }
                Request::Chat {
                    message,
                    session_id,
                } => {
                    if let Some(old) = chat.take() {
                        old.abort();
                    }
                    let worker = self.clone();
                    let task = tokio::spawn(async move { worker.chat(message, session_id).await });
                    chat = Some(task.abort_handle());
                }
                other => {
                    let worker = self.clone();
                    tokio::spawn(async move { worker.handle(other).await });
                }
            }
        }
    }

    fn reply(&self, reply: Reply) {
        if self.outbox.send(reply).is_ok() {
            (self.wake)();
        }
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let mut builder = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            builder = builder.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        builder
    }

    async fn handle(&self, request: Request) {
        let (what, result) = self.dispatch(request).await;
        match result {
            Ok(reply) => self.reply(reply),
            Err(message) => self.reply(Reply::Failed { what, message }),
        }
    }

    async fn dispatch(&self, request: Request) -> (&'static str, Result<Reply, String>) {
        match request {
            Request::Status => ("status", self.status().await),
            Request::Sessions => (
                "conversations",
                self.get("/api/sessions").await.map(Reply::Sessions),
            ),
            Request::OpenSession(id) => (
                "conversation",
                match plain_id(&id) {
                    Ok(id) => self.get(&format!("/api/sessions/{id}")).await,
                    Err(error) => Err(error),
                }
                .map(Reply::Session),
            ),
            Request::Answer { id, approve } => (
                "approval",
                match plain_id(&id) {
                    Ok(checked) => {
                        let path = format!("/api/approvals/{checked}");
                        self.call(Method::POST, &path, Some(json!({ "approve": approve })))
                            .await
                    }
                    Err(error) => Err(error),
                }
                .map(|_| Reply::Answered { id, approve }),
            ),
            Request::Rename { id, title } => (
                "rename",
                match plain_id(&id) {
                    Ok(id) => {
                        let path = format!("/api/sessions/{id}");
                        self.call(Method::PATCH, &path, Some(json!({ "title": title })))
                            .await
                    }
                    Err(error) => Err(error),
                }
                .map(|_| Reply::Changed),
            ),
            Request::Delete(id) => (
                "delete",
                match plain_id(&id) {
                    Ok(id) => {
                        self.call(Method::DELETE, &format!("/api/sessions/{id}"), None)
                            .await
                    }
                    Err(error) => Err(error),
                }
                .map(|_| Reply::Changed),
            ),
            Request::Export(id) => (
                "export",
                match plain_id(&id) {
                    Ok(checked) => self.text(&format!("/api/sessions/{checked}/export")).await,
                    Err(error) => Err(error),
                }
                .map(|markdown| Reply::Exported { id, markdown }),
            ),
            Request::Search { query, mode } => (
                "search",
                self.get(&format!(
                    "/api/memory/search?q={}&mode={}&limit=20",
                    segment(&query),
                    segment(&mode)
                ))
                .await
                .map(Reply::Hits),
            ),
            Request::OpenFile(path) => (
                "file",
                self.get(&format!("/api/memory/file?path={}", segment(&path)))
                    .await
                    .map(Reply::File),
            ),
            Request::Reindex => ("reindex", self.reindex().await),
            Request::Chat { .. } | Request::Stop => ("chat", Err("not a plain request".into())),
        }
    }

    async fn status(&self) -> Result<Reply, String> {
        let status = self.get("/api/status").await?;
        let approvals = self.get("/api/approvals").await.unwrap_or(Value::Null);
        let reports = self
            .get("/api/events?limit=10")
            .await
            .unwrap_or(Value::Null);
        let artifacts = self
            .get("/api/artifacts?limit=10")
            .await
            .unwrap_or(Value::Null);
        Ok(Reply::Status {
            status,
            approvals,
            reports,
            artifacts,
        })
    }

    async fn get(&self, path: &str) -> Result<Value, String> {
        self.call(Method::GET, path, None).await
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        let text = self.fetch(method, path, body).await?;
        serde_json::from_str(&text).map_err(|error| format!("the daemon's answer: {error}"))
    }

    async fn text(&self, path: &str) -> Result<String, String> {
        self.fetch(Method::GET, path, None).await
    }

    async fn fetch(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<String, String> {
        let mut builder = self.request(method, path).timeout(CALL_TIMEOUT);
        if let Some(body) = body {
            builder = builder
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let response = checked(builder.send().await.map_err(connection_error)?).await?;
        read_limited(response, MAX_BODY).await
    }

    async fn chat(&self, message: String, session_id: Option<String>) {
        let body = json!({ "message": message, "session_id": session_id });
        let outcome = self
            .stream("/api/chat", body, |name, data| {
                self.reply(Reply::Chat(ChatEvent { name, data }));
            })
            .await;
        self.reply(Reply::ChatEnded {
            stopped: false,
            broken: outcome.err(),
        });
    }

    async fn reindex(&self) -> Result<Reply, String> {
        let mut last: Option<Reply> = None;
        self.stream("/api/memory/reindex", json!({}), |name, data| {
            match name.as_str() {
                "progress" => self.reply(Reply::Progress(data)),
                "done" => last = Some(Reply::Reindexed(Ok(data))),
                "error" => {
                    let message = data["message"]
                        .as_str()
                        .unwrap_or("reindex failed")
                        .to_owned();
                    last = Some(Reply::Reindexed(Err(message)));
                }
                _ => {}
            }
        })
        .await?;
        last.ok_or_else(|| "the reindex stream ended early".to_owned())
    }

    /// POSTs `body` asking for server-sent events and hands each to `on_event` until the stream
    /// ends (after its `done` or `error`).
    async fn stream(
        &self,
        path: &str,
        body: Value,
        mut on_event: impl FnMut(String, Value),
    ) -> Result<(), String> {
        let response = self
            .request(Method::POST, path)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "text/event-stream")
            .body(body.to_string())
            .send()
            .await
            .map_err(connection_error)?;
        let mut response = checked(response).await?;
        let mut parser = SseParser::default();
        let mut finished = false;
        while let Some(chunk) = response.chunk().await.map_err(connection_error)? {
            let events = parser
                .push(&chunk)
                .ok_or_else(|| "the daemon sent an event too large to show".to_owned())?;
            for event in events {
                let data = serde_json::from_str(&event.data).unwrap_or(Value::String(event.data));
                finished |= matches!(event.event.as_str(), "done" | "error");
                on_event(event.event, data);
            }
            if finished {
                return Ok(());
            }
        }
        if finished {
            Ok(())
        } else {
            Err("the connection closed before the answer was complete".to_owned())
        }
    }
}

/// The response when it succeeded, else the daemon's `{error: {message}}` (or the status).
async fn checked(response: Response) -> Result<Response, String> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let text = read_limited(response, 64 * 1024).await.unwrap_or_default();
    let message = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|value| value["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("the daemon answered {status}"));
    Err(if status.as_u16() == 401 {
        format!("{message} (the daemon wants its token: `server.auth_token` in config.toml)")
    } else {
        message
    })
}

async fn read_limited(mut response: Response, limit: usize) -> Result<String, String> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(connection_error)? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > limit {
            return Err("the daemon's answer is too large".to_owned());
        }
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn connection_error(error: reqwest::Error) -> String {
    if error.is_timeout() {
        "the daemon did not answer in time".to_owned()
    } else if error.is_connect() {
        "cannot reach the daemon (is it running? `localgpt daemon start`)".to_owned()
    } else {
        // Without the URL: it is the daemon's address, nothing secret, but noise.
        error.without_url().to_string()
    }
}

/// A session or approval id as the daemon makes them (letters, digits, `-`, `_`); anything else (`..`, a
/// slash, a query) never reaches a URL.
pub fn plain_id(id: &str) -> Result<&str, String> {
    let valid = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_'));
    if valid {
        Ok(id)
    } else {
        Err("not an id the daemon makes".to_owned())
    }
}

/// `text` percent-encoded for one path segment or query value.
pub fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{plain_id, segment};

    #[test]
    fn only_plain_session_ids_reach_a_url() {
        for bad in ["..", ".", "a/b", "a?b", "a%2e", "", "x y", "\u{202e}x"] {
            assert!(plain_id(bad).is_err(), "{bad}");
        }
        assert_eq!(plain_id("ab12-cd_3"), Ok("ab12-cd_3"));
    }

    #[test]
    fn segments_cannot_add_path_parts_or_query_fields() {
        assert_eq!(segment("../x?y=1&z#w"), "..%2Fx%3Fy%3D1%26z%23w");
        assert_eq!(segment("caf\u{e9}"), "caf%C3%A9");
    }
}
