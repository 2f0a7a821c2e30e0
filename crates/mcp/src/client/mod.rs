//! LocalGPT as an MCP client: the servers of `[[mcp.servers]]` are started on stdio when a turn
//! that may use their tools is built (or by `localgpt mcp list`), and each of their tools is
//! offered to the agent as `SERVER__TOOL` ([`tool::RemoteTool`]).
//!
//! The children and their pipes live on one small runtime of their own ([`runtime`]), shared by
//! every agent of the process, so the daemon keeps one process per server and a call made from
//! any turn's runtime is bounded by the server's timeout. A server runs in the workspace under
//! the same `[sandbox]` policy as `bash` (files, network, limits, scrubbed environment), plus its
//! configured `env`.

pub mod connection;
pub mod http;
pub mod result;
pub mod server;
pub mod source;
pub mod tool;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use localgpt_core::config::McpServerConfig;
use localgpt_sandbox::Policy;
use serde_json::Value;

pub use connection::Launch;
pub use server::ServerClient;
pub use source::McpTools;
pub use tool::{RemoteTool, exposed_name, valid_server_name};

/// Why a server or one of its tools failed. The text reaches the model, so it says what happened.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// The server could not be started or did not finish the handshake.
    #[error("could not start the server: {0}")]
    Start(String),
    /// The server process ended.
    #[error("the server crashed ({0}); it is restarted on the next call")]
    Crashed(String),
    /// No answer in time.
    #[error(
        "no answer within {}s; the call was abandoned and the server is restarted on the next call",
        .0.as_secs()
    )]
    Timeout(Duration),
    /// The server answered with a JSON-RPC error.
    #[error("the server refused the request: {0}")]
    Remote(String),
    /// The tool ran and reported a failure.
    #[error("the tool failed: {0}")]
    ToolFailed(String),
    /// The server broke the protocol.
    #[error("the server broke the protocol: {0}")]
    Protocol(String),
    /// The client runtime could not start.
    #[error("the MCP client could not start: {0}")]
    Runtime(String),
}

/// The runtime that owns every server process and its pipes. Its threads block SIGPIPE, so a
/// write to a server that just died fails with an error instead of killing LocalGPT (the CLI
/// restores the default SIGPIPE action to end quietly in pipelines); children start with an
/// empty signal mask, as the standard library resets it.
pub fn runtime() -> Result<&'static tokio::runtime::Runtime, ClientError> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("mcp-client")
                .on_thread_start(block_sigpipe)
                .enable_all()
                .build()
                .map_err(|error| error.to_string())
        })
        .as_ref()
        .map_err(|error| ClientError::Runtime(error.clone()))
}

/// Blocks SIGPIPE on the calling thread.
fn block_sigpipe() {
    #[cfg(unix)]
    // SAFETY: `set` is a local signal set initialised by `sigemptyset` before use, and
    // `pthread_sigmask` only changes the calling thread's mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// What LocalGPT says of itself in `initialize`, on every transport.
fn initialize_params() -> serde_json::Value {
    serde_json::json!({
        "protocolVersion": crate::protocol::LATEST_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "localgpt", "version": env!("CARGO_PKG_VERSION")},
    })
}

/// The result of a JSON-RPC answer, or the server's error message as [`ClientError::Remote`].
fn answer_result(message: &serde_json::Value) -> Result<serde_json::Value, ClientError> {
    if let Some(error) = message.get("error") {
        let text = error
            .get("message")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("unknown error");
        return Err(ClientError::Remote(text.to_owned()));
    }
    Ok(message
        .get("result")
        .cloned()
        .unwrap_or(serde_json::Value::Null))
}

/// A configured server and what its last listing offered.
struct Registered {
    client: Arc<ServerClient>,
    listing: Option<Vec<Value>>,
}

/// The servers of this process by name (one process each, shared by every agent).
fn registry() -> &'static Mutex<BTreeMap<String, Registered>> {
    static REGISTRY: OnceLock<Mutex<BTreeMap<String, Registered>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(BTreeMap::new()))
}

/// The client of `config`, running under `policy` (the one already made when its settings did
/// not change).
pub fn client_for(
    config: &McpServerConfig,
    workspace: &Path,
    policy: Option<&Policy>,
) -> Arc<ServerClient> {
    let launch = Launch {
        command: config.command.clone(),
        args: config.args.clone(),
        env: config
            .env
            .iter()
            .map(|(name, value)| (name.clone(), value.expose().to_owned()))
            .collect(),
        policy: policy.cloned(),
        url: config.url.clone(),
        headers: config
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), value.expose().to_owned()))
            .collect(),
    };
    let timeout = config.timeout.get();
    let mut servers = registry()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(known) = servers.get(&config.name)
        && known.client.same_as(&launch, workspace, timeout)
    {
        return Arc::clone(&known.client);
    }
    let client = Arc::new(ServerClient::new(
        config.name.clone(),
        launch,
        workspace.to_owned(),
        timeout,
    ));
    servers.insert(
        config.name.clone(),
        Registered {
            client: Arc::clone(&client),
            listing: None,
        },
    );
    client
}

/// What one server offers: its tools, or why it offers none.
#[derive(Debug)]
pub struct ServerTools {
    /// The configured name.
    pub name: String,
    /// Its tools, or the error that kept it from listing them.
    pub tools: Result<Vec<RemoteTool>, ClientError>,
}

/// Starts every server of `configs` that is not running yet (all at once, each within its
/// timeout) and returns their tools. Blocks the calling thread; fine to call from async code on
/// any runtime, because the work runs on [`runtime`]. Servers with invalid names are reported,
/// not started.
pub fn discover(
    configs: &[McpServerConfig],
    workspace: &Path,
    policy: Option<&Policy>,
) -> Vec<ServerTools> {
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(error) => {
            return configs
                .iter()
                .map(|config| ServerTools {
                    name: config.name.clone(),
                    tools: Err(error.clone()),
                })
                .collect();
        }
    };
    let (sender, receiver) = std::sync::mpsc::channel();
    let mut pending = 0;
    let mut found = Vec::new();
    for (position, config) in configs.iter().enumerate() {
        if !valid_server_name(&config.name) {
            found.push((
                position,
                ServerTools {
                    name: config.name.clone(),
                    tools: Err(ClientError::Start(
                        "the name must be letters, digits, `_` or `-` (at most 32, no `__`)"
                            .to_owned(),
                    )),
                },
            ));
            continue;
        }
        let client = client_for(config, workspace, policy);
        let cached = registry()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&config.name)
            .and_then(|known| known.listing.clone());
        let sender = sender.clone();
        pending += 1;
        runtime.spawn(async move {
            let listing = match cached {
                Some(listing) => Ok(listing),
                None => client.list_tools().await,
            };
            let _ = sender.send((position, client, listing));
        });
    }
    drop(sender);
    for _ in 0..pending {
        let Ok((position, client, listing)) = receiver.recv() else {
            break;
        };
        if let Ok(listing) = &listing
            && let Some(known) = registry()
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get_mut(&client.name)
        {
            known.listing = Some(listing.clone());
        }
        let name = client.name.clone();
        let tools = listing.map(|listing| {
            let mut seen = std::collections::BTreeSet::new();
            listing
                .iter()
                .filter_map(|listed| RemoteTool::from_listing(Arc::clone(&client), listed))
                .filter(|tool| seen.insert(localgpt_agent::tools::Tool::spec(tool).name))
                .collect()
        });
        found.push((position, ServerTools { name, tools }));
    }
    found.sort_by_key(|(position, _)| *position);
    found.into_iter().map(|(_, tools)| tools).collect()
}
