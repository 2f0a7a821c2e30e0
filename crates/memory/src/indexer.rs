//! Bringing the index up to date with the files. Unchanged files are recognised by size and
//! modification time (then by content hash), so a run with nothing to do costs one directory walk.
//! Changed files are chunked, embedded (cached vectors are reused) and written in batches; every
//! file's rows are replaced inside one transaction together with its `files` row, so a crash or
//! `kill -9` at any moment leaves each file either fully old or fully new, and the next run picks
//! up where the last one stopped. Chunks that still lack vectors (indexed without a model, or
//! before the model changed) are embedded at the end of every run.

use std::collections::HashMap;

use localgpt_core::embed::Embedder;
use localgpt_core::text::display_path;
use rusqlite::{Connection, Transaction, params};
use sha2::{Digest, Sha256};

use crate::chunker::{ChunkSettings, chunk_markdown, estimate_tokens};
use crate::embedding::{cached_for_prepared, embed_hash, embed_missing, embedding_input};
use crate::error::MemoryError;
use crate::progress::PreparedFile;
use crate::progress::{Progress, ReindexReport};
use crate::walk::{FoundFile, SkippedFile, find_markdown, read_text};
use crate::{IndexSettings, schema, vectors};

/// Files written per transaction.
const FILES_PER_BATCH: usize = 64;

struct Existing {
    id: i64,
    hash: String,
    mtime_ns: i64,
    size: i64,
}

/// Runs one reindex.
pub(crate) fn reindex(
    connection: &mut Connection,
    index_path: &std::path::Path,
    settings: &IndexSettings,
    embedder: Option<&dyn Embedder>,
    force: bool,
    embed_later: bool,
    progress: &mut dyn FnMut(Progress),
) -> Result<ReindexReport, MemoryError> {
    let sql = |source| MemoryError::sqlite(index_path, source);
    if let Some(embedder) = embedder {
        schema::ensure_vector_tables(connection, embedder.model_id(), embedder.dimension())
            .map_err(sql)?;
    }
    let (found, skipped) = find_markdown(
        &settings.workspace,
        &settings.extra_paths,
        settings.max_file_size,
        &settings.roots(),
    );
    let mut report = ReindexReport {
        files_seen: found.len(),
        skipped,
        ..ReindexReport::default()
    };
    let existing = load_existing(connection).map_err(sql)?;

    // Files that are gone.
    let present: std::collections::HashSet<&str> =
        found.iter().map(|file| file.key.as_str()).collect();
    let gone: Vec<i64> = existing
        .iter()
        .filter(|(key, _)| !present.contains(key.as_str()))
        .map(|(_, row)| row.id)
        .collect();
    if !gone.is_empty() {
        let transaction = connection.transaction().map_err(sql)?;
        for id in &gone {
            delete_file(&transaction, *id).map_err(sql)?;
        }
        transaction.commit().map_err(sql)?;
        report.files_removed = gone.len();
    }

    // Files whose size or time changed (or all, when forced).
    let candidates: Vec<&FoundFile> = found
        .iter()
        .filter(|file| {
            force
                || existing
                    .get(&file.key)
                    .is_none_or(|row| row.mtime_ns != file.mtime_ns || row.size != file.size as i64)
        })
        .collect();
    progress(Progress::Scanned {
        files: found.len(),
        changed: candidates.len(),
    });

    let chunk_settings = chunk_settings(settings, embedder);
    let counter = |text: &str| match embedder {
        Some(model) => model
            .count_tokens(text)
            .unwrap_or_else(|_| estimate_tokens(text)),
        None => estimate_tokens(text),
    };
    if embedder.is_none() && !candidates.is_empty() {
        // Chunks written now get no vectors: a later run with a model must look for them.
        connection
            .execute("DELETE FROM meta WHERE key = 'vectors_complete'", [])
            .map_err(sql)?;
    }
    let total = candidates.len();
    for (batch_number, batch) in candidates.chunks(FILES_PER_BATCH).enumerate() {
        let mut prepared = Vec::with_capacity(batch.len());
        let mut touched = Vec::new();
        for file in batch {
            let text = match read_text(&file.real) {
                Ok(text) => text,
                Err(reason) => {
                    tracing::warn!("skipping {}: {reason}", display_path(&file.absolute));
                    report.skipped.push(SkippedFile {
                        path: file.absolute.clone(),
                        reason,
                    });
                    continue;
                }
            };
            let hash = hex::encode(Sha256::digest(text.as_bytes()));
            match existing.get(&file.key) {
                Some(row) if !force && row.hash == hash => touched.push(((*file).clone(), row.id)),
                _ => {
                    let chunks = chunk_markdown(&text, chunk_settings, &counter);
                    prepared.push(PreparedFile {
                        found: (*file).clone(),
                        hash,
                        chunks,
                    });
                }
            }
        }
        let (vectors, left_without_vectors) = match embedder {
            Some(model) => {
                cached_for_prepared(connection, index_path, model, &prepared, &mut report)?
            }
            None => (HashMap::new(), false),
        };
        if left_without_vectors {
            connection
                .execute("DELETE FROM meta WHERE key = 'vectors_complete'", [])
                .map_err(sql)?;
        }
        let transaction = connection.transaction().map_err(sql)?;
        for (file, id) in &touched {
            transaction
                .execute(
                    "UPDATE files SET mtime_ns = ?1, size = ?2 WHERE id = ?3",
                    params![file.mtime_ns, file.size as i64, id],
                )
                .map_err(sql)?;
        }
        for file in &prepared {
            if let Some(row) = existing.get(&file.found.key) {
                delete_file(&transaction, row.id).map_err(sql)?;
            }
            report.chunks_written += write_file(
                &transaction,
                file,
                &vectors,
                embedder.map(|model| model.model_id()),
            )
            .map_err(sql)?;
            report.files_indexed += 1;
        }
        transaction.commit().map_err(sql)?;
        progress(Progress::Files {
            done: ((batch_number + 1) * FILES_PER_BATCH).min(total),
            total,
        });
    }

    if let Some(model) = embedder.filter(|_| !embed_later) {
        // `vectors_complete` names the model when every chunk has a vector: then an unchanged
        // index needs no scan for missing vectors.
        let complete = schema::meta_get(connection, "vectors_complete").map_err(sql)?;
        if complete.as_deref() != Some(model.model_id()) {
            embed_missing(connection, index_path, model, &mut report, progress)?;
            schema::meta_set(connection, "vectors_complete", model.model_id()).map_err(sql)?;
        }
    }
    let never_indexed = schema::meta_get(connection, "last_indexed")
        .map_err(sql)?
        .is_none();
    if report.changed_anything() || never_indexed || force {
        schema::meta_set(
            connection,
            "last_indexed",
            &jiff::Timestamp::now().to_string(),
        )
        .map_err(sql)?;
        // Fold the write-ahead log back into the database so it does not linger at the size of
        // the largest batch; busy readers only make this partial, which is harmless.
        let _ = connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    }
    Ok(report)
}

/// Chunk sizes for this embedder: the configured target, capped to what the model embeds whole
/// (leaving room for the heading line that is prefixed to each chunk's text).
pub(crate) fn chunk_settings(
    settings: &IndexSettings,
    embedder: Option<&dyn Embedder>,
) -> ChunkSettings {
    let cap = embedder.map_or(usize::MAX, |model| {
        model.max_tokens().saturating_sub(18).max(32)
    });
    let target = settings.chunk_tokens.min(cap);
    ChunkSettings {
        target_tokens: target,
        overlap_tokens: settings.chunk_overlap.min(target / 2),
    }
}

fn write_file(
    transaction: &Transaction<'_>,
    file: &PreparedFile,
    vectors: &HashMap<String, Vec<f32>>,
    model_id: Option<&str>,
) -> rusqlite::Result<usize> {
    let now = jiff::Timestamp::now().as_second();
    transaction.execute(
        "INSERT INTO files (path, hash, mtime_ns, size, indexed_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            file.found.key,
            file.hash,
            file.found.mtime_ns,
            file.found.size as i64,
            now
        ],
    )?;
    let file_id = transaction.last_insert_rowid();
    let mut insert_chunk = transaction.prepare_cached("INSERT INTO chunks (file_id, start_line, end_line, heading, text, embed_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?;
    let mut insert_fts = transaction
        .prepare_cached("INSERT INTO chunks_fts (rowid, heading, text) VALUES (?1, ?2, ?3)")?;
    for chunk in &file.chunks {
        let heading = chunk.headings.join(" > ");
        let hash = embed_hash(&embedding_input(&chunk.text, &chunk.headings));
        insert_chunk.execute(params![
            file_id,
            chunk.start_line as i64,
            chunk.end_line as i64,
            heading,
            chunk.text,
            hash
        ])?;
        let chunk_id = transaction.last_insert_rowid();
        insert_fts.execute(params![chunk_id, heading, chunk.text])?;
        crate::cjk::index_chunk(transaction, chunk_id, &heading, &chunk.text)?;
        // Vector tables exist only once a model has been used.
        if let (Some(model), Some(vector)) = (model_id, vectors.get(&hash)) {
            let blob = vectors::to_blob(vector);
            transaction
                .prepare_cached("INSERT INTO chunk_vectors (chunk_id, embedding) VALUES (?1, ?2)")?
                .execute(params![chunk_id, blob])?;
            transaction
                .prepare_cached("INSERT INTO chunks_vec (rowid, embedding) VALUES (?1, vec_quantize_binary(?2))")?
                .execute(params![chunk_id, vectors::to_binary_source_blob(vector)])?;
            transaction.prepare_cached("INSERT OR IGNORE INTO embedding_cache (model, hash, embedding) VALUES (?1, ?2, ?3)")?.execute(params![model, hash, blob])?;
        }
    }
    Ok(file.chunks.len())
}

fn load_existing(connection: &Connection) -> rusqlite::Result<HashMap<String, Existing>> {
    let mut statement = connection.prepare("SELECT path, id, hash, mtime_ns, size FROM files")?;
    let rows = statement.query_map([], |row| {
        Ok((
            row.get::<_, String>(0)?,
            Existing {
                id: row.get(1)?,
                hash: row.get(2)?,
                mtime_ns: row.get(3)?,
                size: row.get(4)?,
            },
        ))
    })?;
    rows.collect()
}

fn delete_file(transaction: &Transaction<'_>, file_id: i64) -> rusqlite::Result<()> {
    transaction.execute(
        "DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE file_id = ?1)",
        [file_id],
    )?;
    transaction.execute(
        "DELETE FROM chunks_cjk WHERE rowid IN (SELECT id FROM chunks WHERE file_id = ?1)",
        [file_id],
    )?;
    let has_vec0: bool = transaction
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'chunks_vec'",
            [],
            |row| row.get::<_, i64>(0),
        )
        .map(|count| count > 0)?;
    if has_vec0 {
        transaction.execute(
            "DELETE FROM chunks_vec WHERE rowid IN (SELECT id FROM chunks WHERE file_id = ?1)",
            [file_id],
        )?;
    }
    transaction.execute("DELETE FROM chunks WHERE file_id = ?1", [file_id])?;
    transaction.execute("DELETE FROM files WHERE id = ?1", [file_id])?;
    Ok(())
}
