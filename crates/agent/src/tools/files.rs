//! File tools: `read_file`, `write_file`, `edit_file` and `list_dir`. Paths are resolved against
//! the workspace and confined to the allowed roots after `..` and symlinks are resolved; writes
//! are atomic (temporary file, then rename), so a crash never leaves half a file. Only regular
//! files are read or replaced (never a pipe, socket or device), and all file work runs on a
//! blocking thread under a time limit, so no file can stall the daemon. `read_file` flags lines
//! that belong to a note written from an untrusted artifact ([`super::note_source`]).

use std::path::Path;
use std::sync::Arc;

use localgpt_core::chat::ToolSpec;
use localgpt_core::fs::write_atomic;
use serde_json::Value;

use super::note_source::{flag_line, untrusted_source};
use super::safe_io::{
    FILE_WORK_TIMEOUT, check_folder, check_write_target, read_regular_text, run_blocking,
};
use super::{Tool, ToolContext, ToolError, ToolFuture, object_schema, string_arg, usize_arg};

/// Largest file `read_file` opens.
const MAX_READ_BYTES: u64 = 10 * 1024 * 1024;
/// Lines `read_file` returns when no limit is given.
const DEFAULT_READ_LINES: usize = 2_000;

fn io_error(action: &str, shown: &str, error: &std::io::Error) -> ToolError {
    ToolError::Failed(format!("could not {action} {shown}: {error}"))
}

fn missing(shown: &str) -> ToolError {
    ToolError::Failed(format!("{shown} does not exist"))
}

/// The text of the regular file `path`, or why it cannot be read.
fn read_text(path: &Path, shown: &str) -> Result<String, ToolError> {
    if path.is_dir() {
        return Err(ToolError::Failed(format!(
            "{shown} is a folder; use list_dir"
        )));
    }
    read_regular_text(path, shown, MAX_READ_BYTES)?.ok_or_else(|| missing(shown))
}

/// Reads a text file, optionally a range of lines, with line numbers.
#[derive(Debug, Default)]
pub struct ReadFile;

impl Tool for ReadFile {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "read_file".to_owned(),
            description: "Read a text file. Paths are relative to the workspace. Returns numbered \
                          lines; use offset and limit for long files."
                .to_owned(),
            parameters: object_schema(&[
                ("path", "string", "File to read", true),
                ("offset", "integer", "First line to return (1-based)", false),
                (
                    "limit",
                    "integer",
                    "Most lines to return (default 2000)",
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
            let offset = usize_arg(&arguments, "offset")?.unwrap_or(1).max(1);
            let limit = usize_arg(&arguments, "limit")?.unwrap_or(DEFAULT_READ_LINES);
            let requested = requested.to_owned();
            let roots = Arc::clone(&context.roots);
            run_blocking("reading the file", FILE_WORK_TIMEOUT, move || {
                let path = roots.resolve(&requested)?;
                let shown = roots.display(&path);
                let text = read_text(&path, &shown)?;
                let numbered = numbered_lines(&text, offset, limit);
                // Notes memory_append wrote from an untrusted artifact are flagged as such.
                let lines: Vec<&str> = text.lines().collect();
                let last = offset.saturating_add(limit.max(1) - 1);
                Ok(match untrusted_source(&lines, offset, last) {
                    Some(label) => format!("{}\n{numbered}", flag_line(&shown, &label)),
                    None => numbered,
                })
            })
            .await
        })
    }
}

/// Lines `offset..offset+limit` (1-based) prefixed with their numbers, and a note when more follow.
fn numbered_lines(text: &str, offset: usize, limit: usize) -> String {
    let total = text.lines().count();
    if total == 0 {
        return "(empty file)".to_owned();
    }
    let mut out = String::new();
    for (number, line) in text.lines().enumerate().skip(offset - 1).take(limit) {
        out.push_str(&format!("{:>5}  {line}\n", number + 1));
    }
    let last = (offset - 1 + limit).min(total);
    if out.is_empty() {
        out = format!("(the file has {total} lines; offset {offset} is past the end)\n");
    } else if last < total {
        out.push_str(&format!(
            "[lines {offset}-{last} of {total}; continue with offset {}]\n",
            last + 1
        ));
    }
    out
}

/// Writes a whole file atomically, creating folders as needed.
#[derive(Debug, Default)]
pub struct WriteFile;

impl Tool for WriteFile {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "write_file".to_owned(),
            description: "Create or replace a whole file with the given content. Prefer edit_file \
                          to change part of an existing file."
                .to_owned(),
            parameters: object_schema(&[
                (
                    "path",
                    "string",
                    "File to write, relative to the workspace",
                    true,
                ),
                ("content", "string", "The complete new content", true),
            ]),
        }
    }

    fn run<'a>(&'a self, arguments: Value, context: &'a ToolContext) -> ToolFuture<'a> {
        Box::pin(async move {
            let requested = string_arg(&arguments, "path")?;
            let content = string_arg(&arguments, "content")?.to_owned();
            let requested = requested.to_owned();
            let roots = Arc::clone(&context.roots);
            run_blocking("writing the file", FILE_WORK_TIMEOUT, move || {
                let path = roots.resolve(&requested)?;
                let shown = roots.display(&path);
                let existed = check_write_target(&path, &shown)?;
                create_parent(&path, &shown)?;
                write_atomic(&path, content.as_bytes())
                    .map_err(|e| io_error("write", &shown, &e))?;
                Ok(format!(
                    "{} {shown} ({} bytes, {} lines)",
                    if existed { "Replaced" } else { "Created" },
                    content.len(),
                    content.lines().count()
                ))
            })
            .await
        })
    }
}

fn create_parent(path: &Path, shown: &str) -> Result<(), ToolError> {
    match path.parent() {
        Some(parent) => std::fs::create_dir_all(parent)
            .map_err(|e| io_error("create the folder for", shown, &e)),
        None => Ok(()),
    }
}

/// Replaces one exact, unique piece of a file.
#[derive(Debug, Default)]
pub struct EditFile;

impl Tool for EditFile {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "edit_file".to_owned(),
            description: "Replace an exact piece of text in a file. old_text must appear exactly \
                          once (include surrounding lines to make it unique)."
                .to_owned(),
            parameters: object_schema(&[
                (
                    "path",
                    "string",
                    "File to edit, relative to the workspace",
                    true,
                ),
                ("old_text", "string", "The exact text to replace", true),
                ("new_text", "string", "What to put in its place", true),
            ]),
        }
    }

    fn run<'a>(&'a self, arguments: Value, context: &'a ToolContext) -> ToolFuture<'a> {
        Box::pin(async move {
            let requested = string_arg(&arguments, "path")?;
            let old_text = string_arg(&arguments, "old_text")?;
            let new_text = string_arg(&arguments, "new_text")?;
            if old_text.is_empty() {
                return Err(ToolError::InvalidArguments(
                    "`old_text` must not be empty; use write_file to create a file".to_owned(),
                ));
            }
            let (requested, old_text, new_text) = (
                requested.to_owned(),
                old_text.to_owned(),
                new_text.to_owned(),
            );
            let roots = Arc::clone(&context.roots);
            run_blocking("editing the file", FILE_WORK_TIMEOUT, move || {
                let path = roots.resolve(&requested)?;
                let shown = roots.display(&path);
                let text = read_text(&path, &shown)?;
                let updated = replace_unique(&text, &old_text, &new_text)
                    .map_err(|problem| ToolError::Failed(format!("{shown}: {problem}")))?;
                write_atomic(&path, updated.as_bytes())
                    .map_err(|e| io_error("write", &shown, &e))?;
                Ok(format!("Edited {shown}"))
            })
            .await
        })
    }
}

/// `text` with the single occurrence of `old` replaced, or why it cannot be.
fn replace_unique(text: &str, old: &str, new: &str) -> Result<String, String> {
    let mut found = text.match_indices(old);
    let Some((at, _)) = found.next() else {
        return Err("old_text was not found (it must match exactly, including spaces)".to_owned());
    };
    let others = found.count();
    if others > 0 {
        return Err(format!(
            "old_text appears {} times; include more surrounding text so it is unique",
            others + 1
        ));
    }
    Ok(format!("{}{new}{}", &text[..at], &text[at + old.len()..]))
}

/// Lists a folder: names, `/` after folders, sizes.
#[derive(Debug, Default)]
pub struct ListDir;

/// Entries `list_dir` shows at most.
const MAX_LIST_ENTRIES: usize = 500;

impl Tool for ListDir {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "list_dir".to_owned(),
            description: "List the files and folders in a folder (default: the workspace)."
                .to_owned(),
            parameters: object_schema(&[(
                "path",
                "string",
                "Folder to list, relative to the workspace",
                false,
            )]),
        }
    }

    fn is_read_only(&self) -> bool {
        true
    }

    fn run<'a>(&'a self, arguments: Value, context: &'a ToolContext) -> ToolFuture<'a> {
        Box::pin(async move {
            let requested = arguments
                .get("path")
                .and_then(Value::as_str)
                .unwrap_or(".")
                .to_owned();
            let roots = Arc::clone(&context.roots);
            run_blocking("listing the folder", FILE_WORK_TIMEOUT, move || {
                let path = roots.resolve(&requested)?;
                list_folder(&path, &roots.display(&path))
            })
            .await
        })
    }
}

/// One line per entry of the real folder `path`: folders end in `/`, files show their size, and
/// pipes, sockets and devices are named as such (their names are shown, never opened).
fn list_folder(path: &Path, shown: &str) -> Result<String, ToolError> {
    check_folder(path, shown)?;
    let reader = std::fs::read_dir(path).map_err(|e| io_error("list", shown, &e))?;
    let mut entries: Vec<(String, String)> = reader
        .filter_map(Result::ok)
        .map(|entry| {
            let name = localgpt_core::text::display_path(Path::new(&entry.file_name()));
            // `DirEntry::metadata` does not follow symlinks, so nothing is opened here.
            let detail = match entry.metadata() {
                Ok(metadata) if metadata.is_dir() => "/".to_owned(),
                Ok(metadata) if metadata.is_file() => format!("  ({} bytes)", metadata.len()),
                Ok(metadata) if metadata.file_type().is_symlink() => "  (symbolic link)".to_owned(),
                Ok(_) => "  (special file: pipe, socket or device)".to_owned(),
                Err(_) => "  (unreadable)".to_owned(),
            };
            (name, detail)
        })
        .collect();
    entries.sort();
    if entries.is_empty() {
        return Ok(format!("{shown} is empty"));
    }
    let total = entries.len();
    let mut out = String::new();
    for (name, detail) in entries.into_iter().take(MAX_LIST_ENTRIES) {
        out.push_str(&format!("{name}{detail}\n"));
    }
    if total > MAX_LIST_ENTRIES {
        out.push_str(&format!("[{MAX_LIST_ENTRIES} of {total} entries shown]\n"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_unique_explains_missing_and_repeated_text() {
        assert_eq!(replace_unique("a b c", "b", "x").unwrap(), "a x c");
        assert!(
            replace_unique("a b c", "z", "x")
                .unwrap_err()
                .contains("not found")
        );
        assert!(
            replace_unique("b b", "b", "x")
                .unwrap_err()
                .contains("2 times")
        );
    }

    #[test]
    fn numbered_lines_page_through_a_file() {
        let text = "one\ntwo\nthree\n";
        assert_eq!(
            numbered_lines(text, 2, 1),
            "    2  two\n[lines 2-2 of 3; continue with offset 3]\n"
        );
        assert!(numbered_lines(text, 9, 5).contains("past the end"));
        assert_eq!(numbered_lines("", 1, 5), "(empty file)");
    }
}
