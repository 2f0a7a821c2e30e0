//! A connection to one MCP server — a stdio child process (newline-delimited JSON-RPC over its
//! standard input and output) or a Streamable HTTP endpoint ([`super::http`]). Requests go one at a time; an answer is matched by id, so a late
//! answer to a request that timed out is skipped, and requests the server sends us (`ping`,
//! `roots/list`, sampling) are answered with an empty result or "not supported".

use std::collections::BTreeMap;
use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use localgpt_sandbox::{Confinement, Policy};

use super::ClientError;
use super::http::HttpConnection;
use crate::protocol::METHOD_NOT_FOUND;

/// Longest answer line accepted from a server; a longer one is refused (a line that never ends
/// is cut off by the call's timeout, which stops the server).
const MAX_LINE: usize = 8 * 1024 * 1024;

/// What starts (or reaches) a server.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The program (stdio servers).
    pub command: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Variables set on top of the scrubbed environment.
    pub env: BTreeMap<String, String>,
    /// The `[sandbox]` policy the server runs under, as `bash` does (`None`: unconfined, with
    /// `bash`'s scrubbed environment only).
    pub policy: Option<Policy>,
    /// The server's URL (HTTP servers; then nothing is started).
    pub url: Option<String>,
    /// Headers sent with every HTTP request.
    pub headers: BTreeMap<String, String>,
}

impl PartialEq for Launch {
    fn eq(&self, other: &Self) -> bool {
        self.command == other.command
            && self.args == other.args
            && self.env == other.env
            && self.url == other.url
            && self.headers == other.headers
            && format!("{:?}", self.policy) == format!("{:?}", other.policy)
    }
}

/// A started, initialised server.
#[derive(Debug)]
pub enum Connection {
    /// A child process on stdio.
    Stdio(Box<StdioConnection>),
    /// An HTTP endpoint.
    Http(Box<HttpConnection>),
}

impl Connection {
    /// Starts the server of `launch` (or prepares its HTTP session).
    pub fn spawn(launch: &Launch, workspace: &std::path::Path) -> Result<Self, ClientError> {
        match (&launch.url, launch.command.is_empty()) {
            (Some(_), false) => Err(ClientError::Start(
                "set either `command` (a program on stdio) or `url` (HTTP), not both".to_owned(),
            )),
            (None, true) => Err(ClientError::Start(
                "set `command` (a program on stdio) or `url` (HTTP)".to_owned(),
            )),
            (Some(url), true) => Ok(Self::Http(Box::new(HttpConnection::new(
                url,
                &launch.headers,
            )?))),
            (None, false) => Ok(Self::Stdio(Box::new(StdioConnection::spawn(
                launch, workspace,
            )?))),
        }
    }

    /// The `initialize` handshake.
    pub async fn initialize(&mut self) -> Result<(), ClientError> {
        match self {
            Self::Stdio(stdio) => stdio.initialize().await.map(|_| ()),
            Self::Http(http) => http.initialize().await.map(|_| ()),
        }
    }

    /// Sends one request and waits for its answer (the caller bounds the wait).
    pub async fn request(&mut self, method: &str, params: Value) -> Result<Value, ClientError> {
        match self {
            Self::Stdio(stdio) => stdio.request(method, params).await,
            Self::Http(http) => http.request(method, params).await,
        }
    }

    /// Every tool the server offers (following `nextCursor` pages, at most 50 of them).
    pub async fn list_tools(&mut self) -> Result<Vec<Value>, ClientError> {
        let mut tools = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..50 {
            let params = match &cursor {
                Some(cursor) => json!({"cursor": cursor}),
                None => json!({}),
            };
            let result = self.request("tools/list", params).await?;
            if let Some(page) = result.get("tools").and_then(Value::as_array) {
                tools.extend(page.iter().cloned());
            }
            cursor = result
                .get("nextCursor")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if cursor.is_none() {
                break;
            }
        }
        Ok(tools)
    }

    /// Whether it can take another request: the process runs and its stream is whole (an HTTP
    /// session always can; a failed request reports itself).
    pub fn is_usable(&mut self) -> bool {
        match self {
            Self::Stdio(stdio) => stdio.is_running() && !stdio.broken,
            Self::Http(_) => true,
        }
    }

    /// Stops the server (ends the HTTP session).
    pub async fn shutdown(self) {
        match self {
            Self::Stdio(stdio) => stdio.shutdown().await,
            Self::Http(http) => (*http).shutdown().await,
        }
    }
}

/// A started stdio server.
#[derive(Debug)]
pub struct StdioConnection {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    next_id: u64,
    /// A request was cut off halfway through writing: the stream cannot be trusted any more.
    pub broken: bool,
    /// The server's sandbox (its private temporary folder, its pids cgroup), kept while it runs.
    _confinement: Option<Confinement>,
}

impl StdioConnection {
    /// Starts the program in `workspace` under the launch's sandbox policy (with its scrubbed
    /// environment), plus `launch.env`.
    pub fn spawn(launch: &Launch, workspace: &std::path::Path) -> Result<Self, ClientError> {
        let mut confinement = match &launch.policy {
            Some(policy) => Some(
                Confinement::prepare(policy)
                    .map_err(|error| ClientError::Start(format!("sandbox: {error}")))?,
            ),
            None => None,
        };
        let mut command = match confinement.as_ref() {
            Some(confinement) => Command::from(confinement.command(&launch.command)),
            None => Command::new(&launch.command),
        };
        command
            .args(&launch.args)
            .current_dir(workspace)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        match confinement.as_mut() {
            Some(confinement) => confinement.apply(command.as_std_mut()),
            None => {
                command
                    .env_clear()
                    .envs(localgpt_agent::tools::bash::safe_environment());
            }
        }
        command.envs(&launch.env);
        let mut child = command
            .spawn()
            .map_err(|error| ClientError::Start(format!("`{}`: {error}", launch.command)))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(ClientError::Start("no pipes to the server".to_owned()));
        };
        Ok(Self {
            child,
            stdin,
            stdout: BufReader::new(stdout).lines(),
            next_id: 1,
            broken: false,
            _confinement: confinement,
        })
    }

    /// The `initialize` handshake; returns the server's own name, when it gives one.
    pub async fn initialize(&mut self) -> Result<Option<String>, ClientError> {
        let result = self
            .request("initialize", super::initialize_params())
            .await?;
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await?;
        Ok(result
            .pointer("/serverInfo/name")
            .and_then(Value::as_str)
            .map(str::to_owned))
    }

    /// Sends one request and waits for its answer (the caller bounds the wait).
    pub async fn request(&mut self, method: &str, params: Value) -> Result<Value, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await?;
        loop {
            // `next_line` keeps a partly read line when a timeout drops this future.
            let line = match self.stdout.next_line().await {
                Ok(Some(line)) => line,
                Ok(None) | Err(_) => return Err(self.ended().await),
            };
            if line.len() > MAX_LINE {
                return Err(ClientError::Protocol(
                    "an answer longer than 8 MiB".to_owned(),
                ));
            }
            let Ok(message) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if message.get("method").is_some() {
                self.answer_server_request(&message).await?;
                continue;
            }
            if message.get("id").and_then(Value::as_u64) != Some(id) {
                continue;
            }
            return super::answer_result(&message);
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Stops the server.
    pub async fn shutdown(mut self) {
        let _ = self.child.kill().await;
    }

    async fn answer_server_request(&mut self, message: &Value) -> Result<(), ClientError> {
        let Some(id) = message.get("id").cloned() else {
            return Ok(()); // a notification: logs, progress, list changes
        };
        let answer = match message.get("method").and_then(Value::as_str) {
            Some("ping") => json!({"jsonrpc": "2.0", "id": id, "result": {}}),
            _ => json!({"jsonrpc": "2.0", "id": id,
                "error": {"code": METHOD_NOT_FOUND, "message": "not supported by LocalGPT"}}),
        };
        self.send(&answer).await
    }

    async fn send(&mut self, message: &Value) -> Result<(), ClientError> {
        let mut line = message.to_string();
        line.push('\n');
        self.broken = true;
        let written = async {
            self.stdin.write_all(line.as_bytes()).await?;
            self.stdin.flush().await
        }
        .await;
        if written.is_err() {
            return Err(self.ended().await);
        }
        self.broken = false;
        Ok(())
    }

    /// The error for a server whose pipes closed: how it exited, when it did.
    async fn ended(&mut self) -> ClientError {
        self.broken = true;
        let status =
            tokio::time::timeout(std::time::Duration::from_secs(1), self.child.wait()).await;
        ClientError::Crashed(match status {
            Ok(Ok(status)) => status.to_string(),
            _ => "closed its output".to_owned(),
        })
    }
}
