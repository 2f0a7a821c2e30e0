//! `localgpt chat`: an interactive conversation with line editing and history, streamed answers,
//! compact tool activity, approval prompts, Ctrl-C to stop an answer (twice at the prompt to
//! leave) and the slash commands of SPEC §2.

use std::sync::Arc;

use anyhow::Context;
use localgpt_agent::runtime::Agent;
use localgpt_agent::sessions::SessionStore;
use localgpt_core::chat::CancelToken;
use localgpt_memory::SearchOptions;
use rustyline::error::ReadlineError;

use crate::app::App;
use crate::assistant::{SessionChoice, build_agent, create_model};
use crate::commands::{memory, skills};
use crate::terminal::{EventPrinter, TerminalApprover};

const HELP: &str = "\
/help             this list
/new              start a new session
/resume ID        continue a saved session
/sessions         recent sessions
/model [M]        show or switch the model (provider/model or alias)
/compact          summarise older turns now
/status           model, session and context use
/memory QUERY     search memory
/reindex          bring the memory index up to date
/skills           skills you can invoke
/<skill> [args]   run a skill
/quit             leave (or Ctrl-D)";

/// Runs the chat loop until the user leaves.
pub fn run(app: &App, session: SessionChoice, model: Option<&str>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let model = create_model(app, model)?;
    let mut agent = build_agent(app, model, &session, Arc::new(TerminalApprover))?;
    let mut editor = rustyline::DefaultEditor::new().context("starting the line editor")?;
    let history_file = app.paths.state_dir().join("chat_history.txt");
    // A missing history file just means a first chat.
    let _ = editor.load_history(&history_file);
    println!(
        "LocalGPT · {} · session {}\nType /help for commands; Ctrl-D or /quit to leave.",
        agent.model_name(),
        agent.session_id().unwrap_or("-")
    );
    if !agent.history().is_empty() {
        println!("(resumed: {} messages)", agent.history().len());
    }
    let mut interrupted = false;
    loop {
        let line = match editor.readline("› ") {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                if interrupted {
                    break;
                }
                interrupted = true;
                println!("(Ctrl-C again or Ctrl-D to leave)");
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(error) => return Err(error).context("reading input"),
        };
        interrupted = false;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let _ = editor.add_history_entry(line);
        let message = if let Some(command) = line.strip_prefix('/') {
            match slash(app, &runtime, &mut agent, command) {
                Ok(Slash::Done) => continue,
                Ok(Slash::Quit) => break,
                Ok(Slash::Send(message)) => message,
                Err(error) => {
                    eprintln!("error: {error:#}");
                    continue;
                }
            }
        } else {
            line.to_owned()
        };
        if let Err(error) = run_turn(&runtime, &mut agent, &message) {
            eprintln!("error: {error:#}");
        }
    }
    if let Some(parent) = history_file.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    if let Err(error) = editor.save_history(&history_file) {
        tracing::warn!("could not save chat history: {error}");
    }
    Ok(())
}

/// Sends one message; Ctrl-C stops the answer.
fn run_turn(
    runtime: &tokio::runtime::Runtime,
    agent: &mut Agent,
    message: &str,
) -> anyhow::Result<()> {
    let cancel = CancelToken::new();
    let on_interrupt = cancel.clone();
    let mut printer = EventPrinter::new();
    let report = runtime.block_on(async {
        let watcher = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                on_interrupt.cancel();
            }
        });
        let report = agent
            .turn(message, &cancel, &mut |event| printer.print(&event))
            .await;
        watcher.abort();
        report
    })?;
    printer.end_line();
    if report.cancelled {
        eprintln!("(stopped)");
    }
    Ok(())
}

enum Slash {
    Done,
    Quit,
    Send(String),
}

fn slash(
    app: &App,
    runtime: &tokio::runtime::Runtime,
    agent: &mut Agent,
    command: &str,
) -> anyhow::Result<Slash> {
    let (name, argument) = command
        .split_once(char::is_whitespace)
        .map_or((command, ""), |(name, rest)| (name, rest.trim()));
    match name {
        "help" => println!("{HELP}"),
        "quit" | "exit" => return Ok(Slash::Quit),
        "new" => {
            *agent = replace_session(app, agent, &SessionChoice::New)?;
            println!("New session {}", agent.session_id().unwrap_or("-"));
        }
        "resume" if !argument.is_empty() => {
            *agent = replace_session(app, agent, &SessionChoice::Resume(argument.to_owned()))?;
            println!(
                "Resumed {} ({} messages)",
                agent.session_id().unwrap_or("-"),
                agent.history().len()
            );
        }
        "resume" => anyhow::bail!("usage: /resume ID (see /sessions)"),
        "sessions" => {
            for summary in SessionStore::new(app.paths.sessions_dir())
                .list()?
                .iter()
                .take(10)
            {
                println!(
                    "{}  {}  {}",
                    &summary.id[..8.min(summary.id.len())],
                    summary.started,
                    summary.title
                );
            }
        }
        "model" if argument.is_empty() => println!("{}", agent.model_name()),
        "model" => {
            agent.set_model(create_model(app, Some(argument))?);
            println!("Now using {}", agent.model_name());
        }
        "compact" => {
            let mut printer = EventPrinter::new();
            let compacted = runtime.block_on(agent.compact(&CancelToken::new(), &mut |event| {
                printer.print(&event);
            }))?;
            if !compacted {
                println!("Nothing to compact yet.");
            }
        }
        "status" => println!(
            "model {}\nsession {}\nmessages {}\ncontext {} of {} tokens",
            agent.model_name(),
            agent.session_id().unwrap_or("-"),
            agent.history().len(),
            agent.tokens_in_use(),
            agent.token_budget()
        ),
        "memory" if !argument.is_empty() => {
            let mut index = memory::open_index(app, true, true)?;
            index.ensure_fresh()?;
            let results = index.search(argument, SearchOptions::default())?;
            for hit in &results.results {
                println!(
                    "{}:{}-{}  {}",
                    hit.path,
                    hit.start_line,
                    hit.end_line,
                    hit.snippet.replace('\n', " ")
                );
            }
            if results.results.is_empty() {
                println!("No matches.");
            }
        }
        "memory" => anyhow::bail!("usage: /memory QUERY"),
        "reindex" => {
            let mut index = memory::open_index(app, true, true)?;
            let report = index.reindex(false, &mut |_| {})?;
            println!(
                "{} files: {} indexed, {} removed",
                report.files_seen, report.files_indexed, report.files_removed
            );
        }
        "skills" => {
            for skill in skills::find(app)
                .skills
                .iter()
                .filter(|s| s.manifest.user_invocable)
            {
                println!("/{}  {}", skill.manifest.name, skill.manifest.description);
            }
        }
        other => {
            let set = skills::find(app);
            let Some(skill) = set.get(other).filter(|s| s.manifest.user_invocable) else {
                anyhow::bail!("unknown command /{other}; /help lists them");
            };
            let body = skill.body()?;
            return Ok(Slash::Send(format!(
                "Use the skill \"{}\" (its SKILL.md is at {}; resolve relative paths against \
                 that folder):\n\n{body}\n\nRequest: {}",
                skill.manifest.name,
                skill.location.display(),
                if argument.is_empty() {
                    "(none)"
                } else {
                    argument
                }
            )));
        }
    }
    Ok(Slash::Done)
}

fn replace_session(app: &App, agent: &Agent, choice: &SessionChoice) -> anyhow::Result<Agent> {
    let model = create_model(app, Some(agent.model_name()))?;
    build_agent(app, model, choice, Arc::new(TerminalApprover))
}
