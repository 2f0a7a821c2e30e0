//! The set of valid configuration keys, derived from the schema itself, so that unknown keys get
//! a "did you mean" and `config set` knows what type each key takes.

use std::collections::BTreeMap;

use super::schema::{self, BUILTIN_MODEL, Config, JobConfig, McpServerConfig, Price, Usd};
use super::values::{ActiveHours, Secret};

/// The kind of value a key holds, as `config set` must write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// A TOML string (also durations, times, sizes, secrets, enums).
    String,
    /// A TOML integer.
    Integer,
    /// A TOML boolean.
    Boolean,
    /// A TOML array.
    Array,
    /// A TOML table (inline tables such as `active_hours`, and maps such as `agent.aliases`).
    Table,
    /// A float.
    Float,
}

/// Tables whose keys are chosen by the user (maps), so any key inside them is valid.
const USER_KEYED_TABLES: &[&str] = &[
    "agent.aliases",
    "mcp.servers.env",
    "mcp.servers.headers",
    "budget.prices",
];

/// Every valid dotted key with the kind of its value; array-of-table entries appear without an
/// index (`jobs.name`).
pub fn known_keys() -> BTreeMap<String, ValueKind> {
    let mut keys = BTreeMap::new();
    if let Ok(value) = toml::Value::try_from(fully_populated()) {
        collect(&value, "", &mut keys);
    }
    keys
}

/// A configuration with every optional key filled in, used to list the valid keys (for
/// unknown-key suggestions) and the type of each (for `config set`).
fn fully_populated() -> Config {
    let mut config = Config::default();
    config
        .agent
        .aliases
        .insert("alias".to_owned(), BUILTIN_MODEL.to_owned());
    for provider in [
        &mut config.providers.anthropic,
        &mut config.providers.openai,
    ] {
        provider.api_key = Some(Secret::new("key"));
        provider.base_url = Some("https://example.invalid".to_owned());
    }
    config.providers.local.threads = Some(2);
    config.providers.local.context_size = Some(2048);
    config.heartbeat.active_hours = "09:00"
        .parse()
        .ok()
        .zip("22:00".parse().ok())
        .map(|(start, end)| ActiveHours { start, end });
    config.heartbeat.timezone = Some("UTC".to_owned());
    config.heartbeat.model = Some(BUILTIN_MODEL.to_owned());
    config.heartbeat.precheck = Some("true".to_owned());
    config.heartbeat.precheck_script = Some("tools/check.js".to_owned());
    config.heartbeat.triage = Some(BUILTIN_MODEL.to_owned());
    config.budget.prices.insert(
        "provider/model".to_owned(),
        Price {
            cache_read_per_mtok: Some(Usd(0.1)),
            ..Price::default()
        },
    );
    config.memory.workspace = Some("~/.localgpt/workspace".to_owned());
    config.server.auth_token = Some(Secret::new("token"));
    config.telegram.bot_token = Some(Secret::new("token"));
    config.jobs.push(JobConfig {
        name: "job".to_owned(),
        schedule: "0 8 * * *".to_owned(),
        prompt: "prompt".to_owned(),
        tools: Vec::new(),
        model: Some(BUILTIN_MODEL.to_owned()),
        timeout: schema::default_job_timeout(),
        precheck: Some("true".to_owned()),
        precheck_script: Some("tools/check.js".to_owned()),
        precheck_timeout: schema::default_precheck_timeout(),
        triage: Some(BUILTIN_MODEL.to_owned()),
    });
    config.mcp.servers.push(McpServerConfig {
        name: "server".to_owned(),
        command: "server".to_owned(),
        args: Vec::new(),
        env: BTreeMap::from([("VAR".to_owned(), Secret::new("value"))]),
        url: Some("http://127.0.0.1:8000/mcp".to_owned()),
        headers: BTreeMap::from([("Header".to_owned(), Secret::new("value"))]),
        timeout: schema::default_mcp_timeout(),
    });
    config
}

fn collect(value: &toml::Value, prefix: &str, keys: &mut BTreeMap<String, ValueKind>) {
    let kind = match value {
        toml::Value::String(_) | toml::Value::Datetime(_) => ValueKind::String,
        toml::Value::Integer(_) => ValueKind::Integer,
        toml::Value::Float(_) => ValueKind::Float,
        toml::Value::Boolean(_) => ValueKind::Boolean,
        toml::Value::Array(items) => {
            if let Some(first @ toml::Value::Table(_)) = items.first() {
                collect(first, prefix, keys);
                return;
            }
            ValueKind::Array
        }
        toml::Value::Table(table) => {
            if !prefix.is_empty() {
                keys.insert(prefix.to_owned(), ValueKind::Table);
            }
            if USER_KEYED_TABLES.contains(&prefix) {
                return;
            }
            for (name, child) in table {
                let path = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}.{name}")
                };
                collect(child, &path, keys);
            }
            return;
        }
    };
    keys.insert(prefix.to_owned(), kind);
}

/// Removes array indices from a dotted path: `jobs.0.name` → `jobs.name`.
pub fn normalize_path(path: &str) -> String {
    path.split('.')
        .filter(|part| part.parse::<usize>().is_err())
        .collect::<Vec<_>>()
        .join(".")
}

/// Whether `path` names a valid key (or a key inside a user-keyed table).
pub fn is_known(path: &str) -> bool {
    let normalized = normalize_path(path);
    USER_KEYED_TABLES
        .iter()
        .any(|table| normalized.starts_with(&format!("{table}.")))
        || known_keys().contains_key(&normalized)
}

/// The valid key most like an unknown one, looking at its siblings first (`agent.defualt_model`
/// → `agent.default_model`), then at every key (`model` → `agent.default_model`).
pub fn suggest(unknown: &str) -> Option<String> {
    let unknown = normalize_path(unknown);
    let keys = known_keys();
    let (parent, leaf) = unknown.rsplit_once('.').unwrap_or(("", unknown.as_str()));
    let siblings = keys.keys().filter(|key| match key.rsplit_once('.') {
        Some((key_parent, _)) => key_parent == parent,
        None => parent.is_empty(),
    });
    let best_sibling = siblings
        .map(|key| {
            let key_leaf = key.rsplit('.').next().unwrap_or(key);
            (strsim::jaro_winkler(leaf, key_leaf), key)
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    if let Some((_, key)) = best_sibling {
        return Some(key.clone());
    }
    keys.keys()
        .map(|key| {
            let key_leaf = key.rsplit('.').next().unwrap_or(key);
            (strsim::jaro_winkler(leaf, key_leaf), key)
        })
        .filter(|(score, _)| *score >= 0.88)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, key)| key.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_keys_cover_every_section() {
        let keys = known_keys();
        for key in [
            "agent.default_model",
            "providers.anthropic.api_key",
            "providers.local.keep_alive",
            "heartbeat.active_hours",
            "memory.chunk_overlap",
            "server.port",
            "telegram.owner_ids",
            "sandbox.allow_net",
            "jobs.schedule",
        ] {
            assert!(keys.contains_key(key), "{key} missing from {keys:?}");
        }
        assert_eq!(keys["server.port"], ValueKind::Integer);
        assert_eq!(keys["heartbeat.enabled"], ValueKind::Boolean);
        assert_eq!(keys["memory.extra_paths"], ValueKind::Array);
    }

    #[test]
    fn suggestions_prefer_siblings() {
        assert_eq!(
            suggest("agent.defualt_model").as_deref(),
            Some("agent.default_model")
        );
        assert_eq!(
            suggest("heartbeat.intervall").as_deref(),
            Some("heartbeat.interval")
        );
        assert_eq!(suggest("jobs.0.shedule").as_deref(), Some("jobs.schedule"));
        assert_eq!(suggest("heartbeats").as_deref(), Some("heartbeat"));
        assert_eq!(suggest("zzzzzz"), None);
    }

    #[test]
    fn user_keyed_tables_accept_any_key() {
        assert!(is_known("agent.aliases.fast"));
        assert!(is_known("jobs.3.prompt"));
        assert!(!is_known("agent.nonsense"));
    }
}
