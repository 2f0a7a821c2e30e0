//! The `localgpt` binary: parses the command line, sets up logging, runs one command and turns
//! its error into a message and an exit code. Commands live in `commands/`.

mod app;
mod assistant;
mod cli;
mod commands;
mod daemon;
mod detect;
mod embedding;
mod local_model;
mod logging;
mod migrate;
mod model_process;
mod progress;
mod terminal;

use std::process::ExitCode;

use clap::Parser;
use localgpt_core::paths::Paths;

use crate::app::App;
use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    keep_files_private();
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Daemon(_)) {
        quit_quietly_on_closed_stdout();
    }
    // The daemon's log is a service log: what it did (inputs, heartbeats, jobs, model loads)
    // at info level, never message text or secrets.
    let serving = matches!(
        cli.command,
        Command::Daemon(cli::DaemonCommand::Start { foreground: true })
    );
    let verbose = if serving {
        cli.global.verbose.max(1)
    } else {
        cli.global.verbose
    };
    logging::init(verbose, serving);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", logging::scrub(&format!("{error:#}")));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let paths = Paths::from_env(cli.global.config.clone())?;
    if matches!(cli.command, Command::Config(_)) {
        // The config commands read the file themselves; every other command learns the secrets
        // when it loads the configuration (`App::load`).
        logging::learn_secrets(&paths.config_file);
    }
    match cli.command {
        Command::Ask {
            question,
            model,
            json,
        } => commands::ask::run(&App::load(paths)?, &question, model.as_deref(), json),
        Command::Chat {
            session,
            resume,
            model,
        } => {
            let choice = match (session, resume) {
                (Some(id), _) => assistant::SessionChoice::Resume(id),
                (None, true) => assistant::SessionChoice::Latest,
                (None, false) => assistant::SessionChoice::New,
            };
            commands::chat::run(&App::load(paths)?, choice, model.as_deref())
        }
        Command::Config(command) => commands::config::run(command, paths),
        Command::Jobs(command) => {
            let app = App::load(paths)?;
            match command {
                cli::JobsCommand::List { json } => daemon::list_jobs(&app, json),
                cli::JobsCommand::Run { name } => daemon::run_job_once(&app, &name),
            }
        }
        Command::Usage { json, days } => commands::usage::run(&App::load(paths)?, json, days),
        Command::Daemon(command) => {
            let app = App::load(paths)?;
            if matches!(command, cli::DaemonCommand::Start { .. })
                && let Err(error) = app.paths.make_private()
            {
                tracing::warn!(
                    "could not make {} private: {error}",
                    app.paths.home.display()
                );
            }
            match command {
                cli::DaemonCommand::Start { foreground: true } => daemon::run_foreground(&app),
                cli::DaemonCommand::Start { foreground: false } => daemon::start(&app),
                cli::DaemonCommand::Stop => daemon::stop(&app),
                cli::DaemonCommand::Heartbeat { json } => daemon::heartbeat_once(&app, json),
                cli::DaemonCommand::Status { json } => daemon::status(&app, json),
            }
        }
        Command::Memory(command) => commands::memory::run(command, &App::load(paths)?),
        Command::Models(command) => commands::models::run(command, &App::load(paths)?),
        Command::Sessions(command) => commands::sessions::run(command, &App::load(paths)?),
        Command::Artifacts(command) => commands::artifacts::run(command, &App::load(paths)?),
        Command::Migrate(cli::MigrateCommand::Openclaw {
            path,
            dry_run,
            json,
        }) => migrate::openclaw(&App::load(paths)?, path.as_deref(), dry_run, json),
        Command::Skills(command) => commands::skills::run(command, &App::load(paths)?),
        Command::McpServer => commands::mcp::serve_stdio(&App::load(paths)?),
        Command::Mcp(command) => commands::mcp::run(command, &App::load(paths)?),
        Command::Tools(command) => {
            let code = commands::tools::run(command, &App::load(paths)?)?;
            if code != 0 {
                std::process::exit(code);
            }
            Ok(())
        }
        Command::Sandbox(command) => {
            let code = commands::sandbox::run(command, &App::load(paths)?)?;
            if code != 0 {
                std::process::exit(code);
            }
            Ok(())
        }
        Command::Desktop => commands::desktop::run(&App::load(paths)?),
        Command::Completion { shell } => {
            commands::completion::run(shell);
            Ok(())
        }
    }
}

/// A command piped into `head` ends quietly when the pipe closes, as Unix tools do, instead of
/// panicking on the write (Rust ignores SIGPIPE by default). The daemon keeps ignoring it.
fn quit_quietly_on_closed_stdout() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to the default has no preconditions; it runs before
    // any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Everything this process writes (index, sessions, logs, artifacts, backups) and every folder it
/// creates is readable by the user alone: the umask removes group and other permissions.
fn keep_files_private() {
    #[cfg(unix)]
    // SAFETY: umask only changes this process's file-creation mask and cannot fail; it runs
    // before any other thread exists.
    unsafe {
        libc::umask(0o077);
    }
}
