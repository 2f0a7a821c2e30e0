//! `GET /api/logs?lines=`: the last lines of the daemon's log, for the status view. Only the tail
//! is read (at most 256 KiB), however large the file.

use std::io::{Read, Seek, SeekFrom};

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::{ApiError, ServerState};

/// Bytes read from the end of the log.
const TAIL_BYTES: u64 = 256 * 1024;

/// Query of `GET /api/logs`.
#[derive(Debug, Deserialize)]
pub struct LogsQuery {
    #[serde(default)]
    lines: Option<usize>,
}

/// The newest lines, oldest first.
pub async fn recent(
    State(state): State<ServerState>,
    caller: Caller,
    Query(query): Query<LogsQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require_owner(&state)?;
    let path = state
        .log_file
        .clone()
        .ok_or_else(|| ApiError::not_found("this server writes no log file"))?;
    let wanted = query.lines.unwrap_or(100).clamp(1, 2000);
    let lines = tokio::task::spawn_blocking(move || tail(&path, wanted))
        .await
        .map_err(|error| ApiError::internal(error.to_string()))?
        .map_err(|error| ApiError::internal(format!("reading the log: {error}")))?;
    Ok(Json(json!({ "lines": lines })))
}

fn tail(path: &std::path::Path, wanted: usize) -> std::io::Result<Vec<String>> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let length = file.metadata()?.len();
    let start = length.saturating_sub(TAIL_BYTES);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<&str> = text.lines().collect();
    // The first line of a partial read is likely cut.
    if start > 0 && !lines.is_empty() {
        lines.remove(0);
    }
    let skip = lines.len().saturating_sub(wanted);
    Ok(lines[skip..]
        .iter()
        .map(|line| (*line).to_owned())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_is_the_last_lines_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.log");
        assert!(tail(&path, 5).unwrap().is_empty());
        let text: String = (1..=400_000).map(|n| format!("line {n}\n")).collect();
        std::fs::write(&path, text).unwrap();
        let lines = tail(&path, 3).unwrap();
        assert_eq!(lines, ["line 399998", "line 399999", "line 400000"]);
        assert_eq!(tail(&path, 2000).unwrap().len(), 2000);
    }
}
