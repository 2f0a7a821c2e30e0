//! `localgpt artifacts list|show`: what untrusted inputs produced, stored by the control plane in
//! `state/artifacts/` for the owner to review. Showing prints the content as text; nothing in it
//! is run or sent to a model, and control sequences in it (or in a title) are shown as escapes
//! instead of reaching the terminal.

use std::io::Write;

use anyhow::bail;
use localgpt_agent::control::{ArtifactRecord, ArtifactStore};
use localgpt_core::text::{json_safe, terminal_safe, terminal_safe_line};

use crate::app::App;
use crate::cli::ArtifactsCommand;

/// Runs one `artifacts` subcommand.
pub fn run(command: ArtifactsCommand, app: &App) -> anyhow::Result<()> {
    let store = ArtifactStore::new(app.paths.state_dir().join("artifacts"));
    match command {
        ArtifactsCommand::List { limit, json } => {
            let records = store.list(limit.max(1))?;
            if json {
                println!("{}", json_safe(&serde_json::to_string_pretty(&records)?));
            } else if records.is_empty() {
                println!("No artifacts: nothing from an untrusted source has been kept.");
            } else {
                for record in &records {
                    println!("{}", summary_line(record));
                }
            }
        }
        ArtifactsCommand::Show { id } => {
            let id = resolve(&store, &id)?;
            let content = store.read(&id)?;
            let mut stdout = std::io::stdout().lock();
            let text = String::from_utf8_lossy(&content);
            stdout.write_all(terminal_safe(&text).as_bytes())?;
            if !content.ends_with(b"\n") {
                writeln!(stdout)?;
            }
        }
    }
    Ok(())
}

fn summary_line(record: &ArtifactRecord) -> String {
    let stored = record.stored_at.get(..16).unwrap_or(&record.stored_at);
    let id: String = record.id.chars().take(12).collect();
    format!(
        "{}  {}  {:<9}  {:<15}  {:>7} B  {}",
        terminal_safe_line(&id),
        terminal_safe_line(&stored.replace('T', " ")),
        label(&record.source),
        label(&record.trust),
        record.bytes,
        terminal_safe_line(&record.title)
    )
}

/// The serde name of a unit enum value (`untrusted_event`, `api`).
fn label(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The full id an id or unique prefix names.
fn resolve(store: &ArtifactStore, wanted: &str) -> anyhow::Result<String> {
    if wanted.len() == 64 {
        return Ok(wanted.to_owned());
    }
    if wanted.len() < 4 || !wanted.chars().all(|c| c.is_ascii_hexdigit()) {
        bail!(
            "`{wanted}` is not an artifact id: give at least 4 hex digits (see `localgpt artifacts list`)"
        );
    }
    let wanted = wanted.to_ascii_lowercase();
    let mut matches: Vec<String> = store
        .list(usize::MAX)?
        .into_iter()
        .map(|record| record.id)
        .filter(|id| id.starts_with(&wanted))
        .collect();
    matches.sort();
    matches.dedup();
    match matches.len() {
        0 => bail!("no artifact starts with `{wanted}` (see `localgpt artifacts list`)"),
        1 => Ok(matches.remove(0)),
        n => bail!("`{wanted}` matches {n} artifacts; give more of the id"),
    }
}
