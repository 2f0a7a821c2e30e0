//! How a turn looks on a terminal: the answer streams to stdout, tool activity goes to stderr as
//! one compact line per call, and approval questions are asked on the terminal.

use std::future::Future;
use std::io::{IsTerminal, Write};
use std::pin::Pin;

use localgpt_agent::runtime::{AgentEvent, ApprovalRequest, Approver};
use serde_json::Value;

/// Whether to send colour or bold codes to `stream`: only to a terminal, and not when `NO_COLOR`
/// is set to anything (<https://no-color.org>).
pub fn colour_on(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}

/// `text` with its markdown `**bold**` marks shown as terminal bold when `bold` is on, as they
/// are otherwise. An unpaired `**` is left as it is.
pub fn bold_marks(text: &str, bold: bool) -> String {
    if !bold {
        return text.to_owned();
    }
    let pieces: Vec<&str> = text.split("**").collect();
    let mut out = String::with_capacity(text.len() + 16);
    let last_pair = if pieces.len() % 2 == 1 {
        pieces.len()
    } else {
        pieces.len() - 1
    };
    for (index, piece) in pieces.iter().enumerate() {
        if index > 0 {
            if index >= last_pair {
                out.push_str("**");
            } else if index % 2 == 1 {
                out.push_str("\x1b[1m");
            } else {
                out.push_str("\x1b[22m");
            }
        }
        out.push_str(piece);
    }
    out
}

/// Shows agent events: text on stdout, tools and notices on stderr.
#[derive(Debug, Default)]
pub struct EventPrinter {
    /// Whether the last thing printed on stdout ended a line.
    at_line_start: bool,
    /// The notes recalled from memory for this turn, shown under the answer.
    recalled: Vec<String>,
}

impl EventPrinter {
    /// A printer at the start of a line.
    pub fn new() -> Self {
        Self {
            at_line_start: true,
            recalled: Vec::new(),
        }
    }

    /// Prints one event.
    pub fn print(&mut self, event: &AgentEvent) {
        match event {
            AgentEvent::Text(text) => {
                let mut out = std::io::stdout().lock();
                // A closed stdout (e.g. `| head`) is not worth failing the turn for.
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
                self.at_line_start = text.ends_with('\n');
            }
            AgentEvent::ToolStarted { name, arguments } => {
                self.end_line();
                eprintln!("  ⚙ {name} {}", brief_arguments(arguments));
            }
            AgentEvent::ToolFinished {
                name,
                preview,
                is_error,
            } if *is_error => {
                let reason = preview
                    .lines()
                    .find(|line| !line.trim().is_empty())
                    .unwrap_or_default();
                eprintln!("  ✗ {name}: {reason}");
            }
            AgentEvent::ToolFinished { .. } => {}
            AgentEvent::Notice(note) => {
                self.end_line();
                eprintln!("note: {note}");
            }
            AgentEvent::Recalled(sources) => self.recalled.clone_from(sources),
            // The terminal asks through its own approver; requests from a desk do not reach it.
            AgentEvent::ApprovalRequested { .. } | AgentEvent::Session(_) => {}
        }
    }

    /// Ends the turn's output: closes the answer's line and names the notes recalled from memory
    /// for it (on stderr, so a script reading the answer gets only the answer).
    pub fn finish_turn(&mut self) {
        self.end_line();
        if !self.recalled.is_empty() {
            let sources: Vec<String> = self
                .recalled
                .drain(..)
                .map(|source| localgpt_core::text::terminal_safe_line(&source).into_owned())
                .collect();
            eprintln!("from memory: {}", sources.join(", "));
        }
    }

    /// Ends the answer's line if it is open.
    pub fn end_line(&mut self) {
        if !self.at_line_start {
            // Like the answer itself: a closed stdout (`| head`) is not an error worth a panic.
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(b"\n");
            let _ = out.flush();
            self.at_line_start = true;
        }
    }
}

/// Tool arguments in one short line.
fn brief_arguments(arguments: &Value) -> String {
    let text = match arguments {
        Value::Object(map) if map.len() == 1 => map
            .values()
            .next()
            .map(|value| {
                value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned)
            })
            .unwrap_or_default(),
        other => other.to_string(),
    };
    let line = text.replace('\n', "⏎");
    if line.chars().count() > 100 {
        format!("{}…", line.chars().take(100).collect::<String>())
    } else {
        line
    }
}

/// Asks on the terminal before a tool that needs approval runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct TerminalApprover;

impl TerminalApprover {
    /// Whether there is a terminal to ask on.
    pub fn available() -> bool {
        std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
    }
}

impl Approver for TerminalApprover {
    fn approve<'a>(
        &'a self,
        request: &'a ApprovalRequest,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>> {
        let question = match request.arguments.get("command").and_then(Value::as_str) {
            Some(command) => format!("Run `{command}`?"),
            None => format!("Allow {} {}?", request.tool, request.arguments),
        };
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                eprint!("  ? {question} [y/N] ");
                let _ = std::io::stderr().flush();
                let mut answer = String::new();
                std::io::stdin().read_line(&mut answer).is_ok()
                    && matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
            })
            .await
            .unwrap_or(false)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bold_marks_become_terminal_bold_in_pairs_only() {
        assert_eq!(
            bold_marks("a **key** under **pot**", true),
            "a \x1b[1mkey\x1b[22m under \x1b[1mpot\x1b[22m"
        );
        assert_eq!(bold_marks("odd **one", true), "odd **one");
        assert_eq!(
            bold_marks("**a** and ** b", true),
            "\x1b[1ma\x1b[22m and ** b"
        );
        assert_eq!(bold_marks("a **key**", false), "a **key**");
    }
}
