//! `config get` and `config set`: reading one key of the effective configuration, and changing one
//! key in the file while keeping its comments and layout (through `toml_edit`).

use std::path::Path;

use toml_edit::{DocumentMut, Item, Table, Value};

use super::keys::{self, ValueKind};
use super::load::{ConfigError, EnvLookup, parse};
use super::schema::{Config, JobConfig};

/// Why a `config get` or `config set` could not be done.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The key is not part of the configuration.
    #[error("unknown key `{key}`{}", suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default())]
    UnknownKey {
        /// The key as given.
        key: String,
        /// The closest valid key.
        suggestion: Option<String>,
    },
    /// The value cannot be written as the key's type.
    #[error("`{key}` expects {expected}; got {}", shown_value(.key, .value))]
    BadValue {
        /// The key.
        key: String,
        /// What the key takes.
        expected: &'static str,
        /// The value as given.
        value: String,
    },
    /// The existing file or the edited result does not load.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The path goes through something that is not a table.
    #[error("cannot set `{key}`: `{parent}` is not a table in the config file; fix it by hand")]
    NotATable {
        /// The key.
        key: String,
        /// The part of the path that is not a table.
        parent: String,
    },
}

/// The value of `key` in the effective configuration (secrets masked), as TOML text; strings are
/// printed bare.
pub fn get(config: &Config, key: &str) -> Result<String, EditError> {
    let unknown = || EditError::UnknownKey {
        key: key.to_owned(),
        suggestion: keys::suggest(key),
    };
    let root = toml::Value::try_from(config).map_err(|_| unknown())?;
    let mut current = &root;
    for part in key.split('.') {
        current = match current {
            toml::Value::Table(table) => table.get(part),
            toml::Value::Array(items) => part
                .parse::<usize>()
                .ok()
                .and_then(|index| items.get(index)),
            _ => None,
        }
        .ok_or_else(|| {
            if keys::is_known(key) {
                EditError::UnknownKey {
                    key: key.to_owned(),
                    suggestion: None,
                }
            } else {
                unknown()
            }
        })?;
    }
    Ok(match current {
        toml::Value::String(text) => text.clone(),
        toml::Value::Table(table) => toml::to_string(table)
            .unwrap_or_default()
            .trim_end()
            .to_owned(),
        other => other.to_string(),
    })
}

/// Sets `key` to `raw_value` in the config text, returning the new text. The value is read as the
/// key's type; the result must load, or nothing changes. Comments and layout are kept.
pub fn set(
    text: &str,
    path: &Path,
    key: &str,
    raw_value: &str,
    env: EnvLookup<'_>,
) -> Result<String, EditError> {
    let normalized = keys::normalize_path(key);
    let known = keys::known_keys();
    let kind = if key.starts_with("agent.aliases.") && key.split('.').count() == 3 {
        ValueKind::String
    } else {
        *known
            .get(&normalized)
            .ok_or_else(|| EditError::UnknownKey {
                key: key.to_owned(),
                suggestion: keys::suggest(key),
            })?
    };
    let value = typed_value(key, kind, raw_value)?;

    let mut document: DocumentMut = if text.trim().is_empty() {
        DocumentMut::new()
    } else {
        // Let the loader report syntax errors with line and column.
        parse(text, path, env)?;
        text.parse().map_err(|_| EditError::NotATable {
            key: key.to_owned(),
            parent: "(file)".to_owned(),
        })?
    };
    let parts: Vec<&str> = key.split('.').collect();
    if !key_is_set(&document, &parts)
        && let Some(edited) = uncomment_in_place(text, &parts, &value)
        && parse(&edited, path, env).is_ok()
    {
        return Ok(edited);
    }
    let (leaf, parents) = parts.split_last().ok_or_else(|| EditError::UnknownKey {
        key: key.to_owned(),
        suggestion: None,
    })?;
    let mut table: &mut Table = document.as_table_mut();
    let mut position = 0;
    while position < parents.len() {
        let part = parents[position];
        let walked = parents[..=position].join(".");
        let not_table = || EditError::NotATable {
            key: key.to_owned(),
            parent: walked.clone(),
        };
        let entry = table.entry(part).or_insert_with(|| {
            let mut fresh = Table::new();
            fresh.set_implicit(true);
            Item::Table(fresh)
        });
        table = match entry {
            Item::Table(inner) => inner,
            Item::ArrayOfTables(array) => {
                let index = parents
                    .get(position + 1)
                    .and_then(|next| next.parse::<usize>().ok())
                    .ok_or_else(not_table)?;
                position += 1;
                array.get_mut(index).ok_or_else(not_table)?
            }
            Item::Value(_) | Item::None => return Err(not_table()),
        };
        position += 1;
    }
    match table.get_mut(leaf) {
        Some(Item::Value(existing)) => {
            let decor = existing.decor().clone();
            *existing = value;
            *existing.decor_mut() = decor;
        }
        _ => {
            table.insert(leaf, Item::Value(value));
        }
    }
    let edited = document.to_string();
    parse(&edited, path, env)?;
    Ok(edited)
}

/// Appends a `[[jobs]]` entry to the config text; the result must load, or nothing changes.
pub fn append_job(
    text: &str,
    path: &Path,
    job: &JobConfig,
    env: EnvLookup<'_>,
) -> Result<String, EditError> {
    parse(text, path, env)?;
    let not_a_table = |parent: &str| EditError::NotATable {
        key: "jobs".to_owned(),
        parent: parent.to_owned(),
    };
    let mut document: DocumentMut = text.parse().map_err(|_| not_a_table("(file)"))?;
    let mut table = Table::new();
    table.insert("name", toml_edit::value(job.name.as_str()));
    table.insert("schedule", toml_edit::value(job.schedule.as_str()));
    table.insert("prompt", toml_edit::value(job.prompt.as_str()));
    table.insert(
        "tools",
        toml_edit::value(
            job.tools
                .iter()
                .map(String::as_str)
                .collect::<toml_edit::Array>(),
        ),
    );
    if let Some(model) = &job.model {
        table.insert("model", toml_edit::value(model.as_str()));
    }
    table.insert("timeout", toml_edit::value(job.timeout.to_string()));
    let jobs = document
        .entry("jobs")
        .or_insert(Item::ArrayOfTables(toml_edit::ArrayOfTables::new()));
    jobs.as_array_of_tables_mut()
        .ok_or_else(|| not_a_table("jobs"))?
        .push(table);
    let edited = document.to_string();
    parse(&edited, path, env)?;
    Ok(edited)
}

/// Whether the config text sets `key` itself (not only a commented example of it).
pub fn is_set(text: &str, key: &str) -> bool {
    let parts: Vec<&str> = key.split('.').collect();
    text.parse::<DocumentMut>()
        .is_ok_and(|document| key_is_set(&document, &parts))
}

fn key_is_set(document: &DocumentMut, parts: &[&str]) -> bool {
    let mut item: &Item = document.as_item();
    for part in parts {
        item = match part.parse::<usize>() {
            Ok(index) => match item.as_array_of_tables().and_then(|array| array.get(index)) {
                Some(table) => return parts.last().is_some_and(|leaf| table.contains_key(leaf)),
                None => return false,
            },
            Err(_) => match item.get(part) {
                Some(next) => next,
                None => return false,
            },
        };
    }
    true
}

/// Turns the starter file's commented default (`# interval = "30m"   # note`) into the new
/// setting on the same line, so the value lands where the user expects it and the note stays.
fn uncomment_in_place(text: &str, parts: &[&str], value: &Value) -> Option<String> {
    let (leaf, parents) = parts.split_last()?;
    if parents.iter().any(|part| part.parse::<usize>().is_ok()) {
        return None;
    }
    let section = parents.join(".");
    let mut current = String::new();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for line in &mut lines {
        let trimmed = line.trim();
        if trimmed.starts_with('[') && !trimmed.starts_with("[[") {
            current = trimmed
                .trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_owned();
            continue;
        }
        if trimmed.starts_with("[[") {
            current = String::from("[[array]]");
            continue;
        }
        if current != section {
            continue;
        }
        let Some(commented) = trimmed.strip_prefix('#') else {
            continue;
        };
        let Some((name, rest)) = commented.split_once('=') else {
            continue;
        };
        if name.trim() != *leaf {
            continue;
        }
        let note = rest.find("  #").map(|at| rest[at..].trim_start());
        let setting = format!("{leaf} = {}", value.to_string().trim());
        *line = match note {
            Some(note) => format!("{setting:<31} {note}"),
            None => setting,
        };
        let mut edited = lines.join("\n");
        if text.ends_with('\n') {
            edited.push('\n');
        }
        return Some(edited);
    }
    None
}

fn typed_value(key: &str, kind: ValueKind, raw: &str) -> Result<Value, EditError> {
    let bad = |expected| EditError::BadValue {
        key: key.to_owned(),
        expected,
        value: raw.to_owned(),
    };
    let trimmed = raw.trim();
    Ok(match kind {
        ValueKind::String => Value::from(raw),
        ValueKind::Integer => {
            Value::from(trimmed.parse::<i64>().map_err(|_| bad("a whole number"))?)
        }
        ValueKind::Float => Value::from(trimmed.parse::<f64>().map_err(|_| bad("a number"))?),
        ValueKind::Boolean => {
            Value::from(trimmed.parse::<bool>().map_err(|_| bad("true or false"))?)
        }
        ValueKind::Array => {
            if trimmed.starts_with('[') {
                trimmed
                    .parse::<Value>()
                    .ok()
                    .filter(Value::is_array)
                    .ok_or_else(|| bad(r#"a list such as ["a", "b"]"#))?
            } else {
                let items: toml_edit::Array = trimmed
                    .split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(|item| match item.parse::<i64>() {
                        Ok(number) => Value::from(number),
                        Err(_) => Value::from(item),
                    })
                    .collect();
                Value::Array(items)
            }
        }
        ValueKind::Table => trimmed
            .parse::<Value>()
            .ok()
            .filter(Value::is_inline_table)
            .ok_or_else(|| bad(r#"an inline table such as { start = "09:00", end = "22:00" }"#))?,
    })
}

/// A refused value as the error quotes it: masked under a secret key, cut when long.
fn shown_value(key: &str, value: &str) -> String {
    if super::load::is_secret_name(key) {
        "****".to_owned()
    } else {
        format!("{:?}", super::load::capped(value, 200))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::template::starter_config;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn jobs_are_appended_and_must_load() {
        let text = starter_config("local/smollm2-135m", "test");
        let job = JobConfig {
            name: "digest".to_owned(),
            schedule: "0 8 * * *".to_owned(),
            prompt: "Summarise \"yesterday\"".to_owned(),
            tools: vec!["memory_search".to_owned()],
            model: None,
            timeout: crate::config::values::Duration::from_minutes(5),
            precheck: None,
            precheck_script: None,
            precheck_timeout: crate::config::default_precheck_timeout(),
            triage: None,
        };
        let once = append_job(&text, Path::new("c.toml"), &job, &no_env).unwrap();
        let other = JobConfig {
            name: "weekly".to_owned(),
            ..job.clone()
        };
        let twice = append_job(&once, Path::new("c.toml"), &other, &no_env).unwrap();
        let (config, _) = parse(&twice, Path::new("c.toml"), &no_env).unwrap();
        assert_eq!(config.jobs.len(), 2);
        assert_eq!(config.jobs[0].prompt, "Summarise \"yesterday\"");
        assert_eq!(config.jobs[1].tools, ["memory_search"]);
        for line in text.lines() {
            assert!(once.contains(line), "the rest of the file is kept: {line}");
        }
        // A result that would not load is refused: two jobs of one name.
        let error = append_job(&twice, Path::new("c.toml"), &job, &no_env).unwrap_err();
        assert!(
            error.to_string().contains("already named `digest`"),
            "{error}"
        );
    }

    #[test]
    fn set_keeps_comments_and_layout() {
        let text = starter_config("local/smollm2-135m", "test");
        let edited = set(
            &text,
            Path::new("c.toml"),
            "agent.max_tool_rounds",
            "10",
            &no_env,
        )
        .unwrap();
        assert!(
            edited.contains("\nmax_tool_rounds = 10            # tool-call rounds per turn"),
            "{edited}"
        );
        assert!(!edited.contains("# max_tool_rounds"));
        assert!(edited.contains("# LocalGPT configuration."));
        assert!(edited.contains("# require_approval = [\"bash\"]"));
        let (config, _) = parse(&edited, Path::new("c.toml"), &no_env).unwrap();
        assert_eq!(config.agent.max_tool_rounds, 10);
    }

    #[test]
    fn set_replaces_existing_value_in_place() {
        let text = "[agent]\ndefault_model = \"a/b\" # mine\nmax_tool_rounds = 3\n";
        let edited = set(
            text,
            Path::new("c.toml"),
            "agent.default_model",
            "openai/gpt-4o",
            &no_env,
        )
        .unwrap();
        assert_eq!(
            edited,
            "[agent]\ndefault_model = \"openai/gpt-4o\" # mine\nmax_tool_rounds = 3\n"
        );
    }

    #[test]
    fn set_types_values_by_key() {
        let edited = set(
            "",
            Path::new("c.toml"),
            "memory.extra_paths",
            "~/notes, ~/work",
            &no_env,
        )
        .unwrap();
        let (config, _) = parse(&edited, Path::new("c.toml"), &no_env).unwrap();
        assert_eq!(config.memory.extra_paths, vec!["~/notes", "~/work"]);
        let edited = set(
            "",
            Path::new("c.toml"),
            "heartbeat.active_hours",
            r#"{ start = "22:00", end = "06:00" }"#,
            &no_env,
        )
        .unwrap();
        let (config, _) = parse(&edited, Path::new("c.toml"), &no_env).unwrap();
        assert!(config.heartbeat.active_hours.unwrap().is_overnight());
        let edited = set(
            "",
            Path::new("c.toml"),
            "heartbeat.interval",
            "1h30m",
            &no_env,
        )
        .unwrap();
        assert!(edited.contains("interval = \"1h30m\""));
    }

    #[test]
    fn set_refuses_bad_values_and_unknown_keys() {
        let error = set("", Path::new("c.toml"), "server.port", "lots", &no_env).unwrap_err();
        assert!(
            error.to_string().contains("expects a whole number"),
            "{error}"
        );
        let error = set(
            "",
            Path::new("c.toml"),
            "heartbeat.interval",
            "soon",
            &no_env,
        )
        .unwrap_err();
        assert!(error.to_string().contains("heartbeat.interval"), "{error}");
        let error = set("", Path::new("c.toml"), "agent.defualt_model", "x", &no_env).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("did you mean `agent.default_model`"),
            "{error}"
        );
        let error = set("", Path::new("c.toml"), "server.port", "70000", &no_env).unwrap_err();
        assert!(error.to_string().contains("server.port"), "{error}");
    }

    #[test]
    fn get_reads_effective_values_with_secrets_masked() {
        let mut config = Config::default();
        config.providers.openai.api_key = Some(crate::config::values::Secret::new(
            "sk-proj-0123456789abcdef",
        ));
        assert_eq!(get(&config, "server.port").unwrap(), "31327");
        assert_eq!(
            get(&config, "agent.default_model").unwrap(),
            "local/smollm2-135m"
        );
        assert_eq!(
            get(&config, "providers.openai.api_key").unwrap(),
            "****cdef"
        );
        assert!(
            get(&config, "heartbeat")
                .unwrap()
                .contains("interval = \"30m\"")
        );
        assert!(get(&config, "agent.nope").is_err());
    }
}
