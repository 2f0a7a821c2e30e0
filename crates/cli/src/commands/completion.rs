//! `localgpt completion SHELL`: prints a completion script for the shell.

use clap::CommandFactory;

use crate::cli::Cli;

/// Writes the completion script to stdout.
pub fn run(shell: clap_complete::Shell) {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "localgpt", &mut std::io::stdout());
}
