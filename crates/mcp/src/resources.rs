//! The MCP resources: `MEMORY.md` and the daily logs (`memory/YYYY-MM-DD.md`), as
//! `localgpt://memory/<path>`. They are listed from the workspace and read through the memory
//! index, so only these files — at a real path the memory rules allow — can be read.

use serde_json::{Value, json};

use crate::backend::Backend;

/// The scheme and prefix of every resource URI.
pub const URI_PREFIX: &str = "localgpt://memory/";
/// Most daily logs listed (newest first).
const MAX_DAILY_LOGS: usize = 60;

/// Whether `key` names MEMORY.md or a daily log (`memory/YYYY-MM-DD.md`).
fn is_resource_key(key: &str) -> bool {
    if key == "MEMORY.md" {
        return true;
    }
    let Some(name) = key
        .strip_prefix("memory/")
        .and_then(|rest| rest.strip_suffix(".md"))
    else {
        return false;
    };
    name.len() == 10
        && name.bytes().enumerate().all(|(at, byte)| match at {
            4 | 7 => byte == b'-',
            _ => byte.is_ascii_digit(),
        })
}

/// `resources/list`: MEMORY.md and the newest daily logs that exist.
pub async fn list(backend: &Backend) -> Vec<Value> {
    let workspace = backend.write_context.workspace.clone();
    let keys = tokio::task::spawn_blocking(move || {
        let mut keys = Vec::new();
        if workspace.join("MEMORY.md").is_file() {
            keys.push("MEMORY.md".to_owned());
        }
        let mut daily: Vec<String> = std::fs::read_dir(workspace.join("memory"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| entry.file_name().into_string().ok())
            .map(|name| format!("memory/{name}"))
            .filter(|key| is_resource_key(key))
            .collect();
        daily.sort_unstable_by(|a, b| b.cmp(a));
        keys.extend(daily.into_iter().take(MAX_DAILY_LOGS));
        keys
    })
    .await
    .unwrap_or_default();
    keys.into_iter()
        .map(|key| {
            let description = if key == "MEMORY.md" {
                "Long-term memory: durable facts and preferences".to_owned()
            } else {
                format!("Daily log {}", &key["memory/".len()..key.len() - 3])
            };
            json!({
                "uri": format!("{URI_PREFIX}{key}"),
                "name": key,
                "description": description,
                "mimeType": "text/markdown",
            })
        })
        .collect()
}

/// `resources/read`: the text of one listed resource. `Err` for any other URI, or a file the
/// memory rules refuse.
pub async fn read(backend: &Backend, params: &Value) -> Result<Value, String> {
    let uri = params
        .get("uri")
        .and_then(Value::as_str)
        .ok_or("`uri` is missing")?;
    let shown = localgpt_core::text::terminal_safe_line(uri).into_owned();
    let key = uri
        .strip_prefix(URI_PREFIX)
        .filter(|key| is_resource_key(key))
        .ok_or_else(|| format!("no resource `{shown}`: MEMORY.md and daily logs only"))?;
    backend.memory.mark_stale();
    let file = backend
        .memory
        .indexed_file(key.to_owned())
        .await
        .map_err(|error| format!("could not read `{shown}`: {error}"))?
        .ok_or_else(|| format!("no resource `{shown}` (not in the memory index)"))?;
    Ok(json!({
        "contents": [{
            "uri": uri,
            "mimeType": "text/markdown",
            "text": backend.scrub(&file.text),
        }]
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_memory_and_daily_logs_are_resources() {
        assert!(is_resource_key("MEMORY.md"));
        assert!(is_resource_key("memory/2026-12-03.md"));
        for other in [
            "memory/../../etc/passwd",
            "memory/2026-12-3.md",
            "memory/notes.md",
            "../MEMORY.md",
            "/etc/passwd",
            "memory/2026-12-03.md/../../x.md",
            "AGENTS.md",
        ] {
            assert!(!is_resource_key(other), "{other}");
        }
    }
}
