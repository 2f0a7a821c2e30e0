//! Reading a file the index knows, for a UI that opens a search hit. Only paths listed in the
//! index's `files` table are read, and only when they still resolve (after symlinks) inside the
//! workspace or an extra path — so a path from a request can never reach any other file.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension};

use crate::IndexSettings;
use crate::error::MemoryError;

/// Files larger than this are not returned whole.
pub const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024;

/// An indexed file's text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IndexedFile {
    /// The path as the index names it.
    pub path: String,
    /// Its content.
    pub text: String,
}

/// The text of `path` when the index lists it; `None` when it does not.
pub fn read(
    connection: &Connection,
    index_path: &Path,
    settings: &IndexSettings,
    path: &str,
) -> Result<Option<IndexedFile>, MemoryError> {
    let listed: Option<String> = connection
        .query_row("SELECT path FROM files WHERE path = ?1", [path], |row| {
            row.get(0)
        })
        .optional()
        .map_err(|source| MemoryError::sqlite(index_path, source))?;
    let Some(listed) = listed else {
        return Ok(None);
    };
    let on_disk = if Path::new(&listed).is_absolute() {
        PathBuf::from(&listed)
    } else {
        settings.workspace.join(&listed)
    };
    let io = |source| MemoryError::Io {
        path: on_disk.clone(),
        source,
    };
    let resolved = on_disk.canonicalize().map_err(io)?;
    let inside = std::iter::once(&settings.workspace)
        .chain(&settings.extra_paths)
        .filter_map(|root| root.canonicalize().ok())
        .any(|root| resolved.starts_with(root));
    if !inside {
        return Ok(None);
    }
    let size = std::fs::metadata(&resolved).map_err(io)?.len();
    if size > MAX_FILE_BYTES {
        return Err(MemoryError::BadQuery(format!(
            "{listed} is {size} bytes, more than the {MAX_FILE_BYTES} a viewer is given"
        )));
    }
    let bytes = std::fs::read(&resolved).map_err(io)?;
    Ok(Some(IndexedFile {
        path: listed,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }))
}
