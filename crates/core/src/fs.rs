//! Writing user files safely: a temporary file in the same folder, flushed to disk, then renamed
//! over the target, so a crash leaves either the old content or the new, never half of each.

use std::io::Write;
use std::path::Path;

/// Writes `contents` to `path` atomically, creating parent folders as needed.
pub fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent)?;
    let mut temp = tempfile::Builder::new()
        .prefix(".localgpt-write-")
        .tempfile_in(parent)?;
    temp.write_all(contents)?;
    temp.as_file().sync_all()?;
    if let Ok(existing) = std::fs::metadata(path) {
        temp.as_file().set_permissions(existing.permissions())?;
    }
    temp.persist(path).map_err(|error| error.error)?;
    if let Ok(dir) = std::fs::File::open(parent) {
        // Make the rename itself durable; not every platform can sync a directory, so a failure
        // here is no reason to report the write as failed.
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Creates `path` with `contents` only if it does not exist yet; returns whether it was written.
pub fn write_new(path: &Path, contents: &[u8]) -> std::io::Result<bool> {
    if path.exists() {
        return Ok(false);
    }
    write_atomic(path, contents)?;
    Ok(true)
}

/// Whether `path` is a file the current user may execute.
pub fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// The first executable called `name` in the folders of `search_path` (a `PATH`-style list).
pub fn find_executable(name: &str, search_path: &std::ffi::OsStr) -> Option<std::path::PathBuf> {
    std::env::split_paths(search_path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_content_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sub/MEMORY.md");
        write_atomic(&target, b"first").unwrap();
        write_atomic(&target, b"second").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "second");
        let names: Vec<_> = std::fs::read_dir(target.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("MEMORY.md")]);
    }

    #[test]
    fn write_new_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("SOUL.md");
        assert!(write_new(&target, b"mine").unwrap());
        assert!(!write_new(&target, b"theirs").unwrap());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "mine");
    }
}
