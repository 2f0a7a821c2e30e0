//! `localgpt sessions list|show|export|rm`: the saved conversations in `state/sessions/`.
//! Titles, origins and messages may be a stranger's text, so everything printed to the terminal
//! has its control sequences shown as escapes instead of obeyed; JSON output escapes them too.

use anyhow::Context;
use localgpt_agent::sessions::SessionStore;
use localgpt_core::fs::write_atomic;
use localgpt_core::text::{display_path, json_safe, terminal_safe, terminal_safe_line};

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
                println!("{}", json_safe(&serde_json::to_string_pretty(&rows)?));
            } else if sessions.is_empty() {
                println!("No saved sessions in {}.", display_path(store.dir()));
            } else {
                for s in sessions {
                    let started = s.started.get(..16).unwrap_or(&s.started).replace('T', " ");
                    let origin = s.origin.as_deref().map_or_else(String::new, |origin| {
                        format!("[{}] ", terminal_safe_line(origin))
                    });
                    let id: String = s.id.chars().take(8).collect();
                    println!(
                        "{}  {}  {:>4} msgs  {origin}{}",
                        terminal_safe_line(&id),
                        terminal_safe_line(&started),
                        s.messages,
                        terminal_safe_line(&s.title)
                    );
                }
            }
        }
        SessionsCommand::Show { id, raw } => {
            if raw {
                let path = store.find(&id)?;
                let bytes = std::fs::read(&path)
                    .with_context(|| format!("reading {}", display_path(&path)))?;
                print!("{}", terminal_safe(&String::from_utf8_lossy(&bytes)));
            } else {
                print!("{}", terminal_safe(&store.load(&id)?.to_markdown()));
            }
        }
        SessionsCommand::Export { id, output } => {
            let markdown = store.load(&id)?.to_markdown();
            match output {
                Some(path) => {
                    write_atomic(&path, markdown.as_bytes())
                        .with_context(|| format!("writing {}", display_path(&path)))?;
                    eprintln!("exported to {}", display_path(&path));
                }
                None => print!("{}", terminal_safe(&markdown)),
            }
        }
        SessionsCommand::Rm { id } => {
            let path = store.find(&id)?;
            store.delete(&id)?;
            println!("deleted {}", display_path(&path));
        }
    }
    Ok(())
}
