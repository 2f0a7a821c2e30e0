//! `localgpt chat`: an interactive conversation with line editing and history, streamed answers,
//! compact tool activity, approval prompts, Ctrl-C to stop an answer (twice at the prompt to
//! leave) and the slash commands of SPEC §2. Every message goes through the ingress bus and the
//! control plane, as an owner command from the local user; the conversation lives in its session
//! transcript, which each turn continues.

use std::sync::Arc;

use anyhow::Context;
use localgpt_agent::control::{IngressBus, Outcome, Submission, bounded};
use localgpt_agent::runtime::{TurnReport, tokens, transcript};
use localgpt_agent::sessions::SessionStore;
use localgpt_core::ingress::{Payload, Request, Sender, Source};
use localgpt_memory::MemoryHandle;
use localgpt_memory::SearchOptions;
use rustyline::error::ReadlineError;

use crate::app::App;
use crate::assistant::{SessionChoice, host};
use crate::commands::skills;
use crate::terminal::{EventPrinter, TerminalApprover};
use localgpt_agent::host::{Approvals, PlaneParts};

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

/// The conversation's state between turns.
struct Chat {
    app: App,
    runtime: tokio::runtime::Runtime,
    bus: IngressBus,
    memory: MemoryHandle,
    store: SessionStore,
    session: Option<String>,
    model_name: String,
    model_override: Option<String>,
}

/// Runs the chat loop until the user leaves.
pub fn run(app: &App, session: SessionChoice, model: Option<&str>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let store = SessionStore::new(app.paths.sessions_dir());
    let session = match session {
        SessionChoice::New | SessionChoice::NewFrom(_) => None,
        SessionChoice::Resume(id) => Some(id_of(&store, &id)?),
        SessionChoice::Latest => store.latest()?,
    };
    let host = host(app, None, None)?;
    let memory = host.memory().clone();
    let PlaneParts {
        plane, model_name, ..
    } = host
        .plane(model, Approvals::Fixed(Arc::new(TerminalApprover)))
        .require_model()?;
    let (bus, queue) = bounded(1);
    runtime.spawn(plane.serve(queue));
    let mut chat = Chat {
        app: app.clone(),
        runtime,
        bus,
        memory,
        store,
        session,
        model_name,
        model_override: None,
    };
    let mut editor = rustyline::DefaultEditor::new().context("starting the line editor")?;
    let history_file = app.paths.state_dir().join("chat_history.txt");
    // A missing history file just means a first chat.
    let _ = editor.load_history(&history_file);
    println!(
        "LocalGPT · {} · session {}\nType /help for commands; Ctrl-D or /quit to leave.",
        chat.model_name,
        chat.session.as_deref().unwrap_or("(new)")
    );
    if chat.session.is_some() {
        println!("(resumed: {} messages)", chat.message_count());
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
            match chat.slash(command) {
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
        if let Err(error) = chat.turn(&message) {
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

/// The full id of a session given by id or unique prefix.
fn id_of(store: &SessionStore, id_or_prefix: &str) -> anyhow::Result<String> {
    Ok(store.load(id_or_prefix)?.header.id)
}

enum Slash {
    Done,
    Quit,
    Send(String),
}

impl Chat {
    /// Sends one message through the bus; Ctrl-C stops the answer.
    fn turn(&mut self, message: &str) -> anyhow::Result<()> {
        self.submit(message, Request::Message).map(|_| ())
    }

    /// Submits `request` on this session through the bus, printing its events as they come;
    /// Ctrl-C stops it. Returns the turn's report.
    fn submit(&mut self, text: &str, request: Request) -> anyhow::Result<TurnReport> {
        let mut printer = EventPrinter::new();
        let submission = Submission {
            source: Source::Cli,
            sender: Sender::LocalUser,
            payload: Payload {
                text: text.to_owned(),
                session_id: self.session.clone(),
                model: self.model_override.clone(),
                request,
            },
            job_tools: Vec::new(),
            reply_to: None,
            deadline: None,
        };
        let ticket = self.bus.submit(submission)?;
        let outcome = self.runtime.block_on(async {
            let cancel = ticket.canceller();
            let watcher = tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    cancel.cancel();
                }
            });
            let outcome = ticket.follow(|event| printer.print(&event)).await;
            watcher.abort();
            outcome
        });
        printer.finish_turn();
        match outcome {
            Outcome::Done {
                report, session_id, ..
            } => {
                if session_id.is_some() {
                    self.session = session_id;
                }
                if report.cancelled {
                    eprintln!("(stopped)");
                }
                Ok(report)
            }
            Outcome::Failed(message) => anyhow::bail!("{message}"),
            Outcome::TimedOut => anyhow::bail!("the answer took too long and was stopped"),
        }
    }

    /// Messages in the session's conversation.
    fn conversation(&self) -> Vec<localgpt_core::chat::ChatMessage> {
        self.session
            .as_deref()
            .and_then(|id| self.store.load(id).ok())
            .map(|saved| transcript::conversation(&saved))
            .unwrap_or_default()
    }

    fn message_count(&self) -> usize {
        self.conversation().len()
    }

    fn slash(&mut self, command: &str) -> anyhow::Result<Slash> {
        let (name, argument) = command
            .split_once(char::is_whitespace)
            .map_or((command, ""), |(name, rest)| (name, rest.trim()));
        match name {
            "help" => println!("{HELP}"),
            "quit" | "exit" => return Ok(Slash::Quit),
            "new" => {
                self.session = None;
                println!("New session (it is saved with its first message)");
            }
            "resume" if !argument.is_empty() => {
                self.session = Some(id_of(&self.store, argument)?);
                println!(
                    "Resumed {} ({} messages)",
                    self.session.as_deref().unwrap_or("-"),
                    self.message_count()
                );
            }
            "resume" => anyhow::bail!("usage: /resume ID (see /sessions)"),
            "sessions" => {
                for summary in self.store.list()?.iter().take(10) {
                    println!(
                        "{}  {}  {}",
                        &summary.id[..8.min(summary.id.len())],
                        summary.started,
                        summary.title
                    );
                }
            }
            "model" if argument.is_empty() => println!(
                "{}",
                self.model_override.as_deref().unwrap_or(&self.model_name)
            ),
            "model" => {
                let target =
                    localgpt_llm::ModelRef::resolve(argument, &self.app.config.agent.aliases)?;
                let name = format!("{}/{}", target.provider, target.model);
                self.model_override = (name != self.model_name).then(|| name.clone());
                println!("Now using {name}");
            }
            "compact" => self.compact()?,
            "status" => {
                let conversation = self.conversation();
                let estimate = tokens::estimate_request(&tokens::count, "", &[], &conversation);
                println!(
                    "model {}\nsession {}\nmessages {}\ncontext about {estimate} tokens (cl100k estimate)",
                    self.model_override.as_deref().unwrap_or(&self.model_name),
                    self.session.as_deref().unwrap_or("(new)"),
                    conversation.len(),
                );
            }
            "memory" if !argument.is_empty() => {
                let results = self.runtime.block_on(
                    self.memory
                        .search(argument.to_owned(), SearchOptions::default()),
                )?;
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
                let report = self.memory.refresh_now()?;
                println!(
                    "{} files: {} indexed, {} removed",
                    report.files_seen, report.files_indexed, report.files_removed
                );
            }
            "skills" => {
                for skill in skills::find(&self.app)
                    .skills
                    .iter()
                    .filter(|s| s.manifest.user_invocable)
                {
                    println!("/{}  {}", skill.manifest.name, skill.manifest.description);
                }
            }
            other => return skill_message(&self.app, other, argument),
        }
        Ok(Slash::Done)
    }

    /// `/compact`: summarises the session's older turns now, through the bus like every turn.
    fn compact(&mut self) -> anyhow::Result<()> {
        if self.session.is_none() {
            println!("Nothing to compact yet.");
            return Ok(());
        }
        let report = self.submit("", Request::Compact)?;
        println!("{}", report.answer);
        Ok(())
    }
}

/// `/<skill> args`: the skill's instructions and the request, as the message to send.
fn skill_message(app: &App, name: &str, argument: &str) -> anyhow::Result<Slash> {
    let set = skills::find(app);
    let Some(skill) = set.get(name).filter(|s| s.manifest.user_invocable) else {
        anyhow::bail!("unknown command /{name}; /help lists them");
    };
    let body = skill.body()?;
    Ok(Slash::Send(format!(
        "Use the skill \"{}\" (its SKILL.md is at {}; resolve relative paths against that \
         folder):\n\n{body}\n\nRequest: {}",
        skill.manifest.name,
        skill.location.display(),
        if argument.is_empty() {
            "(none)"
        } else {
            argument
        }
    )))
}
