//! Keeping the index file healthy and private. The index is derived data, so a damaged file —
//! garbage, truncated, a schema that is not LocalGPT's, pages SQLite reports as corrupt — is
//! never a dead end: it is moved aside as `index.sqlite.corrupt-<timestamp>` (with its `-wal` and
//! `-shm`, so a stale log is not replayed into the new file), a warning names where it went, and
//! a fresh index is built from the markdown. The file and its `-wal`/`-shm` are created 0600
//! whatever the process umask, and tightened to 0600 when an older LocalGPT left them readable.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::error::MemoryError;
use crate::schema;

/// Tables and the columns LocalGPT reads from them; a file missing any is not a usable index.
const EXPECTED_COLUMNS: &[(&str, &[&str])] = &[
    ("meta", &["key", "value"]),
    (
        "files",
        &["id", "path", "hash", "mtime_ns", "size", "indexed_at"],
    ),
    (
        "chunks",
        &[
            "id",
            "file_id",
            "start_line",
            "end_line",
            "heading",
            "text",
            "embed_hash",
        ],
    ),
    ("chunks_fts", &["heading", "text"]),
    ("chunks_cjk", &["grams", "chars"]),
    ("chunk_vectors", &["chunk_id", "embedding"]),
    ("embedding_cache", &["model", "hash", "embedding"]),
];

/// The `-wal` and `-shm` files SQLite keeps next to `path`.
fn sidecars(path: &Path) -> [PathBuf; 2] {
    let with = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    [with("-wal"), with("-shm")]
}

/// Creates `path` empty and 0600 when it does not exist (SQLite then creates the `-wal` and
/// `-shm` with the same permissions).
pub(crate) fn create_private(path: &Path) -> Result<(), MemoryError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(MemoryError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Removes group and other permissions from the index and its `-wal`/`-shm` (regular files
/// only; symlinks are left alone). Failures are logged, not fatal.
pub(crate) fn make_private(path: &Path) {
    #[cfg(unix)]
    for file in std::iter::once(path.to_owned()).chain(sidecars(path)) {
        use std::os::unix::fs::PermissionsExt;
        let Ok(metadata) = std::fs::symlink_metadata(&file) else {
            continue;
        };
        let mode = metadata.permissions().mode() & 0o7777;
        if metadata.file_type().is_file() && mode & 0o077 != 0 {
            let private = std::fs::Permissions::from_mode(mode & !0o077);
            if let Err(error) = std::fs::set_permissions(&file, private) {
                tracing::warn!("could not make {} private: {error}", file.display());
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Checks that every table and column LocalGPT reads exists.
pub(crate) fn check_schema(connection: &Connection, path: &Path) -> Result<(), MemoryError> {
    let sql = |source| MemoryError::sqlite(path, source);
    let mut statement = connection
        .prepare("SELECT name FROM pragma_table_info(?1)")
        .map_err(sql)?;
    for (table, columns) in EXPECTED_COLUMNS {
        let present: Vec<String> = statement
            .query_map([table], |row| row.get(0))
            .and_then(|rows| rows.collect())
            .map_err(sql)?;
        if let Some(missing) = columns
            .iter()
            .find(|column| !present.iter().any(|c| c == *column))
        {
            return Err(MemoryError::Corrupt {
                path: path.to_owned(),
                reason: if present.is_empty() {
                    format!("table `{table}` is missing")
                } else {
                    format!("table `{table}` has no column `{missing}`")
                },
            });
        }
    }
    Ok(())
}

/// Reads every page of the index (`PRAGMA quick_check`): slower than opening (about a second
/// per GB), so it is run for `memory reindex --force`, not for every search.
pub(crate) fn quick_check(connection: &Connection, path: &Path) -> Result<(), MemoryError> {
    let sql = |source| MemoryError::sqlite(path, source);
    let mut statement = connection.prepare("PRAGMA quick_check(5)").map_err(sql)?;
    let problems: Vec<String> = statement
        .query_map([], |row| row.get(0))
        .and_then(|rows| rows.collect())
        .map_err(sql)?;
    if problems.len() == 1 && problems[0] == "ok" {
        return Ok(());
    }
    Err(MemoryError::Corrupt {
        path: path.to_owned(),
        reason: problems.join("; "),
    })
}

/// Device and inode of `path`, so a recovery moves aside only the file it found damaged and not
/// one another process already rebuilt in its place.
pub(crate) fn identity(path: &Path) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path)
            .ok()
            .map(|meta| (meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        std::fs::metadata(path).ok().map(|meta| (meta.len(), 0))
    }
}

/// Moves the damaged index at `path` (and its `-wal`/`-shm`) aside as
/// `<name>.corrupt-<timestamp>`; returns where it went, or `None` when `path` is no longer the
/// file found damaged (`expected`: another process already rebuilt it).
pub(crate) fn move_aside(
    path: &Path,
    expected: Option<(u64, u64)>,
) -> Result<Option<PathBuf>, MemoryError> {
    if expected.is_some() && identity(path) != expected {
        return Ok(None);
    }
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".corrupt-{stamp}"));
    let mut target = PathBuf::from(&name);
    let mut attempt = 1;
    while target.exists() {
        attempt += 1;
        target = PathBuf::from(format!("{}-{attempt}", name.to_string_lossy()));
    }
    let io = |source| MemoryError::Io {
        path: path.to_owned(),
        source,
    };
    std::fs::rename(path, &target).map_err(io)?;
    for (sidecar, suffix) in sidecars(path).into_iter().zip(["-wal", "-shm"]) {
        let mut moved = target.as_os_str().to_owned();
        moved.push(suffix);
        match std::fs::rename(&sidecar, PathBuf::from(moved)) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                // A stale log must not be replayed into the fresh file: remove it instead.
                tracing::warn!("could not move {} aside: {source}", sidecar.display());
                std::fs::remove_file(&sidecar).map_err(|source| MemoryError::Io {
                    path: sidecar.clone(),
                    source,
                })?;
            }
        }
    }
    make_private(&target);
    Ok(Some(target))
}

/// An index file opened by [`open_recovering`].
pub(crate) struct Opened {
    /// The connection.
    pub connection: Connection,
    /// The file's device and inode.
    pub identity: Option<(u64, u64)>,
    /// Where a damaged file found there was moved.
    pub moved: Option<PathBuf>,
}

/// Opens the index at `path`; when it is damaged, moves it aside (warning where it went) and
/// opens a fresh one.
pub(crate) fn open_recovering(path: &Path) -> Result<Opened, MemoryError> {
    let found = identity(path);
    match schema::open(path) {
        Ok(connection) => Ok(Opened {
            connection,
            identity: identity(path),
            moved: None,
        }),
        Err(error) if error.is_corruption() => {
            let moved = move_aside(path, found)?;
            warn_moved(path, moved.as_deref(), &error);
            let connection = schema::open(path)?;
            Ok(Opened {
                connection,
                identity: identity(path),
                moved,
            })
        }
        Err(error) => Err(error),
    }
}

/// The warning for a damaged index that was moved aside.
pub(crate) fn warn_moved(path: &Path, moved: Option<&Path>, error: &MemoryError) {
    match moved {
        Some(moved) => tracing::warn!(
            "the memory index {} was damaged ({error}); moved it to {} and rebuilding it from \
             the markdown files",
            path.display(),
            moved.display()
        ),
        None => tracing::warn!(
            "the memory index {} was damaged ({error}) and has already been replaced; reopening it",
            path.display()
        ),
    }
}
