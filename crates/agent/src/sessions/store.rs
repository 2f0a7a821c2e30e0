//! Session transcripts on disk: one `<id>.jsonl` per session under `state/sessions/`, created
//! with owner-only permissions and only ever appended to, one line per event, so a crash loses at
//! most the line being written and never rewrites what is there (a torn last line is set aside
//! before the next append; see `repair`).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::format::{Entry, EntryBody, FORMAT_VERSION, SessionHeader, TranscriptMessage};
use super::repair::{repair_tail, split_lines};
use super::trust::{self, TurnTrust};

/// Why a session could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// File system failure.
    #[error("session {path}: {source}")]
    Io {
        /// The transcript or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// No session matches the id.
    #[error("no session `{0}`; `localgpt sessions list` shows the saved ones")]
    NotFound(String),
    /// Several sessions start with the given prefix.
    #[error("`{prefix}` matches {count} sessions; give more of the id")]
    Ambiguous {
        /// The prefix given.
        prefix: String,
        /// How many matched.
        count: usize,
    },
    /// The id has characters no session id has (guards against paths such as `../x`).
    #[error("`{0}` is not a session id (ids are letters, digits and dashes)")]
    BadId(String),
    /// The first line is not a session header.
    #[error("{0}: not a session transcript (the first line is not a `session` header)")]
    NotATranscript(PathBuf),
}

/// The folder of transcripts.
#[derive(Debug, Clone)]
pub struct SessionStore {
    dir: PathBuf,
    /// Summaries by file, reused while the file's size and modification time are unchanged
    /// (transcripts only grow, so either changes with every new line). Clones share it.
    summaries: std::sync::Arc<std::sync::Mutex<HashMap<PathBuf, CachedSummary>>>,
}

#[derive(Debug, Clone)]
struct CachedSummary {
    len: u64,
    modified: std::time::SystemTime,
    summary: SessionSummary,
}

/// A line-level summary of a saved session, for listings.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSummary {
    /// Session id.
    pub id: String,
    /// Name from `session_info`, else the first user message (shortened).
    pub title: String,
    /// When it started.
    pub started: String,
    /// Last modification of the file.
    pub modified: std::time::SystemTime,
    /// User and assistant messages.
    pub messages: usize,
    /// Model of the last assistant message.
    pub model: Option<String>,
    /// Where its first input came from, when not from the owner directly (`heartbeat`,
    /// `job digest`, `telegram`, `untrusted api`…), from a `localgpt.origin` custom entry.
    pub origin: Option<String>,
}

/// A transcript read from disk.
#[derive(Debug, Clone)]
pub struct Transcript {
    /// The header line.
    pub header: SessionHeader,
    /// Every entry, in file order.
    pub entries: Vec<Entry>,
    /// Lines that could not be parsed (skipped, as OpenClaw does).
    pub skipped_lines: usize,
}

impl Transcript {
    /// Where the session's input came from (its `localgpt.origin` label), when recorded.
    pub fn origin(&self) -> Option<String> {
        trust::origin_label(&self.entries)
    }

    /// The trust of user turns without a `localgpt.trust` marker.
    pub fn default_trust(&self) -> TurnTrust {
        trust::default_trust(self.origin().as_deref())
    }

    /// The entries of the active branch (from the root to the last entry), in order.
    pub fn active_branch(&self) -> Vec<&Entry> {
        let Some(last) = self.entries.last() else {
            return Vec::new();
        };
        let by_id: HashMap<&str, &Entry> = self
            .entries
            .iter()
            .map(|entry| (entry.id.as_str(), entry))
            .collect();
        let mut branch = vec![last];
        let mut current = last;
        while let Some(parent) = current.parent_id.as_deref().and_then(|id| by_id.get(id)) {
            if branch.len() > self.entries.len() {
                break; // a cycle in a damaged file
            }
            branch.push(parent);
            current = parent;
        }
        branch.reverse();
        branch
    }

    /// Messages of the active branch.
    pub fn messages(&self) -> Vec<&TranscriptMessage> {
        self.active_branch()
            .into_iter()
            .filter_map(|entry| match &entry.body {
                EntryBody::Message { message } => Some(message),
                _ => None,
            })
            .collect()
    }

    /// The transcript as readable markdown.
    pub fn to_markdown(&self) -> String {
        let mut out = format!(
            "# Session {}\n\nStarted {}\n",
            self.header.id, self.header.timestamp
        );
        for message in self.messages() {
            let heading = match message {
                TranscriptMessage::User { .. } => "You".to_owned(),
                TranscriptMessage::Assistant { model, .. } if !model.is_empty() => {
                    format!("Assistant ({model})")
                }
                TranscriptMessage::Assistant { .. } => "Assistant".to_owned(),
                TranscriptMessage::ToolResult { tool_name, .. } => {
                    format!("Tool result: {tool_name}")
                }
                TranscriptMessage::Other(_) => message.role().to_owned(),
            };
            let mut body = message.text();
            if let TranscriptMessage::Assistant { content, .. } = message {
                for call in content
                    .iter()
                    .filter(|part| part.get("type").and_then(|t| t.as_str()) == Some("toolCall"))
                {
                    body.push_str(&format!(
                        "\n\n`{}({})`",
                        call.get("name").and_then(|n| n.as_str()).unwrap_or("tool"),
                        call.get("arguments")
                            .map(|a| a.to_string())
                            .unwrap_or_default()
                    ));
                }
            }
            out.push_str(&format!("\n## {heading}\n\n{}\n", body.trim()));
        }
        out
    }
}

/// Appends entries to one transcript.
#[derive(Debug)]
pub struct SessionWriter {
    id: String,
    path: PathBuf,
    file: File,
    last_id: Option<String>,
    /// The trust of user turns written without a marker.
    default_trust: TurnTrust,
}

impl SessionStore {
    /// A store over `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            summaries: std::sync::Arc::default(),
        }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Starts a new session whose working directory is `cwd`.
    pub fn create(&self, cwd: &Path) -> Result<SessionWriter, SessionError> {
        let io = |source| SessionError::Io {
            path: self.dir.clone(),
            source,
        };
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))
                .map_err(io)?;
        }
        let id = uuid::Uuid::new_v4().to_string();
        let path = self.dir.join(format!("{id}.jsonl"));
        let mut options = OpenOptions::new();
        options.create_new(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&path).map_err(|source| SessionError::Io {
            path: path.clone(),
            source,
        })?;
        let header = SessionHeader {
            kind: "session".to_owned(),
            version: FORMAT_VERSION,
            id: id.clone(),
            timestamp: now_iso(),
            cwd: cwd.display().to_string(),
            parent_session: None,
        };
        let mut writer = SessionWriter {
            id,
            path,
            file,
            last_id: None,
            default_trust: TurnTrust::Owner,
        };
        writer.write_line(&serde_json::to_string(&header).unwrap_or_default())?;
        Ok(writer)
    }

    /// Opens an existing session for appending; new entries continue its active branch.
    pub fn resume(&self, id_or_prefix: &str) -> Result<(SessionWriter, Transcript), SessionError> {
        let path = self.find(id_or_prefix)?;
        // A line torn by a crash must not glue onto the next entry.
        repair_tail(&path).map_err(|source| SessionError::Io {
            path: path.clone(),
            source,
        })?;
        let transcript = read_transcript(&path)?;
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|source| SessionError::Io {
                path: path.clone(),
                source,
            })?;
        let last_id = transcript.entries.last().map(|entry| entry.id.clone());
        Ok((
            SessionWriter {
                id: transcript.header.id.clone(),
                path,
                file,
                last_id,
                default_trust: transcript.default_trust(),
            },
            transcript,
        ))
    }

    /// Reads a session.
    pub fn load(&self, id_or_prefix: &str) -> Result<Transcript, SessionError> {
        read_transcript(&self.find(id_or_prefix)?)
    }

    /// The most recently modified session, if any.
    pub fn latest(&self) -> Result<Option<String>, SessionError> {
        Ok(self.list()?.into_iter().next().map(|summary| summary.id))
    }

    /// Names a session: appends a `session_info` entry, which lists and titles then show.
    pub fn rename(&self, id_or_prefix: &str, name: &str) -> Result<(), SessionError> {
        let (mut writer, _) = self.resume(id_or_prefix)?;
        writer.append(EntryBody::SessionInfo {
            name: name.trim().to_owned(),
        })?;
        Ok(())
    }

    /// Removes a session's transcript.
    pub fn delete(&self, id_or_prefix: &str) -> Result<(), SessionError> {
        let path = self.find(id_or_prefix)?;
        std::fs::remove_file(&path).map_err(|source| SessionError::Io { path, source })
    }

    /// Every session, most recently modified first.
    pub fn list(&self) -> Result<Vec<SessionSummary>, SessionError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(SessionError::Io {
                    path: self.dir.clone(),
                    source,
                });
            }
        };
        let mut cache = self
            .summaries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut seen = std::collections::HashSet::new();
        let mut summaries = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|ext| ext != "jsonl") {
                continue;
            }
            let stamp = entry
                .metadata()
                .ok()
                .and_then(|meta| Some((meta.len(), meta.modified().ok()?)));
            if let (Some((len, modified)), Some(cached)) = (stamp, cache.get(&path))
                && cached.len == len
                && cached.modified == modified
            {
                summaries.push(cached.summary.clone());
                seen.insert(path);
                continue;
            }
            match summarize(&path) {
                Ok(summary) => {
                    if let Some((len, modified)) = stamp {
                        cache.insert(
                            path.clone(),
                            CachedSummary {
                                len,
                                modified,
                                summary: summary.clone(),
                            },
                        );
                    }
                    seen.insert(path);
                    summaries.push(summary);
                }
                Err(error) => tracing::warn!("skipping {}: {error}", path.display()),
            }
        }
        // Forget deleted sessions.
        cache.retain(|path, _| seen.contains(path));
        summaries.sort_by_key(|summary| std::cmp::Reverse(summary.modified));
        Ok(summaries)
    }

    /// The transcript file of a session id or unique id prefix.
    pub fn find(&self, id_or_prefix: &str) -> Result<PathBuf, SessionError> {
        if id_or_prefix.is_empty()
            || !id_or_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(SessionError::BadId(id_or_prefix.to_owned()));
        }
        let exact = self.dir.join(format!("{id_or_prefix}.jsonl"));
        if exact.is_file() {
            return Ok(exact);
        }
        let matches: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|entry| entry.path())
                    .filter(|path| {
                        path.extension().is_some_and(|ext| ext == "jsonl")
                            && path.file_stem().is_some_and(|stem| {
                                stem.to_string_lossy().starts_with(id_or_prefix)
                            })
                    })
                    .collect()
            })
            .unwrap_or_default();
        match matches.len() {
            0 => Err(SessionError::NotFound(id_or_prefix.to_owned())),
            1 => Ok(matches.into_iter().next().unwrap_or(exact)),
            count => Err(SessionError::Ambiguous {
                prefix: id_or_prefix.to_owned(),
                count,
            }),
        }
    }
}

impl SessionWriter {
    /// The session id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The transcript file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends an entry after the previous one and returns its id. The line is flushed to disk
    /// before this returns.
    pub fn append(&mut self, body: EntryBody) -> Result<String, SessionError> {
        let id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        let entry = Entry {
            id: id.clone(),
            parent_id: self.last_id.clone(),
            timestamp: now_iso(),
            body,
        };
        let line = serde_json::to_string(&entry).map_err(|error| SessionError::Io {
            path: self.path.clone(),
            source: std::io::Error::other(error),
        })?;
        self.write_line(&line)?;
        self.last_id = Some(id.clone());
        Ok(id)
    }

    /// Records where the session's input came from (a Pi `custom` entry, not part of the
    /// conversation the model sees). A label starting with `untrusted` makes the session's
    /// unmarked user turns untrusted.
    pub fn append_origin(&mut self, label: &str) -> Result<String, SessionError> {
        let id = self.append(trust::origin_body(label))?;
        if trust::is_untrusted_label(label) {
            self.default_trust = TurnTrust::Untrusted {
                source: label.to_owned(),
            };
        }
        Ok(id)
    }

    /// Appends a user's message written by `who`; when that differs from the session's default,
    /// a `localgpt.trust` entry before it says so.
    pub fn append_user(
        &mut self,
        message: TranscriptMessage,
        who: &TurnTrust,
    ) -> Result<String, SessionError> {
        if who.is_untrusted() != self.default_trust.is_untrusted() {
            self.append(trust::marker_body(who))?;
        }
        self.append_message(message)
    }

    /// Appends a message entry.
    pub fn append_message(&mut self, message: TranscriptMessage) -> Result<String, SessionError> {
        self.append(EntryBody::Message { message })
    }

    fn write_line(&mut self, line: &str) -> Result<(), SessionError> {
        let io = |source| SessionError::Io {
            path: self.path.clone(),
            source,
        };
        // One write call per line, so concurrent readers never see half an entry from us.
        let mut buffer = Vec::with_capacity(line.len() + 1);
        buffer.extend_from_slice(line.as_bytes());
        buffer.push(b'\n');
        self.file.write_all(&buffer).map_err(io)?;
        self.file.sync_data().map_err(io)
    }
}

/// Reads a transcript, skipping lines that do not parse (a torn last line among them) and reading
/// lines that are not valid UTF-8 lossily.
pub fn read_transcript(path: &Path) -> Result<Transcript, SessionError> {
    let bytes = std::fs::read(path).map_err(|source| SessionError::Io {
        path: path.to_owned(),
        source,
    })?;
    let split = split_lines(&bytes);
    if split.lossy > 0 || split.torn {
        tracing::warn!(
            "{}: {} line(s) not valid UTF-8{}",
            path.display(),
            split.lossy,
            if split.torn { ", a torn last line" } else { "" }
        );
    }
    let mut lines = split.lines.into_iter();
    let header: SessionHeader = lines
        .next()
        .and_then(|line| serde_json::from_str(&line).ok())
        .filter(|header: &SessionHeader| header.kind == "session")
        .ok_or_else(|| SessionError::NotATranscript(path.to_owned()))?;
    let mut entries = Vec::new();
    let mut skipped_lines = usize::from(split.torn);
    for line in lines {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Entry>(&line) {
            Ok(entry) => entries.push(entry),
            Err(_) => skipped_lines += 1,
        }
    }
    Ok(Transcript {
        header,
        entries,
        skipped_lines,
    })
}

fn summarize(path: &Path) -> Result<SessionSummary, SessionError> {
    let transcript = read_transcript(path)?;
    let modified = std::fs::metadata(path)
        .and_then(|meta| meta.modified())
        .map_err(|source| SessionError::Io {
            path: path.to_owned(),
            source,
        })?;
    let name = transcript
        .entries
        .iter()
        .rev()
        .find_map(|entry| match &entry.body {
            EntryBody::SessionInfo { name } => Some(name.clone()),
            _ => None,
        });
    let origin = transcript.origin();
    let messages = transcript.messages();
    let first_user = messages
        .iter()
        .find(|m| matches!(m, TranscriptMessage::User { .. }))
        .map(|m| m.text());
    let title = name
        .or(first_user)
        .map(|text| shorten(&text, 60))
        .unwrap_or_else(|| "(empty)".to_owned());
    let model = messages.iter().rev().find_map(|message| match message {
        TranscriptMessage::Assistant { model, .. } if !model.is_empty() => Some(model.clone()),
        _ => None,
    });
    let count = messages
        .iter()
        .filter(|m| {
            matches!(
                m,
                TranscriptMessage::User { .. } | TranscriptMessage::Assistant { .. }
            )
        })
        .count();
    Ok(SessionSummary {
        id: transcript.header.id.clone(),
        title,
        started: transcript.header.timestamp,
        modified,
        messages: count,
        origin,
        model,
    })
}

fn shorten(text: &str, max_chars: usize) -> String {
    let single_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if single_line.chars().count() <= max_chars {
        single_line
    } else {
        format!(
            "{}…",
            single_line.chars().take(max_chars - 1).collect::<String>()
        )
    }
}

fn now_iso() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}
