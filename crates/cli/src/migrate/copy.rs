//! Copying files from OpenClaw without ever overwriting: a file LocalGPT already has is kept
//! (identical ones are noted as such), new files are created atomically, and the source is only
//! read. Every decision lands in the report, so `--dry-run` shows exactly what a real run does.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileAction {
    /// Copied (or, in a dry run, would be).
    Copied,
    /// Already here with the same content.
    Same,
    /// Already here with other content: LocalGPT's file is kept.
    Kept,
}

/// One file's line in the report.
#[derive(Debug, Clone, Serialize)]
pub struct FileStep {
    /// What kind of thing it is: `workspace`, `skill`, `session`.
    pub kind: &'static str,
    /// Where it came from.
    pub from: PathBuf,
    /// Where it goes.
    pub to: PathBuf,
    /// What happened.
    pub action: FileAction,
}

/// Writes `bytes` to `to` unless it exists; records the step (from `from`).
pub fn write_file(
    kind: &'static str,
    from: &Path,
    bytes: &[u8],
    to: &Path,
    dry_run: bool,
    steps: &mut Vec<FileStep>,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let action = match std::fs::read(to) {
        Ok(existing) if existing == bytes => FileAction::Same,
        Ok(_) => FileAction::Kept,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            if !dry_run {
                if let Some(parent) = to.parent() {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("creating {}", parent.display()))?;
                }
                localgpt_core::fs::write_new(to, bytes)
                    .with_context(|| format!("writing {}", to.display()))?;
            }
            FileAction::Copied
        }
        Err(error) => return Err(error).with_context(|| format!("reading {}", to.display())),
    };
    steps.push(FileStep {
        kind,
        from: from.to_owned(),
        to: to.to_owned(),
        action,
    });
    Ok(())
}

/// Copies one file unless `to` exists; records the step.
pub fn copy_file(
    kind: &'static str,
    from: &Path,
    to: &Path,
    dry_run: bool,
    steps: &mut Vec<FileStep>,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let bytes = std::fs::read(from).with_context(|| format!("reading {}", from.display()))?;
    write_file(kind, from, &bytes, to, dry_run, steps)
}

/// Copies every file under `from` to the same place under `to`, leaving out hidden entries,
/// symbolic links and `skip`ped top-level names.
pub fn copy_tree(
    kind: &'static str,
    from: &Path,
    to: &Path,
    skip: &[&str],
    dry_run: bool,
    steps: &mut Vec<FileStep>,
) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(from) else {
        return Ok(());
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let name = entry.file_name();
        let name_text = name.to_string_lossy();
        if name_text.starts_with('.') || skip.contains(&name_text.as_ref()) {
            continue;
        }
        let Ok(kind_of) = entry.file_type() else {
            continue;
        };
        if kind_of.is_dir() {
            copy_tree(kind, &entry.path(), &to.join(&name), &[], dry_run, steps)?;
        } else if kind_of.is_file() {
            copy_file(kind, &entry.path(), &to.join(&name), dry_run, steps)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_overwritten_and_a_dry_run_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("from");
        let to = dir.path().join("to");
        std::fs::create_dir_all(from.join("memory")).unwrap();
        std::fs::create_dir_all(from.join(".git")).unwrap();
        std::fs::write(from.join("MEMORY.md"), "theirs").unwrap();
        std::fs::write(from.join("SOUL.md"), "same").unwrap();
        std::fs::write(from.join("memory/2026-01-01.md"), "log").unwrap();
        std::fs::write(from.join(".git/config"), "x").unwrap();
        std::fs::create_dir_all(&to).unwrap();
        std::fs::write(to.join("MEMORY.md"), "mine").unwrap();
        std::fs::write(to.join("SOUL.md"), "same").unwrap();

        let mut planned = Vec::new();
        copy_tree("workspace", &from, &to, &[], true, &mut planned).unwrap();
        assert!(!to.join("memory").exists(), "a dry run writes nothing");
        let mut done = Vec::new();
        copy_tree("workspace", &from, &to, &[], false, &mut done).unwrap();
        let actions: Vec<(String, FileAction)> = done
            .iter()
            .map(|step| {
                (
                    step.to.strip_prefix(&to).unwrap().display().to_string(),
                    step.action,
                )
            })
            .collect();
        assert_eq!(
            actions,
            [
                ("MEMORY.md".to_owned(), FileAction::Kept),
                ("SOUL.md".to_owned(), FileAction::Same),
                ("memory/2026-01-01.md".to_owned(), FileAction::Copied),
            ]
        );
        assert_eq!(planned.len(), done.len());
        assert_eq!(
            std::fs::read_to_string(to.join("MEMORY.md")).unwrap(),
            "mine"
        );
        assert!(!to.join(".git").exists());
    }
}
