//! Finding the markdown files to index under the workspace and `extra_paths`: hidden folders are
//! skipped, symlinks are followed with loop detection, and files that are too large, binary or
//! not UTF-8 are skipped with a warning naming them.

use std::path::{Path, PathBuf};

/// A markdown file found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundFile {
    /// Where it is.
    pub absolute: PathBuf,
    /// The path stored in the index: relative to the workspace for workspace files, absolute for
    /// files under `extra_paths`.
    pub key: String,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// Size in bytes.
    pub size: u64,
}

/// A file that was left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SkippedFile {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

/// Files to index, sorted by key, plus what was skipped.
pub fn find_markdown(
    workspace: &Path,
    extra_paths: &[PathBuf],
    max_file_size: u64,
) -> (Vec<FoundFile>, Vec<SkippedFile>) {
    let mut found = Vec::new();
    let mut skipped = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (root, relative) in std::iter::once((workspace, true))
        .chain(extra_paths.iter().map(|path| (path.as_path(), false)))
    {
        if !root.exists() {
            continue;
        }
        let walker = walkdir::WalkDir::new(root)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|entry| {
                entry.depth() == 0
                    || !entry.file_name().to_string_lossy().starts_with('.')
                        && entry.file_name() != "node_modules"
            });
        for entry in walker {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    let path = error
                        .path()
                        .map(Path::to_path_buf)
                        .unwrap_or_else(|| root.to_owned());
                    let reason = if error.loop_ancestor().is_some() {
                        "symlink loop".to_owned()
                    } else {
                        error.to_string()
                    };
                    tracing::warn!("skipping {}: {reason}", path.display());
                    skipped.push(SkippedFile { path, reason });
                    continue;
                }
            };
            if !entry.file_type().is_file() || !is_markdown(entry.path()) {
                continue;
            }
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            if !seen.insert(file_identity(&metadata, entry.path())) {
                continue; // the same file reached twice through symlinks
            }
            if metadata.len() > max_file_size {
                let reason = format!(
                    "{} bytes is over memory.max_file_size ({max_file_size} bytes)",
                    metadata.len()
                );
                tracing::warn!("skipping {}: {reason}", entry.path().display());
                skipped.push(SkippedFile {
                    path: entry.path().to_owned(),
                    reason,
                });
                continue;
            }
            let key = if relative {
                entry
                    .path()
                    .strip_prefix(workspace)
                    .unwrap_or(entry.path())
                    .to_string_lossy()
                    .replace('\\', "/")
            } else {
                entry.path().to_string_lossy().into_owned()
            };
            let mtime_ns = metadata
                .modified()
                .ok()
                .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |since| {
                    i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
                });
            found.push(FoundFile {
                absolute: entry.path().to_owned(),
                key,
                mtime_ns,
                size: metadata.len(),
            });
        }
    }
    found.sort_by(|a, b| a.key.cmp(&b.key));
    found.dedup_by(|a, b| a.key == b.key);
    (found, skipped)
}

/// What makes two paths the same file: device and inode on Unix (no extra system call), the
/// canonical path elsewhere.
fn file_identity(metadata: &std::fs::Metadata, path: &Path) -> (u64, u64, PathBuf) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let _ = path;
        (metadata.dev(), metadata.ino(), PathBuf::new())
    }
    #[cfg(not(unix))]
    {
        let _ = metadata;
        (
            0,
            0,
            path.canonicalize().unwrap_or_else(|_| path.to_owned()),
        )
    }
}

fn is_markdown(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("md") || ext.eq_ignore_ascii_case("markdown"))
}

/// Reads a file as UTF-8 text, refusing binary content (NUL bytes) and invalid UTF-8 with a
/// reason that names the problem.
pub fn read_text(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|error| error.to_string())?;
    if bytes.iter().take(8192).any(|&byte| byte == 0) {
        return Err("binary content (NUL bytes)".to_owned());
    }
    String::from_utf8(bytes).map_err(|error| {
        format!(
            "not UTF-8 (invalid byte at offset {})",
            error.utf8_error().valid_up_to()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_markdown_and_skips_hidden_big_and_loops() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        std::fs::create_dir_all(ws.join("memory")).unwrap();
        std::fs::create_dir_all(ws.join(".git")).unwrap();
        std::fs::write(ws.join("MEMORY.md"), "m").unwrap();
        std::fs::write(ws.join("memory/2026-11-24.md"), "d").unwrap();
        std::fs::write(ws.join(".git/notes.md"), "hidden").unwrap();
        std::fs::write(ws.join("image.png"), "x").unwrap();
        std::fs::write(ws.join("big.md"), "x".repeat(2000)).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&ws, ws.join("memory/loop")).unwrap();
        let extra = dir.path().join("extra");
        std::fs::create_dir_all(&extra).unwrap();
        std::fs::write(extra.join("ref.markdown"), "r").unwrap();
        let (found, skipped) = find_markdown(&ws, std::slice::from_ref(&extra), 1000);
        let keys: Vec<_> = found.iter().map(|f| f.key.clone()).collect();
        assert_eq!(
            keys,
            vec![
                extra.join("ref.markdown").to_string_lossy().into_owned(),
                "MEMORY.md".to_owned(),
                "memory/2026-11-24.md".to_owned()
            ]
        );
        assert!(skipped.iter().any(|s| s.reason.contains("max_file_size")));
        #[cfg(unix)]
        assert!(
            skipped.iter().any(|s| s.reason == "symlink loop"),
            "{skipped:?}"
        );
    }

    #[test]
    fn binary_and_non_utf8_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.md"), b"ok \xff\xfe").unwrap();
        std::fs::write(dir.path().join("b.md"), b"PK\x00\x03").unwrap();
        assert!(
            read_text(&dir.path().join("a.md"))
                .unwrap_err()
                .contains("not UTF-8")
        );
        assert!(
            read_text(&dir.path().join("b.md"))
                .unwrap_err()
                .contains("binary")
        );
    }
}
