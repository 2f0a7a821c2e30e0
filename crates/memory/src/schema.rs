//! The index database: one SQLite file in WAL mode holding files, chunks, an FTS5 table for
//! keywords (and one for Chinese, Japanese and Korean text, see [`crate::cjk`]), float vectors for exact scoring, a sqlite-vec `vec0` table of binary-quantised vectors
//! for fast candidates, and an embedding cache. The schema is versioned; opening an older file
//! migrates it, and a file from a newer LocalGPT is refused rather than damaged.

use std::path::Path;
use std::sync::Once;

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::MemoryError;

static REGISTER_VEC: Once = Once::new();

/// Registers sqlite-vec with every connection SQLite opens from now on (statically linked).
fn register_sqlite_vec() {
    REGISTER_VEC.call_once(|| {
        type ExtensionInit = unsafe extern "C" fn(
            *mut rusqlite::ffi::sqlite3,
            *mut *mut std::os::raw::c_char,
            *const rusqlite::ffi::sqlite3_api_routines,
        ) -> std::os::raw::c_int;
        // SAFETY: `sqlite3_vec_init` is sqlite-vec's extension entry point, linked into this
        // binary; `sqlite3_auto_extension` expects exactly such a function pointer, and the
        // transmute only erases its argument types as SQLite's own C API does.
        unsafe {
            let init: ExtensionInit =
                std::mem::transmute(sqlite_vec::sqlite3_vec_init as *const ());
            rusqlite::ffi::sqlite3_auto_extension(Some(init));
        }
    });
}

/// Opens (creating or migrating) the index at `path`, private to the user (0600, with its
/// `-wal` and `-shm`), and checks that its schema is LocalGPT's; a damaged file is reported as
/// [`MemoryError::is_corruption`] (see [`crate::recovery`] for moving it aside and rebuilding).
pub fn open(path: &Path) -> Result<Connection, MemoryError> {
    register_sqlite_vec();
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| MemoryError::Io {
            path: parent.to_owned(),
            source,
        })?;
    }
    crate::recovery::create_private(path)?;
    let connection = Connection::open(path).map_err(|source| MemoryError::sqlite(path, source))?;
    configure(&connection).map_err(|source| MemoryError::sqlite(path, source))?;
    migrate(&connection, path)?;
    crate::recovery::check_schema(&connection, path)?;
    crate::cjk::backfill_if_pending(&connection)
        .map_err(|source| MemoryError::sqlite(path, source))?;
    crate::recovery::make_private(path);
    Ok(connection)
}

fn configure(connection: &Connection) -> rusqlite::Result<()> {
    connection.busy_timeout(std::time::Duration::from_secs(10))?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    connection.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(())
}

/// Schema changes, in order: step `n` takes a file from version `n` to `n + 1`. A new version
/// appends a step; a step runs in the same transaction as its version bump.
const MIGRATIONS: &[&str] = &[
    // 0 → 1: the first schema.
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE IF NOT EXISTS files (
         id INTEGER PRIMARY KEY,
         path TEXT NOT NULL UNIQUE,
         hash TEXT NOT NULL,
         mtime_ns INTEGER NOT NULL,
         size INTEGER NOT NULL,
         indexed_at INTEGER NOT NULL
     );
     CREATE TABLE IF NOT EXISTS chunks (
         id INTEGER PRIMARY KEY,
         file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
         start_line INTEGER NOT NULL,
         end_line INTEGER NOT NULL,
         heading TEXT NOT NULL,
         text TEXT NOT NULL,
         embed_hash TEXT NOT NULL
     );
     CREATE INDEX IF NOT EXISTS chunks_by_file ON chunks(file_id);
     CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
         heading, text, tokenize = 'porter unicode61 remove_diacritics 2'
     );
     CREATE TABLE IF NOT EXISTS chunk_vectors (
         chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
         embedding BLOB NOT NULL
     );
     CREATE TABLE IF NOT EXISTS embedding_cache (
         model TEXT NOT NULL,
         hash TEXT NOT NULL,
         embedding BLOB NOT NULL,
         PRIMARY KEY (model, hash)
     ) WITHOUT ROWID;",
    // 1 → 2: keyword search inside Chinese, Japanese and Korean text (see `crate::cjk`); the
    // chunks already indexed are added by `cjk::backfill_if_pending` right after this step.
    "CREATE VIRTUAL TABLE IF NOT EXISTS chunks_cjk USING fts5(
         grams, chars, tokenize = 'porter unicode61 remove_diacritics 2'
     );
     INSERT INTO meta (key, value) VALUES ('cjk_backfill', 'pending')
         ON CONFLICT(key) DO UPDATE SET value = excluded.value;",
];

/// Current schema version.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the file at `path` to [`SCHEMA_VERSION`], one committed step at a time; refuses files
/// written by a newer LocalGPT. The version lives in `PRAGMA user_version` and, for people reading
/// the file, in `meta.schema_version`.
pub fn migrate(connection: &Connection, path: &Path) -> Result<(), MemoryError> {
    let sql = |source| MemoryError::sqlite(path, source);
    let version: i64 = connection
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(sql)?;
    if version > SCHEMA_VERSION {
        return Err(MemoryError::NewerSchema {
            path: path.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    for (step, statements) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        let next = step as i64 + 1;
        connection
            .execute_batch(&format!(
                "BEGIN IMMEDIATE;
                 {statements}
                 INSERT INTO meta (key, value) VALUES ('schema_version', '{next}')
                     ON CONFLICT(key) DO UPDATE SET value = excluded.value;
                 PRAGMA user_version = {next};
                 COMMIT;"
            ))
            .map_err(|source| {
                let _ = connection.execute_batch("ROLLBACK");
                sql(source)
            })?;
    }
    Ok(())
}

/// Reads a value from the `meta` table.
pub fn meta_get(connection: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    connection
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
            row.get(0)
        })
        .optional()
}

/// Writes a value to the `meta` table.
pub fn meta_set(connection: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    connection.execute("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value", params![key, value])?;
    Ok(())
}

/// Makes the vector tables match `model` and `dimension`: when either changed, every stored
/// vector is dropped (so the next reindex embeds everything again) and the `vec0` table is
/// recreated at the new size. Returns whether vectors were reset.
pub fn ensure_vector_tables(
    connection: &Connection,
    model: &str,
    dimension: usize,
) -> rusqlite::Result<bool> {
    let current_model = meta_get(connection, "embedding_model")?;
    let current_dimension = meta_get(connection, "embedding_dimension")?;
    let wanted_dimension = dimension.to_string();
    let table_exists: bool = connection
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'chunks_vec'",
            [],
            |row| row.get::<_, i64>(0),
        )
        .map(|count| count > 0)?;
    if table_exists
        && current_model.as_deref() == Some(model)
        && current_dimension.as_deref() == Some(wanted_dimension.as_str())
    {
        return Ok(false);
    }
    // One transaction: a crash leaves either the old model's vectors or an empty set for the new
    // one, never vectors of two models (or two sizes) side by side.
    connection.execute_batch("BEGIN IMMEDIATE")?;
    let result = (|| {
        connection.execute_batch(
            "DROP TABLE IF EXISTS chunks_vec; DELETE FROM chunk_vectors;
             DELETE FROM meta WHERE key = 'vectors_complete';",
        )?;
        // sqlite-vec packs bits in bytes: odd dimensions are padded (see `vectors::binary_bits`).
        let bits = crate::vectors::binary_bits(dimension);
        connection.execute_batch(&format!(
            "CREATE VIRTUAL TABLE chunks_vec USING vec0(embedding bit[{bits}])"
        ))?;
        meta_set(connection, "embedding_model", model)?;
        meta_set(connection, "embedding_dimension", &wanted_dimension)
    })();
    match result {
        Ok(()) => connection.execute_batch("COMMIT")?,
        Err(error) => {
            let _ = connection.execute_batch("ROLLBACK");
            return Err(error);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_migrates_and_refuses_newer_schemas() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/index.sqlite");
        let connection = open(&path).unwrap();
        let version: i64 = connection
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        assert_eq!(
            meta_get(&connection, "schema_version").unwrap(),
            Some(SCHEMA_VERSION.to_string())
        );
        // Migrating an up-to-date file is a no-op; so is opening it again.
        migrate(&connection, &path).unwrap();
        drop(connection);
        let connection = open(&path).unwrap();
        let vec_version: String = connection
            .query_row("SELECT vec_version()", [], |row| row.get(0))
            .unwrap();
        assert!(vec_version.starts_with('v'));
        connection.pragma_update(None, "user_version", 99).unwrap();
        drop(connection);
        assert!(matches!(
            open(&path),
            Err(MemoryError::NewerSchema { found: 99, .. })
        ));
    }

    #[test]
    fn changing_model_or_dimension_resets_vectors() {
        let dir = tempfile::tempdir().unwrap();
        let connection = open(&dir.path().join("i.sqlite")).unwrap();
        assert!(ensure_vector_tables(&connection, "m1", 8).unwrap());
        assert!(!ensure_vector_tables(&connection, "m1", 8).unwrap());
        assert!(ensure_vector_tables(&connection, "m2", 8).unwrap());
        assert!(ensure_vector_tables(&connection, "m2", 16).unwrap());
        assert_eq!(
            meta_get(&connection, "embedding_dimension")
                .unwrap()
                .as_deref(),
            Some("16")
        );
    }
}
