//! `localgpt sessions list|show|export|rm`: the saved conversations in `state/sessions/`.

use anyhow::Context;
use localgpt_agent::sessions::SessionStore;
use localgpt_core::fs::write_atomic;

use crate::app::App;
use crate::cli::SessionsCommand;

/// Runs one `sessions` subcommand.
pub fn run(command: SessionsCommand, app: &App) -> anyhow::Result<()> {
    let store = SessionStore::new(app.paths.sessions_dir());
    match command {
        SessionsCommand::List { json } => {
            let sessions = store.list()?;
            if json {
                let rows: Vec<_> = sessions
                    .iter()
                    .map(|s| {
                        serde_json::json!({
                            "id": s.id, "title": s.title, "started": s.started,
                            "messages": s.messages, "model": s.model, "origin": s.origin,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else if sessions.is_empty() {
                println!("No saved sessions in {}.", store.dir().display());
            } else {
                for s in sessions {
                    let started = s.started.get(..16).unwrap_or(&s.started).replace('T', " ");
                    let origin = s
                        .origin
                        .as_deref()
                        .map_or_else(String::new, |origin| format!("[{origin}] "));
                    println!(
                        "{}  {started}  {:>4} msgs  {origin}{}",
                        &s.id[..s.id.len().min(8)],
                        s.messages,
                        s.title
                    );
                }
            }
        }
        SessionsCommand::Show { id, raw } => {
            if raw {
                let path = store.find(&id)?;
                print!(
                    "{}",
                    std::fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))?
                );
            } else {
                print!("{}", store.load(&id)?.to_markdown());
            }
        }
        SessionsCommand::Export { id, output } => {
            let markdown = store.load(&id)?.to_markdown();
            match output {
                Some(path) => {
                    write_atomic(&path, markdown.as_bytes())
                        .with_context(|| format!("writing {}", path.display()))?;
                    eprintln!("exported to {}", path.display());
                }
                None => print!("{markdown}"),
            }
        }
        SessionsCommand::Rm { id } => {
            let path = store.find(&id)?;
            store.delete(&id)?;
            println!("deleted {}", path.display());
        }
    }
    Ok(())
}
