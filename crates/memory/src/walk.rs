//! Finding the markdown files to index under the workspace and `extra_paths`: hidden folders are
//! skipped, symlinks are followed with loop detection, and files that are too large, binary or
//! not UTF-8 are skipped with a warning naming them.
//!
//! Every folder and file is checked against [`MemoryRoots`] by its real path (symlinks followed),
//! so a `notes.md` symlink into `~/.ssh`, or a symlinked folder into `~/.aws`, is skipped with a
//! warning naming the link, while symlinks that stay inside the memory folders work. Only links are
//! resolved with a system call; a plain entry's real path is its folder's real path plus its name.
//!
//! Names must be UTF-8 so that the name stored in the index opens the same file again (from a
//! tool, the API or a terminal); files and folders whose names are not are skipped with a
//! warning. Names with newlines or control characters are valid UTF-8 and are indexed under their
//! exact name; whoever prints them escapes them ([`localgpt_core::text::display_path`]).

use std::io::Read;
use std::path::{Path, PathBuf};

use localgpt_core::text::display_path;

use crate::roots::MemoryRoots;

/// A markdown file found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundFile {
    /// Where it is, as reached from its root.
    pub absolute: PathBuf,
    /// Where it really is (symlinks followed), checked against the memory roots: the path read.
    pub real: PathBuf,
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

/// Where one walk stands: what it found and skipped.
#[derive(Default)]
struct Walk {
    found: Vec<FoundFile>,
    skipped: Vec<SkippedFile>,
    seen: std::collections::HashSet<(u64, u64, PathBuf)>,
}

impl Walk {
    fn skip(&mut self, path: &Path, reason: String) {
        tracing::warn!("skipping {}: {reason}", display_path(path));
        self.skipped.push(SkippedFile {
            path: path.to_owned(),
            reason,
        });
    }
}

/// Files to index, sorted by key, plus what was skipped. `roots` decides which real paths may be
/// read (see [`MemoryRoots`]).
pub fn find_markdown(
    workspace: &Path,
    extra_paths: &[PathBuf],
    max_file_size: u64,
    roots: &MemoryRoots,
) -> (Vec<FoundFile>, Vec<SkippedFile>) {
    let mut walk = Walk::default();
    for (root, relative) in std::iter::once((workspace, true))
        .chain(extra_paths.iter().map(|path| (path.as_path(), false)))
    {
        walk_root(&mut walk, root, relative, max_file_size, roots);
    }
    let Walk {
        mut found, skipped, ..
    } = walk;
    found.sort_by(|a, b| a.key.cmp(&b.key));
    found.dedup_by(|a, b| a.key == b.key);
    (found, skipped)
}

fn walk_root(
    walk: &mut Walk,
    root: &Path,
    relative: bool,
    max_file_size: u64,
    roots: &MemoryRoots,
) {
    let Ok(real_root) = root.canonicalize() else {
        return; // a root that does not exist (yet) has nothing to index
    };
    if let Err(refusal) = roots.check_real(root, &real_root) {
        walk.skip(root, refusal.to_string());
        return;
    }
    // Real paths of the folders on the current branch, by depth.
    let mut real_dirs: Vec<PathBuf> = vec![real_root];
    let mut walker = walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| {
            entry.depth() == 0
                || !entry.file_name().as_encoded_bytes().starts_with(b".")
                    && entry.file_name() != "node_modules"
        });
    while let Some(entry) = walker.next() {
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
                walk.skip(&path, reason);
                continue;
            }
        };
        let depth = entry.depth();
        if depth == 0 {
            continue;
        }
        let is_dir = entry.file_type().is_dir();
        let wanted = is_dir || entry.file_type().is_file() && is_markdown(entry.path());
        if !wanted {
            continue;
        }
        if entry.file_name().to_str().is_none() {
            walk.skip(
                entry.path(),
                "its name is not UTF-8, so it could not be opened again by the name the index \
                 would give it; rename it to index it"
                    .to_owned(),
            );
            if is_dir {
                walker.skip_current_dir();
            }
            continue;
        }
        let real = if entry.path_is_symlink() {
            match entry.path().canonicalize() {
                Ok(real) => real,
                Err(error) => {
                    walk.skip(entry.path(), format!("cannot resolve the symlink: {error}"));
                    if is_dir {
                        walker.skip_current_dir();
                    }
                    continue;
                }
            }
        } else {
            match real_dirs.get(depth - 1) {
                Some(parent) => parent.join(entry.file_name()),
                None => continue,
            }
        };
        if let Err(refusal) = roots.check_real(entry.path(), &real) {
            if entry.path_is_symlink() || !is_dir {
                walk.skip(entry.path(), refusal.to_string());
            } else {
                tracing::debug!("not indexing {}: {refusal}", display_path(entry.path()));
            }
            if is_dir {
                walker.skip_current_dir();
            }
            continue;
        }
        if is_dir {
            real_dirs.truncate(depth);
            real_dirs.push(real);
            continue;
        }
        add_file(walk, &entry, real, root, relative, max_file_size);
    }
}

fn add_file(
    walk: &mut Walk,
    entry: &walkdir::DirEntry,
    real: PathBuf,
    root: &Path,
    relative: bool,
    max_file_size: u64,
) {
    let Ok(metadata) = entry.metadata() else {
        return;
    };
    if !walk.seen.insert(file_identity(&metadata, &real)) {
        return; // the same file reached twice through symlinks
    }
    if metadata.len() > max_file_size {
        let reason = format!(
            "{} bytes is over memory.max_file_size ({max_file_size} bytes)",
            metadata.len()
        );
        walk.skip(entry.path(), reason);
        return;
    }
    let key = if relative {
        entry
            .path()
            .strip_prefix(root)
            .unwrap_or(entry.path())
            .to_str()
            .map(|key| key.replace('\\', "/"))
    } else {
        entry.path().to_str().map(str::to_owned)
    };
    let Some(key) = key else {
        walk.skip(
            entry.path(),
            "its path is not UTF-8, so it could not be opened again by the name the index would \
             give it"
                .to_owned(),
        );
        return;
    };
    let mtime_ns = metadata
        .modified()
        .ok()
        .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |since| {
            i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
        });
    walk.found.push(FoundFile {
        absolute: entry.path().to_owned(),
        real,
        key,
        mtime_ns,
        size: metadata.len(),
    });
}

/// What makes two paths the same file: device and inode on Unix (no extra system call), the
/// real path elsewhere.
fn file_identity(metadata: &std::fs::Metadata, real: &Path) -> (u64, u64, PathBuf) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let _ = real;
        (metadata.dev(), metadata.ino(), PathBuf::new())
    }
    #[cfg(not(unix))]
    {
        let _ = metadata;
        (0, 0, real.to_owned())
    }
}

fn is_markdown(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("md") || ext.eq_ignore_ascii_case("markdown"))
}

/// Opens `path` for reading only when it is a regular file, never through a symlink in its last
/// component and never waiting on a named pipe or device (opened non-blocking, checked after
/// opening).
pub fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_NOCTTY);
    }
    let file = options.open(path)?;
    if !file.metadata()?.file_type().is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(file)
}

/// Reads a file as UTF-8 text, refusing binary content (NUL bytes) and invalid UTF-8 with a
/// reason that names the problem. Only regular files are read (see [`open_regular`]).
pub fn read_text(path: &Path) -> Result<String, String> {
    let mut bytes = Vec::new();
    open_regular(path)
        .and_then(|mut file| file.read_to_end(&mut bytes))
        .map_err(|error| error.to_string())?;
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
        let roots = MemoryRoots::new(
            &ws,
            std::slice::from_ref(&extra),
            localgpt_core::protected::ProtectedPaths::new(None, &[]),
        );
        let (found, skipped) = find_markdown(&ws, std::slice::from_ref(&extra), 1000, &roots);
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
