//! The commented `config.toml` that `localgpt config init` writes: every section of the
//! configuration, each key shown with its default (commented out, so later defaults still apply).

/// The starter configuration text, with `default_model` set to the model that init picked and
/// a comment saying why.
pub fn starter_config(default_model: &str, reason: &str) -> String {
    let model = toml_edit::Value::from(default_model).to_string();
    STARTER
        .replace("{DEFAULT_MODEL}", model.trim())
        .replace("{REASON}", reason)
}

const STARTER: &str = r#"# LocalGPT configuration.
#
# Every key is optional: a commented line shows the default that applies while it stays commented.
# Any string may use ${VAR} to read an environment variable (write $$ for a literal $).
# Change values by hand or with `localgpt config set KEY VALUE`; `localgpt config show` prints the
# effective configuration with secrets masked.

[agent]
# Model used when none is named: provider/model (anthropic/…, openai/…, ollama/…, claude-cli/…,
# local/…) or an alias such as opus, sonnet, haiku, gpt.
# Chosen by `config init`: {REASON}
default_model = {DEFAULT_MODEL}
# context_window = 128000       # tokens the model sees at once (local models use their own window)
# reserve_tokens = 8000         # tokens kept free for the answer
# max_tool_rounds = 25          # tool-call rounds per turn before the agent stops
# require_approval = ["bash"]   # tools that ask you before they run
# Once a conversation has read untrusted content (a web page, memory search results, a file it did
# not write, a stranger's message), these ask you first even when not listed above — and are
# refused when nobody can be asked (ask without a terminal, JSON API chats, jobs, the heartbeat):
# changes to protected_paths (any letter case), bash, and web_fetch sending data (?query,
# #fragment) to a host not fetched in the turn.
# guard_after_untrusted = true
# protected_paths = ["AGENTS.md", "SOUL.md", "IDENTITY.md", "TOOLS.md", "USER.md", "HEARTBEAT.md", "MEMORY.md", "BOOTSTRAP.md", "skills/", "tools/"]
# Active recall: your message is searched in memory before each turn and the notes that bear on
# it go to the model with it. "auto": for models that cannot search memory themselves (the
# built-in one); "on": every model; "off": never.
# recall = "auto"

# [agent.aliases]               # your own short names for models
# fast = "anthropic/claude-haiku-4-5"

[providers.anthropic]
# api_key = "${ANTHROPIC_API_KEY}"
# base_url = "https://api.anthropic.com"

[providers.openai]
# api_key = "${OPENAI_API_KEY}"
# base_url = "https://api.openai.com/v1"   # any OpenAI-compatible server: llama.cpp, LM Studio, vLLM

[providers.ollama]
# endpoint = "http://localhost:11434"

[providers.claude_cli]
# command = "claude"            # the Claude Code CLI, by name on PATH or by path

[providers.local]
# model = "smollm2-135m"        # a model under models/ (see `localgpt models list`) or a .gguf path
# threads = 2                   # default: the number of physical cores
# context_size = 8192           # default: the model's own window, capped at 8192
# keep_alive = "5m"             # how long the daemon keeps an idle model (and its process)

[heartbeat]
# enabled = true
# interval = "30m"              # durations: "45s", "30m", "1h30m", "1d"
# active_hours = { start = "09:00", end = "22:00" }   # default: any hour; overnight ranges allowed
# timezone = "Europe/Paris"     # default: the system's time zone
# model = "anthropic/claude-haiku-4-5"   # default: agent.default_model
# precheck = "test -s inbox/new.txt"     # a command (sandboxed): exit 0, or {"work": true,
#                               # "context": "…"} on stdout, means work; otherwise no model call
#                               # (or precheck_script = "tools/NAME.js": a script tool)
# precheck_timeout = "30s"
# triage = "local/qwen2.5-0.5b-instruct" # a small model asked first whether the work needs the big one

# Spend caps for background work (heartbeat and jobs): past one, background turns stop until the
# next day or month, with one report to you. Your own turns are never blocked, only warned.
# Every model's tokens count (yours too); dollars count for the models priced below.
[budget]
# daily_tokens = 1000000
# monthly_tokens = 10000000
# daily_usd = 2.0
# monthly_usd = 20.0
# [budget.prices."anthropic/claude-sonnet-4-5"]
# input_per_mtok = 3.0
# output_per_mtok = 15.0

[memory]
# workspace = "~/.localgpt/workspace"   # default: workspace/ in the LocalGPT home
# embedding = "local"           # local | openai | ollama | none (keyword search only)
# embedding_model = "all-minilm-l6-v2"
# chunk_tokens = 400            # capped at the embedding model's window (256 for all-MiniLM-L6-v2)
# chunk_overlap = 80
# extra_paths = []              # more folders of markdown to index
# max_file_size = "4MB"         # larger files are skipped

[server]
# bind = "127.0.0.1"            # any non-loopback address requires auth_token
# port = 31327
# auth_token = "${LOCALGPT_API_TOKEN}"
# allow_local_unauthenticated = true   # loopback requests without a token act as you
# header_timeout = "10s"        # a request's headers must arrive within this (idle connections close too)
# body_timeout = "30s"          # and its body within this
# max_connections = 256         # open connections at once; half-open ones are closed first
# untrusted_chats_per_source = 5   # chats an hour one stranger's address may start
# untrusted_chats_total = 30       # chats an hour all strangers together may start

[telegram]
# bot_token = "${TELEGRAM_BOT_TOKEN}"
# owner_ids = []                # Telegram user ids whose messages are yours
# api_url = "https://api.telegram.org"   # or a self-hosted Bot API server

[sandbox]
# level = "auto"                # auto | strict | off
# allow_read = []               # extra readable paths (the workspace always is)
# allow_write = []              # extra writable paths (the workspace always is)
# allow_net = []                # hosts commands may reach, only through LocalGPT's filtering proxy
#                               # (HTTP_PROXY/HTTPS_PROXY); "example.org" allows ports 80 and 443,
#                               # "example.org:8443" that port, "*.example.org" its subdomains.
#                               # Names must resolve to public addresses; a private or loopback
#                               # address is reached only when listed as one ("127.0.0.1:8080").
#                               # Needs user namespaces: `localgpt sandbox check` says if you have them
# env = []                      # extra environment variable names passed to commands
# [sandbox.limits]
# cpu_seconds = 300
# memory_mb = 4096              # address space per process
# processes = 256
# file_size_mb = 1024
# open_files = 1024

# Scheduled jobs: a cron schedule, a prompt, and the only tools the job may use.
# [[jobs]]
# name = "digest"
# schedule = "0 8 * * *"
# prompt = "Summarise yesterday's daily log into MEMORY.md."
# tools = ["memory_search", "memory_get", "memory_append"]
# model = "local/smollm2-135m"
# timeout = "10m"
# precheck = "test -n \"$(ls inbox)\""   # as for the heartbeat: no work, no model call

# Other MCP servers whose tools the agent may call, offered as SERVER__TOOL (e.g. files__search),
# subject to require_approval; jobs get them only when their `tools` list names them. Each runs
# on stdio under the [sandbox] policy of bash (its files, no network, its environment) plus `env`.
# `localgpt mcp list` starts them and shows their tools.
# [[mcp.servers]]
# name = "files"
# command = "npx"
# args = ["-y", "@modelcontextprotocol/server-filesystem", "/srv/shared"]
# env = { API_TOKEN = "${FILES_API_TOKEN}" }
# timeout = "30s"
"#;

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::load::parse;
    use crate::config::schema::Config;

    fn env(name: &str) -> Option<String> {
        Some(format!("value-of-{name}"))
    }

    #[test]
    fn starter_config_loads_as_defaults() {
        let text = starter_config("local/smollm2-135m", "no API key or server was found");
        let (config, warnings) = parse(&text, Path::new("config.toml"), &env).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(config, Config::default());
    }

    #[test]
    fn uncommenting_every_key_gives_known_keys_only() {
        let text = starter_config("anthropic/claude-sonnet-4-5", "reason");
        let uncommented: String = text
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest) if rest.starts_with('[') || rest.contains(" = ") => rest,
                _ => line,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let (config, warnings) = parse(&uncommented, Path::new("config.toml"), &env).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(config.jobs.len(), 1);
        assert_eq!(
            config
                .providers
                .anthropic
                .api_key
                .as_ref()
                .map(|key| key.expose().to_owned()),
            Some("value-of-ANTHROPIC_API_KEY".to_owned())
        );
        assert!(config.heartbeat.active_hours.is_some());
    }
}
