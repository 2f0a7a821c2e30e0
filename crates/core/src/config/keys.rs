//! The set of valid configuration keys, derived from the schema itself, so that unknown keys get
//! a "did you mean" and `config set` knows what type each key takes.

use std::collections::BTreeMap;

use super::schema::Config;

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
    if let Ok(value) = toml::Value::try_from(Config::fully_populated()) {
        collect(&value, "", &mut keys);
    }
    keys
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
