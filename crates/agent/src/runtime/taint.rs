//! Taint tracking for the agent loop: once the conversation has read text that someone other than
//! the owner may have written — a fetched page, memory search results, a file this conversation
//! did not write itself, a command's output, a replayed message from a stranger — the model's
//! next moves may be steered by that text. From then on, the side effects that would let such text
//! persist or leak need the owner's approval: writing the workspace files that shape every
//! session (AGENTS.md, HEARTBEAT.md, skills/ …), running `bash`, and `web_fetch` calls that carry
//! data (a query, a fragment or credentials in the URL) to a host not fetched earlier in the turn.
//!
//! A finer mark sits next to it: whether the conversation has read an **untrusted artifact** —
//! text that someone other than the owner wrote, as opposed to the owner's own notes. Then
//! `memory_append` — and writing or editing a markdown file (memory search indexes them: the same
//! note by another door) or any file in the workspace (a later conversation would read it back as
//! the owner's) — needs the owner's approval too, and an approved note records
//! `untrusted artifact (…)` as its source ([`crate::tools::memory::TURN_TAINT`]). What counts:
//!
//! - a web page (`web_fetch`), the output of `bash`, of a script tool, of an MCP server's tool
//!   (`SERVER__TOOL`) or of any other tool not named below — a command can print any file or
//!   address, and a remote tool returns someone else's words (in its errors too);
//! - a message from someone other than the owner, a precheck's output, and, in a resumed
//!   conversation, a replayed stranger's message or a compaction summary that covered untrusted
//!   content (the summary cannot tell which kind it covered, so it counts);
//! - a file read with `read_file` or `memory_get` outside the workspace (another allowed folder,
//!   such as `~/Downloads`, is where a stranger's text lands) and the names `list_dir` shows
//!   there, or a file inside it when the lines shown include a note whose provenance marker
//!   names an untrusted source;
//! - `memory_search` hits and recalled notes whose provenance marker names an untrusted source
//!   (the tools flag them, see [`crate::tools::note_source`]).
//!
//! Such a note in the system prompt (MEMORY.md, today's and yesterday's daily logs, fenced as
//! notes) does not count: the owner approved it on its way in, and counting it would make every
//! conversation of those days ask; a copy of it would be marked as the owner's.
//!
//! The owner's own notes found by `memory_search`, files in the workspace without an untrusted
//! marker, listings of workspace folders and LocalGPT's own status lines do not count. The artifact store
//! (`state/artifacts`) is LocalGPT's own state, which no tool may read. The mark is per
//! conversation, not a text match: once set, every later `memory_append` asks, whatever it says.
//!
//! The classification lives here; the loop asks [`Taint::guard`] before a call and tells
//! [`Taint::observe`] after it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

pub use super::path_rules::PathRules;
use crate::tools::note_source::carries_flag;

/// Tools whose output is LocalGPT's own words (status lines, folder listings), never someone
/// else's text. Every other tool's output counts as untrusted, except reads of protected or
/// self-written files.
const CLEAN_OUTPUT_TOOLS: &[&str] = &["list_dir", "write_file", "edit_file", "memory_append"];

/// LocalGPT's own tools, whose errors are LocalGPT's words. Any other tool's error (an MCP
/// server's, a script's) may quote someone else.
const BUILT_IN_TOOLS: &[&str] = &[
    "read_file",
    "write_file",
    "edit_file",
    "list_dir",
    "memory_search",
    "memory_get",
    "memory_append",
    "bash",
    "web_fetch",
];

/// Tools that read one file named by their `path` argument.
const FILE_READERS: &[&str] = &["read_file", "memory_get"];

/// Tools that write one file named by their `path` argument.
const FILE_WRITERS: &[&str] = &["write_file", "edit_file"];

/// The tool that adds notes to memory.
const MEMORY_APPEND: &str = "memory_append";

/// What the conversation has read that the owner did not write, and what it wrote itself.
#[derive(Debug, Clone, Default)]
pub struct Taint {
    /// Why the conversation is tainted (the first untrusted thing it read), if it is.
    reason: Option<String>,
    /// The first untrusted artifact it read (text someone else wrote), if any.
    artifact: Option<String>,
    /// Files this conversation wrote (real paths): reading them back is not reading a stranger.
    written: HashSet<PathBuf>,
    /// Hosts fetched in the current turn (lowercase, without a trailing dot).
    fetched_hosts: HashSet<String>,
}

impl Taint {
    /// Whether untrusted content has been read.
    pub fn is_tainted(&self) -> bool {
        self.reason.is_some()
    }

    /// What made the conversation tainted.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// The untrusted artifact the conversation read first, when it read one: what a note
    /// `memory_append` writes records as its source.
    pub fn artifact(&self) -> Option<&str> {
        self.artifact.as_deref()
    }

    /// Records that untrusted content was read (the first reason is kept).
    pub fn mark(&mut self, reason: impl Into<String>) {
        if self.reason.is_none() {
            let reason = reason.into();
            tracing::info!("the conversation has read untrusted content: {reason}");
            self.reason = Some(reason);
        }
    }

    /// Records that an untrusted artifact — text someone other than the owner wrote — was read;
    /// the conversation is then tainted too (the first reason of each is kept).
    pub fn mark_artifact(&mut self, reason: impl Into<String>) {
        let reason = reason.into();
        self.mark(reason.clone());
        if self.artifact.is_none() {
            tracing::info!("the conversation has read an untrusted artifact: {reason}");
            self.artifact = Some(reason);
        }
    }

    /// A new turn starts: hosts are counted afresh. The taint itself stays, because what was
    /// read is still in the conversation the model sees.
    pub fn start_turn(&mut self) {
        self.fetched_hosts.clear();
    }

    /// Notes what a call that ran (`failed` or not) read or wrote; `output` is the result the
    /// model saw, when the call succeeded.
    pub fn observe(
        &mut self,
        tool: &str,
        arguments: &Value,
        failed: bool,
        output: Option<&str>,
        rules: &PathRules,
    ) {
        let path_arg = arguments.get("path").and_then(Value::as_str);
        if FILE_WRITERS.contains(&tool) {
            if !failed && let Some(path) = path_arg.and_then(|path| rules.resolve(path)) {
                self.written.insert(path);
            }
            return;
        }
        if tool == "web_fetch" {
            if let Some(host) = url_arg(arguments).and_then(|url| host_of(&url)) {
                self.fetched_hosts.insert(host.clone());
                self.mark_artifact(format!("a web page from {host}"));
            } else {
                self.mark_artifact("a web page");
            }
            return;
        }
        if failed {
            // A remote or script tool's error can carry its server's own words.
            if !BUILT_IN_TOOLS.contains(&tool) {
                self.mark_artifact(format!("the error of {tool}"));
            }
            return;
        }
        if tool == "list_dir" {
            // File names in a folder outside the workspace (a download's name) are a stranger's.
            let folder = path_arg.unwrap_or(".");
            if !rules
                .resolve(folder)
                .is_some_and(|path| rules.in_workspace(&path))
            {
                self.mark_artifact(format!("the names in {folder}, outside the workspace"));
            }
            return;
        }
        if CLEAN_OUTPUT_TOOLS.contains(&tool) {
            return;
        }
        let flagged = output.is_some_and(carries_flag);
        if FILE_READERS.contains(&tool) {
            let shown = path_arg.unwrap_or("(unnamed)");
            let resolved = path_arg.and_then(|path| rules.resolve(path));
            let outside = !resolved
                .as_ref()
                .is_some_and(|path| rules.in_workspace(path));
            if outside {
                self.mark_artifact(format!("the file {shown} outside the workspace ({tool})"));
            } else if flagged {
                self.mark_artifact(format!(
                    "the file {shown}, with notes written from an untrusted artifact ({tool})"
                ));
            }
            let trusted = resolved
                .is_some_and(|path| rules.is_protected(&path) || self.written.contains(&path));
            if !trusted {
                self.mark(format!("the file {shown} ({tool})"));
            }
            return;
        }
        if tool == "memory_search" {
            if flagged {
                self.mark_artifact(
                    "memory notes written from an untrusted artifact (memory_search)",
                );
            }
            self.mark(format!("the output of {tool}"));
            return;
        }
        self.mark_artifact(format!("the output of {tool}"));
    }

    /// Why `tool` with `arguments` needs the owner's approval now, or `None` when it does not.
    pub fn guard(&self, tool: &str, arguments: &Value, rules: &PathRules) -> Option<String> {
        self.content_guard(tool, arguments, rules)
            .or_else(|| self.artifact_guard(tool, arguments, rules))
    }

    /// Why `tool` needs approval because the conversation has read untrusted content at all.
    fn content_guard(&self, tool: &str, arguments: &Value, rules: &PathRules) -> Option<String> {
        let reason = self.reason.as_deref()?;
        let why = if tool == "bash" {
            "it runs a shell command".to_owned()
        } else if localgpt_scripts::is_script_tool(tool) {
            "it runs a script tool".to_owned()
        } else if FILE_WRITERS.contains(&tool) {
            let requested = arguments.get("path").and_then(Value::as_str)?;
            rules.names_protected(requested)?;
            format!("it changes {requested}, a file that shapes future sessions")
        } else if tool == "web_fetch" {
            let url = url_arg(arguments)?;
            if !carries_data(&url) {
                return None;
            }
            let host = host_of(&url)?;
            if self.fetched_hosts.contains(&host) {
                return None;
            }
            format!("it sends data in the address to {host}, a host not fetched in this turn")
        } else {
            return None;
        };
        Some(format!(
            "`{tool}` needs the owner's approval: this conversation has read untrusted content \
             ({reason}) and {why}"
        ))
    }

    /// Why a call that would write a note to memory needs the owner's approval because the
    /// conversation has read an untrusted artifact: `memory_append`, and writing or editing a
    /// markdown file (memory search indexes every one in the workspace, daily logs included).
    fn artifact_guard(&self, tool: &str, arguments: &Value, rules: &PathRules) -> Option<String> {
        let artifact = self.artifact.as_deref()?;
        let why = if tool == MEMORY_APPEND {
            "it saves a note to memory; an approved note is marked as coming from that artifact"
                .to_owned()
        } else if FILE_WRITERS.contains(&tool) {
            let requested = arguments.get("path").and_then(Value::as_str)?;
            let resolved = rules.resolve(requested);
            // The name asked for or the file it leads to (a link) may be the markdown one.
            let markdown = PathRules::is_memory_file(Path::new(requested))
                || resolved
                    .as_ref()
                    .is_some_and(|path| PathRules::is_memory_file(path));
            if markdown {
                format!("it changes {requested}, a markdown file that memory search reads")
            } else if resolved.is_some_and(|path| rules.in_workspace(&path)) {
                format!(
                    "it changes {requested}, a workspace file that later conversations read as \
                     the owner's"
                )
            } else {
                return None;
            }
        } else {
            return None;
        };
        Some(format!(
            "`{tool}` needs the owner's approval: this conversation has read an untrusted \
             artifact ({artifact}), text someone other than the owner wrote, and {why}"
        ))
    }

    /// Whether `tool` is one whose calls [`Taint::guard`] may hold back.
    pub fn may_guard(tool: &str) -> bool {
        tool == "bash"
            || localgpt_scripts::is_script_tool(tool)
            || tool == "web_fetch"
            || tool == MEMORY_APPEND
            || FILE_WRITERS.contains(&tool)
    }

    /// Whether running `tool` may taint the conversation.
    pub fn may_taint(tool: &str) -> bool {
        !CLEAN_OUTPUT_TOOLS.contains(&tool)
    }
}

fn url_arg(arguments: &Value) -> Option<reqwest::Url> {
    let raw = arguments.get("url").and_then(Value::as_str)?;
    reqwest::Url::parse(raw.trim()).ok()
}

/// Whether a URL carries data beyond where it points: a query, a fragment or credentials.
fn carries_data(url: &reqwest::Url) -> bool {
    url.query().is_some_and(|query| !query.is_empty())
        || url.fragment().is_some_and(|fragment| !fragment.is_empty())
        || !url.username().is_empty()
        || url.password().is_some()
}

fn host_of(url: &reqwest::Url) -> Option<String> {
    let host = url.host_str()?.trim_end_matches('.').to_ascii_lowercase();
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::tools::AllowedRoots;
    use serde_json::json;

    fn rules(dir: &Path) -> PathRules {
        let protected: Vec<String> = localgpt_core::config::DEFAULT_PROTECTED_PATHS
            .iter()
            .map(|p| (*p).to_owned())
            .collect();
        PathRules::new(dir, Arc::new(AllowedRoots::new(dir, &[])), &protected)
    }

    #[test]
    fn clean_conversations_are_not_guarded() {
        let dir = tempfile::tempdir().unwrap();
        let rules = rules(dir.path());
        let taint = Taint::default();
        assert_eq!(taint.guard("bash", &json!({"command": "ls"}), &rules), None);
        assert_eq!(
            taint.guard("write_file", &json!({"path": "AGENTS.md"}), &rules),
            None
        );
    }

    #[test]
    fn script_tools_are_guarded_like_bash_once_tainted() {
        let dir = tempfile::tempdir().unwrap();
        let rules = rules(dir.path());
        let mut taint = Taint::default();
        assert!(Taint::may_guard("js_word_count"));
        assert_eq!(taint.guard("js_word_count", &json!({}), &rules), None);
        taint.mark("a web page");
        let why = taint.guard("js_word_count", &json!({}), &rules).unwrap();
        assert!(why.contains("it runs a script tool"), "{why}");
    }

    #[test]
    fn protected_names_match_in_any_spelling() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("skills/x")).unwrap();
        let rules = rules(dir.path());
        let mut taint = Taint::default();
        taint.observe("memory_search", &json!({"query": "x"}), false, None, &rules);
        for path in [
            "AGENTS.md",
            "agents.md",
            "./HEARTBEAT.md",
            "notes/../SOUL.md",
            "skills/x/SKILL.md",
            "Skills/new.md",
            "tools/t.sh",
        ] {
            assert!(
                taint
                    .guard("edit_file", &json!({"path": path}), &rules)
                    .is_some(),
                "{path}"
            );
        }
        assert!(
            taint
                .guard("write_file", &json!({"path": "notes/AGENTS.md"}), &rules)
                .is_none()
        );
    }

    #[test]
    fn own_writes_and_protected_files_read_back_clean() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("AGENTS.md"), "rules").unwrap();
        let rules = rules(dir.path());
        let mut taint = Taint::default();
        taint.observe(
            "read_file",
            &json!({"path": "AGENTS.md"}),
            false,
            None,
            &rules,
        );
        taint.observe(
            "write_file",
            &json!({"path": "draft.md"}),
            false,
            None,
            &rules,
        );
        taint.observe(
            "read_file",
            &json!({"path": "draft.md"}),
            false,
            None,
            &rules,
        );
        assert!(!taint.is_tainted());
        taint.observe(
            "read_file",
            &json!({"path": "inbox.md"}),
            false,
            None,
            &rules,
        );
        assert!(taint.is_tainted());
    }

    #[test]
    fn fetches_carrying_data_to_new_hosts_are_guarded() {
        let dir = tempfile::tempdir().unwrap();
        let rules = rules(dir.path());
        let mut taint = Taint::default();
        taint.observe("memory_get", &json!({"path": "x.md"}), false, None, &rules);
        let guarded = |taint: &Taint, url: &str| {
            taint
                .guard("web_fetch", &json!({"url": url}), &rules)
                .is_some()
        };
        assert!(!guarded(&taint, "https://example.com/page"));
        assert!(guarded(&taint, "https://evil.example/?data=pin"));
        assert!(guarded(&taint, "https://evil.example/#pin"));
        assert!(guarded(&taint, "https://pin:4321@evil.example/"));
        assert!(guarded(&taint, "https://EVIL.example./?d=1"));
        taint.observe(
            "web_fetch",
            &json!({"url": "https://docs.example/a"}),
            false,
            None,
            &rules,
        );
        assert!(!guarded(&taint, "https://docs.example/search?q=rust"));
        taint.start_turn();
        assert!(guarded(&taint, "https://docs.example/search?q=rust"));
    }

    #[test]
    fn only_untrusted_artifacts_guard_memory_append() {
        let dir = tempfile::tempdir().unwrap();
        let rules = rules(dir.path());
        let append = json!({"text": "x"});
        let mut taint = Taint::default();
        // The owner's notes and files: tainted, but no artifact.
        taint.observe(
            "memory_search",
            &json!({"query": "x"}),
            false,
            Some("1. a.md"),
            &rules,
        );
        taint.observe(
            "read_file",
            &json!({"path": "notes.md"}),
            false,
            Some("x"),
            &rules,
        );
        assert!(taint.is_tainted());
        assert_eq!(taint.artifact(), None);
        assert_eq!(taint.guard("memory_append", &append, &rules), None);
        assert_eq!(
            taint.guard("write_file", &json!({"path": "memory/x.md"}), &rules),
            None
        );
        // A search that shows a flagged note is an artifact.
        let flagged = crate::tools::note_source::flag_line("a.md:1-2", "untrusted event mail");
        taint.observe(
            "memory_search",
            &json!({"query": "x"}),
            false,
            Some(&flagged),
            &rules,
        );
        let why = taint.guard("memory_append", &append, &rules).unwrap();
        assert!(why.contains("untrusted artifact (memory notes"), "{why}");
        for path in ["memory/x.md", "notes/a.MD", "b.markdown"] {
            assert!(
                taint
                    .guard("write_file", &json!({ "path": path }), &rules)
                    .is_some(),
                "{path}"
            );
        }
        assert!(
            taint
                .guard("write_file", &json!({"path": "draft.txt"}), &rules)
                .is_some()
        );
    }

    #[test]
    fn remote_tools_commands_and_outside_files_are_artifacts() {
        let dir = tempfile::tempdir().unwrap();
        let rules = rules(dir.path());
        for (tool, arguments) in [
            ("mail__latest", json!({})),
            ("bash", json!({"command": "cat x"})),
            ("js_word_count", json!({})),
            ("read_file", json!({"path": "/etc/hostname"})),
            ("memory_get", json!({"path": "../outside.md"})),
        ] {
            let mut taint = Taint::default();
            taint.observe(tool, &arguments, false, Some("text"), &rules);
            assert!(taint.artifact().is_some(), "{tool}");
            assert!(
                taint
                    .guard("memory_append", &json!({"text": "x"}), &rules)
                    .is_some(),
                "{tool}"
            );
        }
        let mut taint = Taint::default();
        taint.observe(
            "list_dir",
            &json!({"path": "."}),
            false,
            Some("a.md"),
            &rules,
        );
        taint.observe("bash", &json!({"command": "false"}), true, None, &rules);
        assert_eq!(taint.artifact(), None);
        taint.observe("mail__latest", &json!({}), true, None, &rules);
        assert!(taint.artifact().is_some());
    }
}
