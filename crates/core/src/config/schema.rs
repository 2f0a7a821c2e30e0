//! The typed configuration schema: every section of `config.toml`, every key optional, each
//! default documented where it is defined.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use super::budget::{BudgetConfig, Price, TokenCap, Usd};
use super::values::{ActiveHours, ByteSize, Duration, Secret};

/// The whole configuration, read once at start-up and passed down as an immutable value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// How the assistant thinks: model, context budget, tool rounds.
    pub agent: AgentConfig,
    /// Connection settings of each model provider.
    pub providers: ProvidersConfig,
    /// The background heartbeat that works `HEARTBEAT.md`.
    pub heartbeat: HeartbeatConfig,
    /// The markdown workspace and its search index.
    pub memory: MemoryConfig,
    /// The daemon's HTTP API.
    pub server: ServerConfig,
    /// The Telegram gateway.
    pub telegram: TelegramConfig,
    /// What tools may touch.
    pub sandbox: SandboxConfig,
    /// Scheduled jobs.
    pub jobs: Vec<JobConfig>,
    /// Other Model Context Protocol servers whose tools the agent may call.
    pub mcp: McpConfig,
    /// Spend caps for background work, and model prices.
    pub budget: BudgetConfig,
}

/// `[agent]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentConfig {
    /// Model used when none is named, as `provider/model` or an alias. Default: the built-in model.
    pub default_model: String,
    /// Tokens the model may see at once. Default 128000 (local models use their own, smaller one).
    pub context_window: u32,
    /// Tokens kept free for the answer. Default 8000.
    pub reserve_tokens: u32,
    /// Most tool-call rounds in one turn. Default 25.
    pub max_tool_rounds: u32,
    /// Tools that ask the owner before they run. Default: `["bash"]`.
    pub require_approval: Vec<String>,
    /// Short names for models, added to the built-in aliases (`opus`, `sonnet`, …).
    pub aliases: BTreeMap<String, String>,
    /// Once a conversation has read untrusted content (a fetched page, search results, a file it
    /// did not write, a stranger's message), writes to `protected_paths`, `bash`, and `web_fetch`
    /// calls carrying data to a new host need the owner's approval; with nobody to ask they are
    /// refused. Default `true`.
    pub guard_after_untrusted: bool,
    /// Workspace files (`AGENTS.md`) and folders (`skills/`, trailing slash) that shape future
    /// sessions, guarded by `guard_after_untrusted`; any letter case matches. Default: the context
    /// files, `skills/` and `tools/` ([`DEFAULT_PROTECTED_PATHS`]).
    pub protected_paths: Vec<String>,
    /// Active recall: before each of your turns, memory is searched with your message and the
    /// notes that bear on it are given to the model with it. `auto` (default) does this for
    /// models that cannot call `memory_search` themselves (like the built-in one); `on` for every
    /// model; `off` never.
    pub recall: RecallMode,
}

/// `agent.recall`
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecallMode {
    /// For models without tool support.
    #[default]
    Auto,
    /// For every model.
    On,
    /// Never.
    Off,
}

impl RecallMode {
    /// Whether a model that can (or cannot) call tools gets recalled notes.
    pub fn applies(self, model_supports_tools: bool) -> bool {
        match self {
            Self::Auto => !model_supports_tools,
            Self::On => true,
            Self::Off => false,
        }
    }
}

/// The workspace paths `agent.protected_paths` guards by default: every file loaded into the
/// system prompt, and the skills and tools folders.
pub const DEFAULT_PROTECTED_PATHS: &[&str] = &[
    "AGENTS.md",
    "SOUL.md",
    "IDENTITY.md",
    "TOOLS.md",
    "USER.md",
    "HEARTBEAT.md",
    "MEMORY.md",
    "BOOTSTRAP.md",
    "skills/",
    "tools/",
];

/// The model a fresh configuration uses when nothing better is found: runs inside the binary.
pub const BUILTIN_MODEL: &str = "local/smollm2-135m";

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            default_model: BUILTIN_MODEL.to_owned(),
            context_window: 128_000,
            reserve_tokens: 8_000,
            max_tool_rounds: 25,
            require_approval: vec!["bash".to_owned()],
            aliases: BTreeMap::new(),
            guard_after_untrusted: true,
            recall: RecallMode::Auto,
            protected_paths: DEFAULT_PROTECTED_PATHS
                .iter()
                .map(|path| (*path).to_owned())
                .collect(),
        }
    }
}

/// `[providers.*]`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProvidersConfig {
    /// `[providers.anthropic]`
    pub anthropic: ApiProviderConfig,
    /// `[providers.openai]`
    pub openai: ApiProviderConfig,
    /// `[providers.ollama]`
    pub ollama: OllamaConfig,
    /// `[providers.claude_cli]`
    pub claude_cli: ClaudeCliConfig,
    /// `[providers.local]`
    pub local: LocalModelConfig,
}

/// A hosted API: a key and an optional base URL (any OpenAI-compatible server for `openai`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiProviderConfig {
    /// API key; usually `"${ANTHROPIC_API_KEY}"` or `"${OPENAI_API_KEY}"`.
    pub api_key: Option<Secret>,
    /// Endpoint override. Default: the provider's public API.
    pub base_url: Option<String>,
}

/// `[providers.ollama]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OllamaConfig {
    /// Where Ollama listens. Default `http://localhost:11434`.
    pub endpoint: String,
}

impl Default for OllamaConfig {
    fn default() -> Self {
        Self {
            endpoint: "http://localhost:11434".to_owned(),
        }
    }
}

/// `[providers.claude_cli]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClaudeCliConfig {
    /// The `claude` executable, by name on PATH or by path. Default `claude`.
    pub command: String,
}

impl Default for ClaudeCliConfig {
    fn default() -> Self {
        Self {
            command: "claude".to_owned(),
        }
    }
}

/// `[providers.local]`: GGUF chat models run inside the binary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LocalModelConfig {
    /// A model name under `models/` or a path to a `.gguf` file. Default `smollm2-135m`.
    pub model: String,
    /// CPU threads. Default: the number of physical cores.
    pub threads: Option<u32>,
    /// Context size in tokens. Default: the model's own, capped at 8192.
    pub context_size: Option<u32>,
    /// How long the daemon keeps an idle model loaded (in its model process, which then ends).
    /// Default 5m.
    pub keep_alive: Duration,
}

impl Default for LocalModelConfig {
    fn default() -> Self {
        Self {
            model: "smollm2-135m".to_owned(),
            threads: None,
            context_size: None,
            keep_alive: Duration::from_minutes(5),
        }
    }
}

/// `[heartbeat]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HeartbeatConfig {
    /// Whether the daemon runs the heartbeat. Default true.
    pub enabled: bool,
    /// Time between runs. Default 30m.
    pub interval: Duration,
    /// Daily window in which runs happen; overnight windows allowed. Default: any hour.
    pub active_hours: Option<ActiveHours>,
    /// IANA time zone for `active_hours`, e.g. `Europe/Paris`. Default: the system's.
    pub timezone: Option<String>,
    /// The model heartbeat turns use (`provider/model`). Default: `agent.default_model`.
    pub model: Option<String>,
    /// A shell command run (under the `[sandbox]` policy) before the model is called: exit 0,
    /// or JSON `{"work": true, "context": "…"}` on stdout, means there is work. Default none.
    pub precheck: Option<String>,
    /// A script tool (`tools/NAME.js`) run as the precheck instead of a command.
    pub precheck_script: Option<String>,
    /// Longest a precheck may run. Default 30s.
    pub precheck_timeout: Duration,
    /// A cheap model (e.g. `local/…`) asked first whether the work needs the main model.
    pub triage: Option<String>,
}

impl Default for HeartbeatConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_minutes(30),
            active_hours: None,
            timezone: None,
            model: None,
            precheck: None,
            precheck_script: None,
            precheck_timeout: default_precheck_timeout(),
            triage: None,
        }
    }
}

/// How long a precheck may run unless configured: 30 s.
pub fn default_precheck_timeout() -> Duration {
    Duration::from_secs(30)
}

/// Where embeddings come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmbeddingProvider {
    /// The built-in engine, with `memory.embedding_model`.
    Local,
    /// OpenAI's embeddings endpoint (`providers.openai`).
    Openai,
    /// Ollama's embeddings endpoint (`providers.ollama`).
    Ollama,
    /// No vectors: keyword search only.
    None,
}

/// `[memory]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryConfig {
    /// The markdown workspace. Default: `workspace/` in the LocalGPT home.
    pub workspace: Option<String>,
    /// Embedding source. Default `local`.
    pub embedding: EmbeddingProvider,
    /// Embedding model: a name under `models/`, a GGUF path, or the remote model name.
    /// Default `all-minilm-l6-v2`.
    pub embedding_model: String,
    /// Target chunk size in tokens, capped at the embedding model's window. Default 400.
    pub chunk_tokens: u32,
    /// Tokens shared by neighbouring chunks. Default 80.
    pub chunk_overlap: u32,
    /// More folders to index besides the workspace. Default none.
    pub extra_paths: Vec<String>,
    /// Files larger than this are skipped. Default 4MB.
    pub max_file_size: ByteSize,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            workspace: None,
            embedding: EmbeddingProvider::Local,
            embedding_model: "all-minilm-l6-v2".to_owned(),
            chunk_tokens: 400,
            chunk_overlap: 80,
            extra_paths: Vec::new(),
            max_file_size: ByteSize(4 << 20),
        }
    }
}

/// `[server]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    /// Address to listen on. Default `127.0.0.1`; any other needs `auth_token`.
    pub bind: String,
    /// Port. Default 31327.
    pub port: u16,
    /// Bearer token for the API; required when `bind` is not loopback. An empty (or blank) token
    /// is no token.
    #[serde(deserialize_with = "blank_secret_is_none")]
    pub auth_token: Option<Secret>,
    /// Treat token-less requests from loopback as the owner. Default true.
    pub allow_local_unauthenticated: bool,
    /// How long a client may take to send a request's headers, and how long a kept-alive
    /// connection may sit idle before its next request; then it is closed. Default 10s.
    pub header_timeout: Duration,
    /// How long a client may take to send a request's body once its headers arrived. Default 30s.
    pub body_timeout: Duration,
    /// Most connections open at once. Beyond it, connections that have not yet sent a complete
    /// request are closed (oldest first) to make room; otherwise new ones wait. Default 256.
    pub max_connections: usize,
    /// Chats an hour one untrusted client address may start (`/api/chat`,
    /// `/v1/chat/completions` without the owner's identity). Default 5.
    pub untrusted_chats_per_source: usize,
    /// Chats an hour all untrusted clients together may start. Default 30.
    pub untrusted_chats_total: usize,
}

impl ServerConfig {
    /// The owner token, unless it is missing or blank.
    pub fn token(&self) -> Option<&Secret> {
        self.auth_token
            .as_ref()
            .filter(|token| !token.expose().trim().is_empty())
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1".to_owned(),
            port: 31327,
            auth_token: None,
            allow_local_unauthenticated: true,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 256,
            untrusted_chats_per_source: 5,
            untrusted_chats_total: 30,
        }
    }
}

/// `auth_token = ""` (or only spaces) reads as no token, so it cannot open a network bind.
fn blank_secret_is_none<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Secret>, D::Error> {
    let secret = Option::<Secret>::deserialize(deserializer)?;
    Ok(secret.filter(|token| !token.expose().trim().is_empty()))
}

/// `[telegram]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TelegramConfig {
    /// Bot token from @BotFather; the gateway is off without it.
    pub bot_token: Option<Secret>,
    /// Telegram user ids treated as the owner. Default none.
    pub owner_ids: Vec<i64>,
    /// The Bot API server (a self-hosted `telegram-bot-api` works too).
    pub api_url: String,
}

impl Default for TelegramConfig {
    fn default() -> Self {
        Self {
            bot_token: None,
            owner_ids: Vec::new(),
            api_url: "https://api.telegram.org".to_owned(),
        }
    }
}

/// How strictly tools are confined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SandboxLevel {
    /// Enforce what the OS supports and say loudly what it cannot.
    Auto,
    /// Refuse to run tools when the policy cannot be enforced.
    Strict,
    /// No OS sandbox.
    Off,
}

/// `[sandbox]`: the OS confinement of shell commands (`bash`, `localgpt sandbox run`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SandboxConfig {
    /// `auto` (enforce what the kernel supports, report the rest), `strict` (refuse to run a
    /// command whose policy cannot be fully enforced) or `off` (unconfined, environment still
    /// scrubbed). Default `auto`.
    pub level: SandboxLevel,
    /// Extra readable paths. Default none (the workspace and system folders always are).
    pub allow_read: Vec<String>,
    /// Extra writable paths. Default none (the workspace always is).
    pub allow_write: Vec<String>,
    /// Hosts commands may reach (needs the filtering proxy, not built yet). Default none.
    pub allow_net: Vec<String>,
    /// Extra environment variables passed to commands, by name (never keys, tokens or
    /// `LOCALGPT_*`). Default none.
    pub env: Vec<String>,
    /// Resource limits of each command.
    pub limits: SandboxLimits,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            level: SandboxLevel::Auto,
            allow_read: Vec::new(),
            allow_write: Vec::new(),
            allow_net: Vec::new(),
            env: Vec::new(),
            limits: SandboxLimits::default(),
        }
    }
}

/// `[sandbox.limits]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SandboxLimits {
    /// CPU seconds a command may use. Default 300.
    pub cpu_seconds: u64,
    /// Address space of each process, in MiB. Default 4096.
    pub memory_mb: u64,
    /// Processes a command may have at once. Default 256.
    pub processes: u64,
    /// Largest file a command may write, in MiB. Default 1024.
    pub file_size_mb: u64,
    /// Files a process may have open. Default 1024.
    pub open_files: u64,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        Self {
            cpu_seconds: 300,
            memory_mb: 4096,
            processes: 256,
            file_size_mb: 1024,
            open_files: 1024,
        }
    }
}

/// One `[[jobs]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobConfig {
    /// Unique name, used by `localgpt jobs run NAME`.
    pub name: String,
    /// Cron expression, e.g. `"0 8 * * *"`.
    pub schedule: String,
    /// What the job asks the agent.
    pub prompt: String,
    /// Tools the job may use. Default none.
    #[serde(default)]
    pub tools: Vec<String>,
    /// Model override for this job.
    #[serde(default)]
    pub model: Option<String>,
    /// Longest a run may take. Default 10m.
    #[serde(default = "default_job_timeout")]
    pub timeout: Duration,
    /// A shell command run (under the `[sandbox]` policy) before the model is called: exit 0,
    /// or JSON `{"work": true, "context": "…"}` on stdout, means there is work. Default none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precheck: Option<String>,
    /// A script tool (`tools/NAME.js`) run as the precheck instead of a command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precheck_script: Option<String>,
    /// Longest the precheck may run. Default 30s.
    #[serde(default = "default_precheck_timeout")]
    pub precheck_timeout: Duration,
    /// A cheap model (e.g. `local/…`) asked first whether the work needs the job's model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triage: Option<String>,
}

pub(super) fn default_job_timeout() -> Duration {
    Duration::from_minutes(10)
}

/// `[mcp]`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct McpConfig {
    /// `[[mcp.servers]]`: stdio servers, started when a turn that may use their tools begins;
    /// their tools are offered as `SERVER__TOOL`.
    pub servers: Vec<McpServerConfig>,
}

/// One `[[mcp.servers]]` entry: a Model Context Protocol server LocalGPT starts on stdio
/// (`command`) or reaches over Streamable HTTP (`url`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct McpServerConfig {
    /// Short name (letters, digits, `_`, `-`), the prefix of its tools: `SERVER__TOOL`.
    pub name: String,
    /// The program to start (stdio servers; empty for a `url` server).
    #[serde(default)]
    pub command: String,
    /// The server's URL (`http://` or `https://`), instead of `command`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Headers sent to a `url` server (values may use `${VAR}`, e.g. `Authorization =
    /// "Bearer ${GITHUB_TOKEN}"`); scrubbed from logs like every secret.
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Environment variables set for it (values may use `${VAR}`), on top of the scrubbed
    /// environment `bash` gets; it runs under the same `[sandbox]` policy. Default none.
    #[serde(default)]
    pub env: BTreeMap<String, Secret>,
    /// Longest a start or a tool call may take. Default 30s.
    #[serde(default = "default_mcp_timeout")]
    pub timeout: Duration,
}

pub(super) fn default_mcp_timeout() -> Duration {
    Duration::from_secs(30)
}
