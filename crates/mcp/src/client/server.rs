//! One configured server over time: started on first need (a start may take the server's timeout
//! or [`START_TIMEOUT_FLOOR`], whichever is longer, since interpreters and `npx` start slowly),
//! every request bounded by the server's timeout, and restarted after a crash on the next call, waiting 1 s, 2 s, 4 s … (at
//! most [`MAX_BACKOFF`]) after repeated crashes so a broken server is not spawned in a loop.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::ClientError;
use super::connection::{Connection, Launch};

/// The least time a server is given to start and answer `initialize`.
pub const START_TIMEOUT_FLOOR: Duration = Duration::from_secs(30);

/// The longest wait between restarts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// A configured server and its connection, when one is running.
#[derive(Debug)]
pub struct ServerClient {
    /// The configured name.
    pub name: String,
    launch: Launch,
    workspace: PathBuf,
    timeout: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    connection: Option<Connection>,
    /// Crashes since the last call that worked.
    crashes: u32,
    last_crash: Option<Instant>,
}

impl State {
    fn backoff(&self) -> Duration {
        match self.crashes {
            0 => Duration::ZERO,
            n => Duration::from_secs(1u64 << (n - 1).min(6)).min(MAX_BACKOFF),
        }
    }
}

impl ServerClient {
    /// A server not started yet.
    pub fn new(name: String, launch: Launch, workspace: PathBuf, timeout: Duration) -> Self {
        Self {
            name,
            launch,
            workspace,
            timeout,
            state: Mutex::new(State::default()),
        }
    }

    /// Whether this client was made from the same settings.
    pub fn same_as(&self, launch: &Launch, workspace: &std::path::Path, timeout: Duration) -> bool {
        &self.launch == launch && self.workspace == workspace && self.timeout == timeout
    }

    /// The server's tools, starting it when it is not running.
    pub async fn list_tools(&self) -> Result<Vec<Value>, ClientError> {
        self.with_connection(|connection| Box::pin(connection.list_tools()))
            .await
    }

    /// Calls `tool` with `arguments`; the result's text, or the tool's own error as
    /// [`ClientError::ToolFailed`].
    pub async fn call_tool(&self, tool: &str, arguments: Value) -> Result<String, ClientError> {
        let params = json!({"name": tool, "arguments": arguments});
        let result = self
            .with_connection(move |connection| {
                Box::pin(async move { connection.request("tools/call", params).await })
            })
            .await?;
        super::result::tool_text(&result)
    }

    /// Runs `work` on a started connection within the timeout (a start, when one is needed, has
    /// its own budget), keeping the crash count. A connection that crashed, or whose request
    /// timed out, is dropped (which kills the process) and started afresh next time.
    async fn with_connection<T>(
        &self,
        work: impl for<'c> FnOnce(
            &'c mut Connection,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T, ClientError>> + Send + 'c>,
        >,
    ) -> Result<T, ClientError> {
        let Ok(mut state) = tokio::time::timeout(self.timeout, self.state.lock()).await else {
            return Err(ClientError::Timeout(self.timeout));
        };
        let running = match state.connection.take() {
            Some(mut running) => {
                if running.is_usable() {
                    Some(running)
                } else {
                    running.shutdown().await;
                    None
                }
            }
            None => None,
        };
        let mut connection = match running {
            Some(running) => running,
            None => {
                let budget = self.timeout.max(START_TIMEOUT_FLOOR);
                match tokio::time::timeout(budget, self.start(&mut state)).await {
                    Ok(started) => started?,
                    Err(_) => {
                        state.crashes += 1;
                        state.last_crash = Some(Instant::now());
                        return Err(ClientError::Start(format!(
                            "no answer to `initialize` within {}s",
                            budget.as_secs()
                        )));
                    }
                }
            }
        };
        let outcome = tokio::time::timeout(self.timeout, async {
            let result = work(&mut connection).await;
            (result, connection)
        })
        .await;
        match outcome {
            Ok((result, connection)) => {
                if matches!(result, Err(ClientError::Crashed(_))) {
                    state.crashes += 1;
                    state.last_crash = Some(Instant::now());
                } else {
                    state.crashes = 0;
                    state.connection = Some(connection);
                }
                result
            }
            Err(_) => Err(ClientError::Timeout(self.timeout)),
        }
    }

    /// Starts the server, first waiting out the backoff after repeated crashes.
    async fn start(&self, state: &mut State) -> Result<Connection, ClientError> {
        if let Some(crashed) = state.last_crash {
            let wait = state.backoff().saturating_sub(crashed.elapsed());
            if !wait.is_zero() {
                tracing::info!(server = %self.name, ?wait, "restarting a crashed MCP server");
                tokio::time::sleep(wait).await;
            }
        }
        let mut connection = Connection::spawn(&self.launch, &self.workspace)?;
        match connection.initialize().await {
            Ok(_) => Ok(connection),
            Err(error) => {
                state.crashes += 1;
                state.last_crash = Some(Instant::now());
                connection.shutdown().await;
                Err(ClientError::Start(error.to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let mut state = State::default();
        let waits: Vec<u64> = (0..10)
            .map(|crashes| {
                state.crashes = crashes;
                state.backoff().as_secs()
            })
            .collect();
        assert_eq!(waits, [0, 1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }
}
