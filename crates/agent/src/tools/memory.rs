//! Memory tools: `memory_search` (hybrid search over the workspace index), `memory_get` (line
//! ranges of memory files) and `memory_append` (add a note to today's daily log or `MEMORY.md`).
//!
//! The index is brought up to date (`ensure_fresh`) before the first search of a turn and after
//! every append, so answers never come from stale files. The index sits behind a blocking lock and
//! SQLite, and the files are read from disk, so every piece of this work runs on a blocking thread
//! under a time limit, and only regular files are read (see [`super::safe_io`]).
//!
//! Every note `memory_append` writes ends with where it came from, as an HTML comment that
//! rendered markdown hides and a reader (or [`entry_source`]) can parse:
//! `- 09:12 Buy milk <!-- source: owner turn -->`. The source is the turn's origin (the owner, a
//! job, the heartbeat, a stranger's event), and `untrusted artifact (…)` when the turn had read
//! text someone else may have written (see [`TURN_TAINT`]). A note cannot forge the marker: any
//! `<!--` in its text is escaped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use localgpt_core::chat::ToolSpec;
use localgpt_core::fs::write_atomic;
use localgpt_memory::{MemoryIndex, SearchOptions};
use serde_json::Value;

use super::safe_io::{FILE_WORK_TIMEOUT, check_write_target, read_regular_text, run_blocking};
use super::{Tool, ToolContext, ToolError, ToolFuture, object_schema, string_arg, usize_arg};

/// Most results `memory_search` returns.
const MAX_RESULTS: usize = 25;
/// Most lines `memory_get` returns.
const MAX_GET_LINES: usize = 500;
/// Largest memory file `memory_get` and `memory_append` open.
const MAX_MEMORY_FILE_BYTES: u64 = 10 * 1024 * 1024;
/// How long a search may wait for the index (which may be busy bringing itself up to date).
const INDEX_WORK_TIMEOUT: Duration = Duration::from_secs(300);

/// The memory index, shared by the memory tools of one agent.
#[derive(Clone)]
pub struct MemoryHandle {
    index: Arc<Mutex<MemoryIndex>>,
    fresh: Arc<AtomicBool>,
    source: WriteSource,
    /// Called after a reindex that wrote or removed files (the embedding worker's kick).
    on_change: Arc<std::sync::OnceLock<ChangeHook>>,
    /// When a search or other work last used the index (see [`MemoryHandle::used_within`]).
    last_used: Arc<Mutex<Option<std::time::Instant>>>,
}

/// What runs after the index changed.
type ChangeHook = Arc<dyn Fn() + Send + Sync>;

/// Runs the change hook when `report` wrote or removed files.
fn after_reindex(
    on_change: &std::sync::OnceLock<ChangeHook>,
    report: &localgpt_memory::ReindexReport,
) {
    if (report.files_indexed > 0 || report.files_removed > 0)
        && let Some(hook) = on_change.get()
    {
        hook();
    }
}

tokio::task_local! {
    /// What untrusted text the running turn has read (the agent loop sets it around each tool
    /// call from its taint tracking); `memory_append` then records its note as coming from an
    /// untrusted artifact.
    pub static TURN_TAINT: Option<String>;
}

/// The origin of the turn that writes to memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum WriteSource {
    /// The owner, at the keyboard, on the API or in the web UI.
    #[default]
    Owner,
    /// A scheduled job, by name.
    Job(String),
    /// The heartbeat.
    Heartbeat,
    /// An event from someone other than the owner, by where it came from.
    Untrusted(String),
    /// Another trusted channel (e.g. `telegram`).
    Other(String),
}

impl WriteSource {
    /// The source of a session labelled `origin` (the daemon's labels: `heartbeat`,
    /// `job NAME`, `untrusted SOURCE`, `telegram`); `None` is the owner.
    pub fn from_origin(origin: Option<&str>) -> Self {
        match origin {
            None => Self::Owner,
            Some("heartbeat") => Self::Heartbeat,
            Some(label) => match label.split_once(' ') {
                Some(("job", name)) => Self::Job(name.to_owned()),
                Some(("untrusted", from)) => Self::Untrusted(from.to_owned()),
                _ if label == "untrusted" => Self::Untrusted(String::new()),
                _ => Self::Other(label.to_owned()),
            },
        }
    }

    /// How the source reads in the daily log.
    pub fn label(&self) -> String {
        let label = match self {
            Self::Owner => "owner turn".to_owned(),
            Self::Job(name) => format!("job {name}"),
            Self::Heartbeat => "heartbeat".to_owned(),
            Self::Untrusted(from) => format!("untrusted event {from}"),
            Self::Other(channel) => channel.clone(),
        };
        plain_label(&label)
    }
}

/// `text` reduced to a short label that cannot end the comment it sits in or start a new line:
/// letters, digits, spaces and `.:/_()@-`, no `--`, at most 120 characters.
fn plain_label(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let keep = c.is_alphanumeric() || " .:/_()@-".contains(c);
        let c = if keep { c } else { ' ' };
        if (c == '-' && out.ends_with('-')) || (c == ' ' && (out.is_empty() || out.ends_with(' ')))
        {
            continue;
        }
        out.push(c);
    }
    out.trim().chars().take(120).collect()
}

/// The comment that ends an entry written by a turn from `source` that had read `taint`.
fn provenance_marker(source: &WriteSource, taint: Option<&str>) -> String {
    match taint {
        None => format!("<!-- source: {} -->", source.label()),
        Some(reason) => format!(
            "<!-- source: untrusted artifact ({}) in {} -->",
            plain_label(reason),
            source.label()
        ),
    }
}

/// The source recorded at the end of a daily-log line (`owner turn`, `job digest`,
/// `heartbeat`, `untrusted artifact (…) in owner turn`), or `None` when it has none.
pub fn entry_source(line: &str) -> Option<&str> {
    let body = line.trim_end().strip_suffix("-->")?;
    let start = body.rfind("<!-- source: ")?;
    let source = body[start + "<!-- source: ".len()..].trim();
    (!source.is_empty() && !source.contains("<!--")).then_some(source)
}

/// The note's text with every `<!--` escaped (`<\!--` renders as the same characters), so a
/// note cannot open a comment that hides text or poses as a provenance marker.
fn escape_comments(text: &str) -> String {
    text.replace("<!--", "<\\!--")
}

impl std::fmt::Debug for MemoryHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryHandle").finish_non_exhaustive()
    }
}

impl MemoryHandle {
    /// Shares `index` with the memory tools.
    pub fn new(index: MemoryIndex) -> Self {
        Self {
            index: Arc::new(Mutex::new(index)),
            fresh: Arc::new(AtomicBool::new(false)),
            on_change: Arc::new(std::sync::OnceLock::new()),
            last_used: Arc::new(Mutex::new(None)),
            source: WriteSource::Owner,
        }
    }

    /// The same index, for a turn from `source`: what `memory_append` writes through this handle
    /// records it.
    pub fn with_source(&self, source: WriteSource) -> Self {
        Self {
            source,
            ..self.clone()
        }
    }

    /// Marks the index as possibly out of date (files were written).
    pub fn mark_stale(&self) {
        self.fresh.store(false, Ordering::SeqCst);
    }

    /// The index itself, locked, for work on this (blocking) thread.
    pub(crate) fn lock_index(&self) -> Result<std::sync::MutexGuard<'_, MemoryIndex>, ToolError> {
        self.index
            .lock()
            .map_err(|_| ToolError::Failed("the memory index is unavailable".to_owned()))
    }

    /// Lines recall weighs whose vectors are not cached yet, on this thread (see
    /// [`MemoryIndex::uncached_recall_lines`]); `None` without an embedding model.
    pub fn uncached_recall_lines(
        &self,
        before_chunk: i64,
        max_texts: usize,
    ) -> Result<Option<localgpt_memory::LineBatch>, ToolError> {
        self.lock_index()?
            .uncached_recall_lines(before_chunk, max_texts)
            .map_err(|error| ToolError::Failed(error.to_string()))
    }

    /// Indexes keyword-first from now on: chunks whose vectors are not cached are left for an
    /// [`crate::embedding_worker::EmbeddingWorker`] (see
    /// [`MemoryIndex::set_embed_later`]).
    pub fn embed_later(&self) -> Result<(), ToolError> {
        self.lock_index()?.set_embed_later(true);
        Ok(())
    }

    /// Notes that a search (a turn's recall, a tool, the API) is using the index now.
    fn mark_used(&self) {
        if let Ok(mut last) = self.last_used.lock() {
            *last = Some(std::time::Instant::now());
        }
    }

    /// Whether a search (a turn's recall, the `memory_search` tool, the API) used the index
    /// within `window`: the embedding worker then leaves the machine to it half of the time.
    /// Status reads do not count.
    pub fn used_within(&self, window: Duration) -> bool {
        self.last_used
            .lock()
            .map(|last| last.is_some_and(|at| at.elapsed() < window))
            .unwrap_or(false)
    }

    /// Runs `hook` after every reindex through this handle (or its clones) that writes or
    /// removes files; the first hook set stays.
    pub fn on_index_change(&self, hook: impl Fn() + Send + Sync + 'static) {
        let _first = self.on_change.set(Arc::new(hook));
    }

    /// Brings the index up to date now, on this thread (the daemon's file watcher calls this).
    pub fn refresh_now(&self) -> Result<localgpt_memory::ReindexReport, ToolError> {
        let report = self
            .lock_index()?
            .ensure_fresh()
            .map_err(|error| ToolError::Failed(error.to_string()))?;
        self.fresh.store(true, Ordering::SeqCst);
        after_reindex(&self.on_change, &report);
        Ok(report)
    }

    /// Searches the index (refreshed first when stale), for callers other than the tools.
    pub async fn search(
        &self,
        query: String,
        options: SearchOptions,
    ) -> Result<localgpt_memory::SearchResults, ToolError> {
        self.mark_used();
        self.with_fresh_index(move |index| {
            index
                .search_or_rebuild(&query, options)
                .map_err(|error| ToolError::Failed(error.to_string()))
        })
        .await
    }

    /// Vectors for `texts` from the index's embedding model (cached); `None` without one.
    pub async fn embed_texts(
        &self,
        texts: Vec<String>,
    ) -> Result<Option<Vec<Vec<f32>>>, ToolError> {
        self.with_fresh_index(move |index| {
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            index
                .embed_texts(&texts)
                .map_err(|error| ToolError::Failed(error.to_string()))
        })
        .await
    }

    /// The index's statistics.
    pub async fn stats(&self) -> Result<localgpt_memory::IndexStats, ToolError> {
        self.with_fresh_index(|index| {
            index
                .stats()
                .map_err(|error| ToolError::Failed(error.to_string()))
        })
        .await
    }

    /// The text of a file the index lists (for opening a search hit); `None` when it lists no
    /// such path.
    pub async fn indexed_file(
        &self,
        path: String,
    ) -> Result<Option<localgpt_memory::IndexedFile>, ToolError> {
        self.with_fresh_index(move |index| {
            index
                .indexed_file(&path)
                .map_err(|error| ToolError::Failed(error.to_string()))
        })
        .await
    }

    /// Reindexes now (`force` re-chunks every file), reporting progress to `progress` as it goes.
    pub async fn reindex(
        &self,
        force: bool,
        progress: impl FnMut(localgpt_memory::Progress) + Send + 'static,
    ) -> Result<localgpt_memory::ReindexReport, ToolError> {
        let index = Arc::clone(&self.index);
        let fresh = Arc::clone(&self.fresh);
        let on_change = Arc::clone(&self.on_change);
        let mut progress = progress;
        tokio::task::spawn_blocking(move || {
            let report = index
                .lock()
                .map_err(|_| ToolError::Failed("the memory index is unavailable".to_owned()))?
                .reindex(force, &mut progress)
                .map_err(|error| ToolError::Failed(error.to_string()))?;
            fresh.store(true, Ordering::SeqCst);
            after_reindex(&on_change, &report);
            Ok(report)
        })
        .await
        .map_err(|error| ToolError::Failed(format!("reindex stopped: {error}")))?
    }

    /// Runs `work` on the index on a blocking thread, refreshing it first when stale.
    async fn with_fresh_index<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut MemoryIndex) -> Result<T, ToolError> + Send + 'static,
    ) -> Result<T, ToolError> {
        let index = Arc::clone(&self.index);
        let fresh = Arc::clone(&self.fresh);
        let on_change = Arc::clone(&self.on_change);
        run_blocking("the memory search", INDEX_WORK_TIMEOUT, move || {
            let mut index = index
                .lock()
                .map_err(|_| ToolError::Failed("the memory index is unavailable".to_owned()))?;
            if !fresh.swap(true, Ordering::SeqCst) {
                match index.ensure_fresh() {
                    Ok(report) => after_reindex(&on_change, &report),
                    Err(error) => {
                        fresh.store(false, Ordering::SeqCst);
                        tracing::warn!("memory index refresh failed: {error}");
                    }
                }
            }
            work(&mut index)
        })
        .await
    }
}

/// Search results as a model reads them (the `memory_search` tool here and over MCP): rank, file,
/// lines, headings and snippet, then the search's note.
pub fn render_search_results(results: localgpt_memory::SearchResults) -> String {
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
            self.0.mark_used();
            let results = self
                .0
                .with_fresh_index(move |index| {
                    index.search_or_rebuild(&query, options).map_err(|error| {
                        ToolError::Failed(format!("memory search failed: {error}"))
                    })
                })
                .await?;
            Ok(render_search_results(results))
        })
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
                Ok(numbered_range(&shown, &text, from, count))
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
            let marker = provenance_marker(&self.0.source, taint.as_deref());
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
