//! Embedding in the background: a caller that indexes keyword-first (see
//! [`crate::MemoryIndex::set_embed_later`]) takes the chunks still without a vector a batch at a
//! time ([`pending_chunks`], most recently changed files first), embeds them without holding the
//! index, and stores the vectors ([`store_chunk_vectors`]) — only for chunks that still exist with
//! the same text, since the files may have changed meanwhile.

use rusqlite::{Connection, params};

use crate::embedding::{PENDING_CHUNKS, stored_chunk_input};
use crate::{schema, vectors};

/// A chunk waiting for its vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingChunk {
    /// The chunk's row.
    pub id: i64,
    /// The hash of the text to embed (the chunk's `embed_hash`).
    pub hash: String,
    /// The text to embed.
    pub input: String,
}

/// Up to `limit` chunks without a vector, most recently changed files first.
pub(crate) fn pending_chunks(
    connection: &Connection,
    limit: usize,
) -> rusqlite::Result<Vec<PendingChunk>> {
    let mut statement = connection.prepare_cached(&format!("{PENDING_CHUNKS} LIMIT ?1"))?;
    let rows = statement.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
        let heading: String = row.get(1)?;
        let text: String = row.get(2)?;
        Ok(PendingChunk {
            id: row.get(0)?,
            hash: row.get(3)?,
            input: stored_chunk_input(&heading, &text),
        })
    })?;
    rows.collect()
}

/// How many chunks have no vector yet.
pub(crate) fn pending_count(connection: &Connection) -> rusqlite::Result<u64> {
    connection.query_row(
        "SELECT count(*) FROM chunks c LEFT JOIN chunk_vectors v ON v.chunk_id = c.id WHERE v.chunk_id IS NULL",
        [],
        |row| row.get::<_, i64>(0).map(|n| n.max(0) as u64),
    )
}

/// Stores the vectors of `chunks` (from model `model_id`) in one transaction, for the chunks that
/// still exist with the same text; returns how many were stored. When no chunk is left without
/// a vector, the index is marked complete for `model_id`.
pub(crate) fn store_chunk_vectors(
    connection: &mut Connection,
    model_id: &str,
    chunks: &[PendingChunk],
    vectors: &[Vec<f32>],
) -> rusqlite::Result<usize> {
    let transaction = connection.transaction()?;
    let mut stored = 0;
    {
        let mut current =
            transaction.prepare_cached("SELECT 1 FROM chunks WHERE id = ?1 AND embed_hash = ?2")?;
        let mut insert_vector = transaction.prepare_cached(
            "INSERT OR REPLACE INTO chunk_vectors (chunk_id, embedding) VALUES (?1, ?2)",
        )?;
        let mut delete_vec0 =
            transaction.prepare_cached("DELETE FROM chunks_vec WHERE rowid = ?1")?;
        let mut insert_vec0 = transaction.prepare_cached(
            "INSERT INTO chunks_vec (rowid, embedding) VALUES (?1, vec_quantize_binary(?2))",
        )?;
        let mut insert_cache = transaction.prepare_cached(
            "INSERT OR IGNORE INTO embedding_cache (model, hash, embedding) VALUES (?1, ?2, ?3)",
        )?;
        for (chunk, vector) in chunks.iter().zip(vectors) {
            let blob = vectors::to_blob(vector);
            insert_cache.execute(params![model_id, chunk.hash, blob])?;
            if !current.exists(params![chunk.id, chunk.hash])? {
                continue;
            }
            insert_vector.execute(params![chunk.id, blob])?;
            delete_vec0.execute([chunk.id])?;
            insert_vec0.execute(params![chunk.id, vectors::to_binary_source_blob(vector)])?;
            stored += 1;
        }
    }
    if pending_count(&transaction)? == 0 {
        schema::meta_set(&transaction, "vectors_complete", model_id)?;
    }
    transaction.commit()?;
    Ok(stored)
}
