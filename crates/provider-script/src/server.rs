//! The HTTP server: binds `127.0.0.1:0`, records every request, and answers each model request
//! with the next scripted turn in the wire format its path asks for.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

use crate::echo::{Echo, echo_text};
use crate::script::{Script, Turn};
use crate::wire::{self, Format, Frame};

/// A request the server received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// Headers, names in lower case.
    pub headers: BTreeMap<String, String>,
    /// The body as JSON (`Null` when empty or not JSON).
    pub body: Value,
    /// When it arrived.
    pub received_at: Instant,
}

impl RecordedRequest {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

#[derive(Default)]
struct Shared {
    turns: Mutex<VecDeque<Turn>>,
    requests: Mutex<Vec<RecordedRequest>>,
    disconnects: AtomicUsize,
    disconnected: Notify,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test that panicked while holding the lock leaves data that is still worth reading.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A model-provider server driven by a [`Script`]; stops when dropped.
pub struct ScriptedServer {
    address: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl ScriptedServer {
    /// Starts the server on a free loopback port.
    ///
    /// # Panics
    /// When no loopback port can be bound (see [`ScriptedServer::try_start`]).
    pub async fn start(script: impl Into<Script>) -> Self {
        match Self::try_start(script).await {
            Ok(server) => server,
            Err(error) => panic!("scripted provider server: cannot bind 127.0.0.1:0: {error}"),
        }
    }

    /// Starts the server on a free loopback port.
    pub async fn try_start(script: impl Into<Script>) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        lock(&shared.turns).extend(script.into().turns);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            // Without TCP_NODELAY small frames wait for delayed ACKs (about 40 ms each).
            let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            address,
            shared,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`, the base for Anthropic and Ollama (OpenAI clients add `/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The base URL followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base_url(), path.trim_start_matches('/'))
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// Number of requests received so far.
    pub fn request_count(&self) -> usize {
        lock(&self.shared.requests).len()
    }

    /// Appends a turn to the script.
    pub fn push(&self, turn: Turn) {
        lock(&self.shared.turns).push_back(turn);
    }

    /// Turns not yet consumed.
    pub fn remaining_turns(&self) -> usize {
        lock(&self.shared.turns).len()
    }

    /// How many streamed replies the client abandoned before they were complete.
    pub fn disconnects(&self) -> usize {
        self.shared.disconnects.load(Ordering::SeqCst)
    }

    /// Waits until a client has abandoned a streamed reply; `false` on timeout.
    pub async fn wait_for_disconnect(&self, timeout: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.shared.disconnected.notified();
                if self.disconnects() > 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 64 << 20)
        .await
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    let path = parts.uri.path().to_owned();
    let request_number = {
        let mut requests = lock(&shared.requests);
        requests.push(RecordedRequest {
            method: parts.method.to_string(),
            path: path.clone(),
            headers,
            body: body.clone(),
            received_at: Instant::now(),
        });
        requests.len()
    };
    let format = match (&parts.method, path.as_str()) {
        (&Method::GET, "/api/tags") => {
            return json_response(
                StatusCode::OK,
                &json!({"models": [{"name": "scripted:latest", "model": "scripted:latest"}]}),
            );
        }
        (&Method::POST, "/v1/messages") => Format::Anthropic,
        (&Method::POST, "/v1/chat/completions" | "/chat/completions") => Format::OpenAi,
        (&Method::POST, "/api/chat") => Format::Ollama,
        _ => {
            let message = format!("scripted provider: no route for {} {path}", parts.method);
            return json_response(StatusCode::NOT_FOUND, &json!({"error": message}));
        }
    };
    let Some(turn) = lock(&shared.turns).pop_front() else {
        let message = format!("scripted provider: script exhausted at request {request_number}");
        return json_response(
            StatusCode::BAD_REQUEST,
            &wire::error_body(format, 400, Some(&message)),
        );
    };
    let mut response = match turn.echo {
        Some(shape) => echo_response(format, &turn, &parts, shape),
        None => answer(&shared, format, &turn, &body, request_number),
    };
    for (name, value) in &turn.headers {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// An error answer echoing the request's credentials and URL.
fn echo_response(
    format: Format,
    turn: &Turn,
    parts: &axum::http::request::Parts,
    shape: Echo,
) -> Response {
    let status = StatusCode::from_u16(turn.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let text = echo_text(parts);
    match shape {
        Echo::Json => json_response(status, &wire::error_body(format, turn.status, Some(&text))),
        Echo::Plain => (status, text).into_response(),
    }
}

fn answer(
    shared: &Arc<Shared>,
    format: Format,
    turn: &Turn,
    body: &Value,
    request_number: usize,
) -> Response {
    if turn.status != 200 {
        let status = StatusCode::from_u16(turn.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if let Some(body) = &turn.plain_body {
            return (status, body.clone()).into_response();
        }
        let error = wire::error_body(format, turn.status, turn.error_message.as_deref());
        return json_response(status, &error);
    }
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("scripted");
    let streaming = body.get("stream").and_then(Value::as_bool);
    let (frames, content_type) = match format {
        Format::Anthropic => (
            wire::anthropic(turn, model, request_number),
            "text/event-stream",
        ),
        Format::OpenAi if streaming != Some(true) => {
            return json_response(
                StatusCode::OK,
                &wire::openai_whole(turn, model, request_number),
            );
        }
        Format::OpenAi => {
            let usage = body
                .pointer("/stream_options/include_usage")
                .and_then(Value::as_bool);
            (
                wire::openai(turn, model, request_number, usage == Some(true)),
                "text/event-stream",
            )
        }
        // Ollama streams unless told not to.
        Format::Ollama if streaming == Some(false) => {
            return json_response(
                StatusCode::OK,
                &wire::ollama_whole(turn, model, request_number),
            );
        }
        Format::Ollama => (
            wire::ollama(turn, model, request_number),
            "application/x-ndjson",
        ),
    };
    let (sender, receiver) = mpsc::channel(1);
    tokio::spawn(send_frames(Arc::clone(shared), frames, turn.delay, sender));
    let mut response = Body::from_stream(FrameStream(receiver)).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

type Chunk = Result<Bytes, std::io::Error>;

async fn send_frames(
    shared: Arc<Shared>,
    frames: Vec<Frame>,
    delay: Duration,
    sender: mpsc::Sender<Chunk>,
) {
    let gone = || {
        shared.disconnects.fetch_add(1, Ordering::SeqCst);
        shared.disconnected.notify_waiters();
    };
    for frame in frames {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        match frame {
            Frame::Data(data) => {
                if sender.send(Ok(Bytes::from(data))).await.is_err() {
                    return gone();
                }
            }
            Frame::Abort => {
                // Let what was sent reach the client before the connection is cut.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _ = sender
                    .send(Err(std::io::Error::other("scripted truncation")))
                    .await;
                return;
            }
            Frame::Hang(keep_alive) => loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                if sender
                    .send(Ok(Bytes::from(keep_alive.clone())))
                    .await
                    .is_err()
                {
                    return gone();
                }
            },
        }
    }
}

/// The receiving end of [`send_frames`] as a body stream.
struct FrameStream(mpsc::Receiver<Chunk>);

impl futures_core::Stream for FrameStream {
    type Item = Chunk;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Chunk>> {
        self.0.poll_recv(cx)
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
