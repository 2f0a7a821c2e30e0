//! The starter workspace that `localgpt config init` creates: the memory files a new assistant
//! needs, in LocalGPT's own words, and the folders it fills over time. Existing files are kept.

use std::path::{Path, PathBuf};

use crate::fs::write_new;

/// Folders every workspace has.
pub const WORKSPACE_DIRS: &[&str] = &["memory", "knowledge", "skills", "tools"];

/// Starter files: name and content.
pub const STARTER_FILES: &[(&str, &str)] = &[
    ("AGENTS.md", AGENTS),
    ("SOUL.md", SOUL),
    ("IDENTITY.md", IDENTITY),
    ("USER.md", USER),
    ("TOOLS.md", TOOLS),
    ("MEMORY.md", MEMORY),
    ("HEARTBEAT.md", HEARTBEAT),
];

/// What creating a workspace did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WorkspaceReport {
    /// Files and folders written now.
    pub created: Vec<PathBuf>,
    /// Files that already existed and were left untouched.
    pub kept: Vec<PathBuf>,
}

/// Creates the workspace folders and starter files under `root`, never overwriting a file.
pub fn create_workspace(root: &Path) -> std::io::Result<WorkspaceReport> {
    let mut report = WorkspaceReport::default();
    if !root.exists() {
        std::fs::create_dir_all(root)?;
        report.created.push(root.to_owned());
    }
    for dir in WORKSPACE_DIRS {
        let path = root.join(dir);
        if !path.is_dir() {
            std::fs::create_dir_all(&path)?;
            report.created.push(path);
        }
    }
    for (name, contents) in STARTER_FILES {
        let path = root.join(name);
        if write_new(&path, contents.as_bytes())? {
            report.created.push(path);
        } else {
            report.kept.push(path);
        }
    }
    Ok(report)
}

const AGENTS: &str = "# AGENTS.md — how to work in this workspace

This folder is your memory. Each session starts fresh; these files are what carries over.

## Every session
- Read `SOUL.md` (who you are), `USER.md` (who you help) and `MEMORY.md` (what you know).
- Today's and yesterday's notes in `memory/YYYY-MM-DD.md` hold recent context.
- Search memory before answering questions about past work, decisions or preferences.

## Writing things down
- If it matters tomorrow, write it down: a thought you keep only in context is gone next session.
- Day-to-day notes go to today's `memory/YYYY-MM-DD.md`; durable facts and decisions to `MEMORY.md`.
- Longer reference material belongs under `knowledge/`, one topic per file.

## Care
- Ask before doing anything that leaves this machine or cannot be undone.
- Never store passwords, keys or tokens in memory files.
";

const SOUL: &str = "# SOUL.md — who you are

- Be useful first: answer the question, then offer what else might help.
- Be direct and honest. Say when you are unsure, and say what you would check.
- Keep answers short unless depth is asked for.
- Respect privacy: what you learn here stays here.
- You may have opinions; hold them lightly and explain them.

Edit this file to shape your assistant's personality.
";

const IDENTITY: &str = "# IDENTITY.md

- Name: LocalGPT
- Nature: a personal assistant that runs on this computer and keeps its memory as markdown
- Tone: calm, clear, friendly
";

const USER: &str = "# USER.md — about the person you help

- Name:
- What to call them:
- Time zone:
- Work and interests:
- Preferences (tone, length, formats):

Fill this in, or let the assistant learn and record it here.
";

const TOOLS: &str = "# TOOLS.md — notes about this machine and its tools

Write down what the assistant should know about your setup: project folders, preferred commands,
devices, hosts and their nicknames. Skills describe how tools work; this file records how yours are
set up.
";

const MEMORY: &str = "# MEMORY.md — long-term memory

Durable facts, decisions and preferences. Keep it curated: move old day-to-day detail into
`memory/` logs and keep this file short enough to read at the start of every session.
";

const HEARTBEAT: &str = "# HEARTBEAT.md — background tasks

The daemon reads this file on every heartbeat (see `[heartbeat]` in config.toml). Open tasks
(`- [ ]`) are worked on and ticked (`- [x]`) when done. With no open tasks the heartbeat does
nothing and makes no model call.

The examples below are inside a comment, so nothing runs until you add your own tasks.

<!--
- [ ] Every morning, summarise yesterday's daily log into MEMORY.md
- [ ] Check knowledge/reading-list.md and suggest the next article
-->
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_all_files_and_folders_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("workspace");
        let first = create_workspace(&root).unwrap();
        assert!(first.kept.is_empty());
        for (name, _) in STARTER_FILES {
            assert!(root.join(name).is_file(), "{name}");
        }
        for folder in WORKSPACE_DIRS {
            assert!(root.join(folder).is_dir(), "{folder}");
        }
        std::fs::write(root.join("SOUL.md"), "my own soul").unwrap();
        let second = create_workspace(&root).unwrap();
        assert!(second.created.is_empty());
        assert_eq!(second.kept.len(), STARTER_FILES.len());
        assert_eq!(
            std::fs::read_to_string(root.join("SOUL.md")).unwrap(),
            "my own soul"
        );
    }

    #[test]
    fn heartbeat_examples_are_commented_out() {
        let open_tasks = HEARTBEAT
            .split("<!--")
            .next()
            .unwrap()
            .lines()
            .filter(|line| line.trim_start().starts_with("- [ ]"))
            .count();
        assert_eq!(open_tasks, 0);
    }
}
