//! Reading a file the index knows, for a UI that opens a search hit. Only paths listed in the
//! index's `files` table are read, and only when, at the moment of reading, they still resolve
//! (after symlinks) inside the workspace or an extra path and outside every protected place
//! ([`MemoryRoots`]) — so a path from a request can never reach any other file, and a file swapped
//! for a symlink into `~/.ssh` after it was indexed is refused.

use std::io::Read;

use rusqlite::{Connection, OptionalExtension};

use crate::error::MemoryError;
use crate::roots::MemoryRoots;
use crate::walk::open_regular;

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

/// The text of `path` when the index lists it and [`MemoryRoots`] allows reading it; `None`
/// otherwise.
pub fn read(
    connection: &Connection,
    index_path: &std::path::Path,
    roots: &MemoryRoots,
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
    let resolved = match roots.resolve_key(&listed) {
        Ok(resolved) => resolved,
        Err(refusal) => {
            tracing::warn!("not reading an indexed file: {refusal}");
            return Ok(None);
        }
    };
    let io = |source| MemoryError::Io {
        path: resolved.clone(),
        source,
    };
    let file = open_regular(&resolved).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > MAX_FILE_BYTES {
        return Err(MemoryError::BadQuery(format!(
            "{} is {size} bytes, more than the {MAX_FILE_BYTES} a viewer is given",
            localgpt_core::text::terminal_safe_line(&listed)
        )));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    Ok(Some(IndexedFile {
        path: listed,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }))
}
