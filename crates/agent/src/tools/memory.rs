//! Memory tools: `memory_search` (hybrid search over the workspace index), `memory_get` (line
//! ranges of memory files) and `memory_append` (add a note to today's daily log or `MEMORY.md`).
//!
//! The index is shared through a [`MemoryHandle`], which brings it up to date before the first
//! search after a write, so answers never come from stale files. Files are read on a blocking
//! thread under a time limit, and only regular files (see [`super::safe_io`]).
//!
//! Every note `memory_append` writes ends with where it came from (see
//! [`localgpt_memory::provenance`]): the handle's [`localgpt_memory::WriteSource`], and
//! `untrusted artifact (…)` when the conversation had read an untrusted artifact — text someone
//! else wrote (see [`TURN_TAINT`]). The agent loop asks the owner before such an append runs at
//! all (see [`crate::runtime::taint`]). `memory_search` and `memory_get` flag the notes they show
//! that were written from an untrusted artifact ([`super::note_source`]), so the loop knows when
//! a search found one; notes the owner's own turns wrote do not count.

use std::collections::HashMap;
use std::sync::Arc;

use localgpt_core::chat::ToolSpec;
use localgpt_core::fs::write_atomic;
use localgpt_memory::provenance::{escape_comments, provenance_marker};
use localgpt_memory::{HandleError, MemoryHandle, SearchOptions};
use serde_json::Value;

use super::note_source::{flag_line, untrusted_source};
use super::safe_io::{FILE_WORK_TIMEOUT, check_write_target, read_regular_text, run_blocking};
use super::{Tool, ToolContext, ToolError, ToolFuture, object_schema, string_arg, usize_arg};

/// Most results `memory_search` returns.
const MAX_RESULTS: usize = 25;
/// Most lines `memory_get` returns.
const MAX_GET_LINES: usize = 500;
/// Largest memory file `memory_get` and `memory_append` open.
const MAX_MEMORY_FILE_BYTES: u64 = 10 * 1024 * 1024;

tokio::task_local! {
    /// Which untrusted artifact (text someone other than the owner wrote) the running
    /// conversation has read, if any: the agent loop sets it around each tool call from its taint
    /// tracking, and `memory_append` then records its note as coming from an untrusted artifact.
    /// The owner's own notes found by `memory_search` do not set it.
    pub static TURN_TAINT: Option<String>;
}

/// Search results as a model reads them (the `memory_search` tool here and over MCP): rank, file,
/// lines, headings and snippet, then the search's note.
pub fn render_search_results(results: localgpt_memory::SearchResults) -> String {
    render_flagged_results(results, &[])
}

/// [`render_search_results`] with, under each hit whose `untrusted` entry is set, a line flagging
/// it as written from an untrusted artifact (that entry is the marker's label).
fn render_flagged_results(
    results: localgpt_memory::SearchResults,
    untrusted: &[Option<String>],
) -> String {
    if results.results.is_empty() {
        return results
            .note
            .unwrap_or_else(|| "No matches in memory.".to_owned());
    }
    let mut out = String::new();
    for (rank, hit) in results.results.iter().enumerate() {
        let heading = if hit.headings.is_empty() {
            String::new()
        } else {
            format!(" › {}", hit.headings.join(" › "))
        };
        out.push_str(&format!(
            "{}. {} (lines {}-{}){heading}\n   {}\n",
            rank + 1,
            hit.path,
            hit.start_line,
            hit.end_line,
            hit.snippet.replace('\n', " ")
        ));
        if let Some(Some(label)) = untrusted.get(rank) {
            let place = format!("{}:{}-{}", hit.path, hit.start_line, hit.end_line);
            out.push_str(&format!("   {}\n", flag_line(&place, label)));
        }
    }
    if let Some(note) = results.note {
        out.push_str(&format!("({note})\n"));
    }
    out
}

/// Searches memory by keywords and meaning.
#[derive(Debug, Clone)]
pub struct MemorySearch(pub MemoryHandle);

impl Tool for MemorySearch {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "memory_search".to_owned(),
            description: "Search the user's memory (MEMORY.md, daily logs, knowledge notes) by \
                          keywords and meaning. Use before answering about prior work, decisions, \
                          people, preferences or dates; then memory_get for more lines."
                .to_owned(),
            parameters: object_schema(&[
                ("query", "string", "What to look for", true),
                ("maxResults", "integer", "Most results (default 6)", false),
            ]),
        }
    }

    fn is_read_only(&self) -> bool {
        true
    }

    fn run<'a>(&'a self, arguments: Value, _context: &'a ToolContext) -> ToolFuture<'a> {
        Box::pin(async move {
            let query = string_arg(&arguments, "query")?.to_owned();
            let limit = usize_arg(&arguments, "maxResults")?
                .or(usize_arg(&arguments, "limit")?)
                .unwrap_or(6)
                .clamp(1, MAX_RESULTS);
            let options = SearchOptions {
                limit,
                recency_half_life_days: Some(30.0),
                ..SearchOptions::default()
            };
            let results = self
                .0
                .search(query, options)
                .await
                .map_err(|error| ToolError::Failed(format!("memory search failed: {error}")))?;
            let mut files: HashMap<String, Option<String>> = HashMap::new();
            let mut untrusted = Vec::with_capacity(results.results.len());
            for hit in &results.results {
                if !files.contains_key(&hit.path) {
                    let text = self.file_text(&hit.path).await;
                    files.insert(hit.path.clone(), text);
                }
                untrusted.push(match files.get(&hit.path) {
                    Some(Some(text)) => {
                        let lines: Vec<&str> = text.lines().collect();
                        untrusted_source(&lines, hit.start_line, hit.end_line)
                    }
                    // A file the index can no longer open: what it held is unknown.
                    _ => Some("a file whose notes could not be checked".to_owned()),
                });
            }
            Ok(render_flagged_results(results, &untrusted))
        })
    }
}

impl MemorySearch {
    /// The text of the indexed file `path`, to check the provenance of the notes a hit shows.
    async fn file_text(&self, path: &str) -> Option<String> {
        match self.0.indexed_file(path.to_owned()).await {
            Ok(Some(file)) => Some(file.text),
            Ok(None) | Err(_) => None,
        }
    }
}

/// Reads lines of a memory file.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemoryGet;

impl Tool for MemoryGet {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "memory_get".to_owned(),
            description: "Read lines of a memory file, e.g. a path and line from memory_search."
                .to_owned(),
            parameters: object_schema(&[
                ("path", "string", "File, relative to the workspace", true),
                ("from", "integer", "First line (1-based, default 1)", false),
                (
                    "lines",
                    "integer",
                    "How many lines (default 50, at most 500)",
                    false,
                ),
            ]),
        }
    }

    fn is_read_only(&self) -> bool {
        true
    }

    fn run<'a>(&'a self, arguments: Value, context: &'a ToolContext) -> ToolFuture<'a> {
        Box::pin(async move {
            let requested = string_arg(&arguments, "path")?;
            let from = usize_arg(&arguments, "from")?.unwrap_or(1).max(1);
            let count = usize_arg(&arguments, "lines")?
                .unwrap_or(50)
                .clamp(1, MAX_GET_LINES);
            if !requested.ends_with(".md") {
                return Err(ToolError::InvalidArguments(
                    "memory_get reads markdown memory files (*.md); use read_file for others"
                        .to_owned(),
                ));
            }
            let requested = requested.to_owned();
            let roots = Arc::clone(&context.roots);
            run_blocking("reading the memory file", FILE_WORK_TIMEOUT, move || {
                let path = roots.resolve(&requested)?;
                let shown = roots.display(&path);
                let text = read_regular_text(&path, &shown, MAX_MEMORY_FILE_BYTES)?
                    .ok_or_else(|| ToolError::Failed(format!("{shown} does not exist")))?;
                let lines: Vec<&str> = text.lines().collect();
                let shown_range = numbered_range(&shown, &text, from, count);
                Ok(
                    match untrusted_source(&lines, from, from.saturating_add(count - 1)) {
                        Some(label) => format!("{}\n{shown_range}", flag_line(&shown, &label)),
                        None => shown_range,
                    },
                )
            })
            .await
        })
    }
}

/// Lines `from..from+count` (1-based) of `text`, numbered, under a heading naming the file.
fn numbered_range(shown: &str, text: &str, from: usize, count: usize) -> String {
    let total = text.lines().count();
    let lines: Vec<String> = text
        .lines()
        .enumerate()
        .skip(from - 1)
        .take(count)
        .map(|(number, line)| format!("{:>5}  {line}", number + 1))
        .collect();
    if lines.is_empty() {
        return format!("{shown} has {total} lines; nothing at line {from}");
    }
    format!("{shown} (of {total} lines)\n{}", lines.join("\n"))
}

/// Adds a note to today's daily log (`memory/YYYY-MM-DD.md`) or to `MEMORY.md`.
#[derive(Debug, Clone)]
pub struct MemoryAppend(pub MemoryHandle);

impl Tool for MemoryAppend {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "memory_append".to_owned(),
            description: "Remember something: append a note to today's daily log (target \
                          \"daily\", the default) or to long-term MEMORY.md (target \"memory\", \
                          for durable facts and preferences)."
                .to_owned(),
            parameters: object_schema(&[
                ("text", "string", "The note, in markdown", true),
                (
                    "target",
                    "string",
                    "\"daily\" (default) or \"memory\"",
                    false,
                ),
            ]),
        }
    }

    fn run<'a>(&'a self, arguments: Value, context: &'a ToolContext) -> ToolFuture<'a> {
        Box::pin(async move {
            let text = string_arg(&arguments, "text")?.trim();
            if text.is_empty() {
                return Err(ToolError::InvalidArguments("`text` is empty".to_owned()));
            }
            let now = jiff::Zoned::now();
            let (relative, header) = match arguments.get("target").and_then(Value::as_str) {
                None | Some("daily") => {
                    let day = now.date();
                    (format!("memory/{day}.md"), format!("# {day}\n"))
                }
                Some("memory") => ("MEMORY.md".to_owned(), "# Memory\n".to_owned()),
                Some(other) => {
                    return Err(ToolError::InvalidArguments(format!(
                        "unknown target `{other}`; use \"daily\" or \"memory\""
                    )));
                }
            };
            let taint = TURN_TAINT.try_with(Clone::clone).ok().flatten();
            let marker = provenance_marker(self.0.source(), taint.as_deref());
            let entry = format!(
                "\n- {} {} {marker}\n",
                now.strftime("%H:%M"),
                escape_comments(text)
            );
            let roots = Arc::clone(&context.roots);
            let appended = run_blocking("appending to memory", FILE_WORK_TIMEOUT, move || {
                let path = roots.resolve(&relative)?;
                let shown = roots.display(&path);
                append_entry(&path, &shown, &header, &entry)?;
                Ok(shown)
            })
            .await?;
            self.0.mark_stale();
            Ok(format!("Appended to {appended}"))
        })
    }
}

/// Appends `entry` to the regular file `path` (starting it with `header` when it does not exist),
/// atomically.
fn append_entry(
    path: &std::path::Path,
    shown: &str,
    header: &str,
    entry: &str,
) -> Result<(), ToolError> {
    check_write_target(path, shown)?;
    let mut updated =
        read_regular_text(path, shown, MAX_MEMORY_FILE_BYTES)?.unwrap_or_else(|| header.to_owned());
    if !updated.ends_with('\n') {
        updated.push('\n');
    }
    updated.push_str(entry);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|error| {
            ToolError::Failed(format!("could not create the folder for {shown}: {error}"))
        })?;
    }
    write_atomic(path, updated.as_bytes())
        .map_err(|error| ToolError::Failed(format!("could not write {shown}: {error}")))
}

impl From<HandleError> for ToolError {
    fn from(error: HandleError) -> Self {
        Self::Failed(error.to_string())
    }
}
