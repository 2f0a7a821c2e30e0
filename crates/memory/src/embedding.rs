//! Embedding chunks: vectors come from the cache (keyed by model and the hash of the exact text
//! embedded) when present and from the model otherwise, in batches. Indexing is keyword-first:
//! chunks of changed files are written with the vectors the cache already holds, so every file is
//! searchable by keyword within seconds; chunks left without a vector are then embedded one
//! committed batch at a time, most recently changed files first — by the reindex itself, or in
//! the background (see [`crate::background`]), while hybrid search uses the vectors that exist.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use localgpt_core::embed::Embedder;
use rusqlite::{Connection, params};
use sha2::{Digest, Sha256};

use crate::error::MemoryError;
use crate::progress::{PreparedFile, Progress, ReindexReport};
use crate::vectors;

/// Texts per call to the embedding model.
const EMBED_BATCH: usize = 32;

/// The text the model embeds for a chunk: its heading path as context, unless the chunk starts
/// with its own heading line.
pub(crate) fn embedding_input(chunk_text: &str, headings: &[String]) -> String {
    if headings.is_empty() || chunk_text.trim_start().starts_with('#') {
        chunk_text.to_owned()
    } else {
        format!("{}\n{chunk_text}", headings.join(" > "))
    }
}

pub(crate) fn embed_hash(input: &str) -> String {
    hex::encode(Sha256::digest(input.as_bytes()))
}

/// The cached vectors of the chunks of the prepared files, keyed by embedding hash, and whether
/// any chunk has none (those are embedded after the files are written).
pub(crate) fn cached_for_prepared(
    connection: &Connection,
    index_path: &std::path::Path,
    model: &dyn Embedder,
    prepared: &[PreparedFile],
    report: &mut ReindexReport,
) -> Result<(HashMap<String, Vec<f32>>, bool), MemoryError> {
    let sql = |source| MemoryError::sqlite(index_path, source);
    let mut inputs: HashMap<String, String> = HashMap::new();
    for file in prepared {
        for chunk in &file.chunks {
            let input = embedding_input(&chunk.text, &chunk.headings);
            inputs.entry(embed_hash(&input)).or_insert(input);
        }
    }
    let mut vectors = HashMap::with_capacity(inputs.len());
    {
        let mut lookup = connection
            .prepare_cached("SELECT embedding FROM embedding_cache WHERE model = ?1 AND hash = ?2")
            .map_err(sql)?;
        for hash in inputs.keys() {
            let cached: Option<Vec<u8>> = lookup
                .query_row(params![model.model_id(), hash], |row| row.get(0))
                .ok();
            if let Some(blob) = cached {
                vectors.insert(hash.clone(), vectors::from_blob(&blob));
            }
        }
    }
    report.embeddings_cached += vectors.len();
    let missing = vectors.len() < inputs.len();
    Ok((vectors, missing))
}

/// Chunks without a vector, most recently changed files first.
pub(crate) const PENDING_CHUNKS: &str = "SELECT c.id, c.heading, c.text, c.embed_hash FROM chunks c JOIN files f ON f.id = c.file_id LEFT JOIN chunk_vectors v ON v.chunk_id = c.id WHERE v.chunk_id IS NULL ORDER BY f.mtime_ns DESC, c.id";

/// The text the model embeds for a stored chunk (its heading path kept as ` > `-joined text).
pub(crate) fn stored_chunk_input(heading: &str, text: &str) -> String {
    let headings: Vec<String> = if heading.is_empty() {
        Vec::new()
    } else {
        heading.split(" > ").map(str::to_owned).collect()
    };
    embedding_input(text, &headings)
}

/// Embeds chunks that have no vector yet, in batches, each batch committed on its own.
pub(crate) fn embed_missing(
    connection: &mut Connection,
    index_path: &std::path::Path,
    model: &dyn Embedder,
    report: &mut ReindexReport,
    progress: &mut dyn FnMut(Progress),
) -> Result<(), MemoryError> {
    let sql = |source| MemoryError::sqlite(index_path, source);
    let pending: Vec<(i64, String, String, String)> = {
        let mut statement = connection.prepare(PENDING_CHUNKS).map_err(sql)?;
        let rows = statement
            .query_map([], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .map_err(sql)?;
        rows.collect::<Result<_, _>>().map_err(sql)?
    };
    let total = pending.len();
    for (index, batch) in pending.chunks(EMBED_BATCH * 4).enumerate() {
        let mut blobs = Vec::with_capacity(batch.len());
        let mut to_compute = Vec::new();
        {
            let mut lookup = connection
                .prepare_cached(
                    "SELECT embedding FROM embedding_cache WHERE model = ?1 AND hash = ?2",
                )
                .map_err(sql)?;
            for (id, heading, text, hash) in batch {
                match lookup.query_row(params![model.model_id(), hash], |row| {
                    row.get::<_, Vec<u8>>(0)
                }) {
                    Ok(blob) => {
                        report.embeddings_cached += 1;
                        blobs.push((*id, hash.clone(), blob));
                    }
                    Err(_) => {
                        to_compute.push((*id, hash.clone(), stored_chunk_input(heading, text)));
                    }
                }
            }
        }
        for group in to_compute.chunks(EMBED_BATCH) {
            let texts: Vec<&str> = group.iter().map(|(_, _, input)| input.as_str()).collect();
            let vectors = model.embed(&texts)?;
            for ((id, hash, _), vector) in group.iter().zip(vectors) {
                blobs.push((*id, hash.clone(), vectors::to_blob(&vector)));
            }
            report.embeddings_computed += group.len();
        }
        let transaction = connection.transaction().map_err(sql)?;
        {
            let mut insert_vector = transaction
                .prepare_cached(
                    "INSERT OR REPLACE INTO chunk_vectors (chunk_id, embedding) VALUES (?1, ?2)",
                )
                .map_err(sql)?;
            let mut delete_vec0 = transaction
                .prepare_cached("DELETE FROM chunks_vec WHERE rowid = ?1")
                .map_err(sql)?;
            let mut insert_vec0 = transaction.prepare_cached("INSERT INTO chunks_vec (rowid, embedding) VALUES (?1, vec_quantize_binary(?2))").map_err(sql)?;
            let mut insert_cache = transaction.prepare_cached("INSERT OR IGNORE INTO embedding_cache (model, hash, embedding) VALUES (?1, ?2, ?3)").map_err(sql)?;
            for (id, hash, blob) in &blobs {
                insert_vector.execute(params![id, blob]).map_err(sql)?;
                delete_vec0.execute(params![id]).map_err(sql)?;
                let binary_source = vectors::to_binary_source_blob(&vectors::from_blob(blob));
                insert_vec0
                    .execute(params![id, binary_source])
                    .map_err(sql)?;
                insert_cache
                    .execute(params![model.model_id(), hash, blob])
                    .map_err(sql)?;
            }
        }
        transaction.commit().map_err(sql)?;
        progress(Progress::Embeddings {
            done: ((index + 1) * EMBED_BATCH * 4).min(total),
            total,
        });
    }
    Ok(())
}

/// The vectors of the last few queries, in memory: a question searched for and then compared
/// with lines (active recall) is embedded once, and questions are not written to the cache.
#[derive(Debug, Default)]
pub(crate) struct RecentVectors(Mutex<VecDeque<(String, String, Vec<f32>)>>);

impl RecentVectors {
    /// Queries remembered.
    const KEEP: usize = 8;

    /// The vector of `text` from `model`, when it was one of the last queries.
    pub(crate) fn get(&self, model: &str, text: &str) -> Option<Vec<f32>> {
        let recent = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        recent
            .iter()
            .find(|(id, query, _)| id == model && query == text)
            .map(|(_, _, vector)| vector.clone())
    }

    /// Remembers the vector of query `text` from `model`, forgetting the oldest.
    pub(crate) fn put(&self, model: &str, text: &str, vector: Vec<f32>) {
        let mut recent = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        recent.retain(|(id, query, _)| !(id == model && query == text));
        if recent.len() >= Self::KEEP {
            recent.pop_front();
        }
        recent.push_back((model.to_owned(), text.to_owned(), vector));
    }
}

/// Keeps `vectors` of `texts` (free-standing sentences) in the cache.
pub(crate) fn cache_vectors(
    connection: &Connection,
    index_path: &std::path::Path,
    model_id: &str,
    texts: &[String],
    vectors: &[Vec<f32>],
) -> Result<(), MemoryError> {
    let sql = |source| MemoryError::sqlite(index_path, source);
    let transaction = connection.unchecked_transaction().map_err(sql)?;
    {
        let mut insert = transaction
            .prepare_cached(
                "INSERT OR IGNORE INTO embedding_cache (model, hash, embedding) VALUES (?1, ?2, ?3)",
            )
            .map_err(sql)?;
        for (text, vector) in texts.iter().zip(vectors) {
            insert
                .execute(params![
                    model_id,
                    embed_hash(text),
                    vectors::to_blob(vector)
                ])
                .map_err(sql)?;
        }
    }
    transaction.commit().map_err(sql)
}

/// Vectors for free-standing `texts` (sentences a caller compares, not chunks): from the last
/// queries' vectors (`recent`) or the cache when present, else from the model, and then kept in
/// the cache, so the same text is embedded once per model. A text that was a recent query is
/// not written to the cache.
pub(crate) fn embed_texts_cached(
    connection: &Connection,
    index_path: &std::path::Path,
    model: &dyn Embedder,
    recent: &RecentVectors,
    texts: &[&str],
) -> Result<Vec<Vec<f32>>, MemoryError> {
    let sql = |source| MemoryError::sqlite(index_path, source);
    let hashes: Vec<String> = texts.iter().map(|text| embed_hash(text)).collect();
    let mut found: Vec<Option<Vec<f32>>> = Vec::with_capacity(texts.len());
    {
        let mut lookup = connection
            .prepare_cached("SELECT embedding FROM embedding_cache WHERE model = ?1 AND hash = ?2")
            .map_err(sql)?;
        for (text, hash) in texts.iter().zip(&hashes) {
            if let Some(vector) = recent.get(model.model_id(), text) {
                found.push(Some(vector));
                continue;
            }
            let cached: Option<Vec<u8>> = lookup
                .query_row(params![model.model_id(), hash], |row| row.get(0))
                .ok();
            found.push(cached.map(|blob| vectors::from_blob(&blob)));
        }
    }
    let missing: Vec<usize> = (0..texts.len()).filter(|&i| found[i].is_none()).collect();
    if !missing.is_empty() {
        let inputs: Vec<&str> = missing.iter().map(|&i| texts[i]).collect();
        let mut computed = Vec::with_capacity(inputs.len());
        for batch in inputs.chunks(EMBED_BATCH) {
            computed.extend(model.embed(batch)?);
        }
        let mut insert = connection
            .prepare_cached(
                "INSERT OR IGNORE INTO embedding_cache (model, hash, embedding) VALUES (?1, ?2, ?3)",
            )
            .map_err(sql)?;
        for (&i, vector) in missing.iter().zip(computed) {
            // A read-only or busy index still answers; the vector is just not kept.
            let _kept = insert.execute(params![
                model.model_id(),
                hashes[i],
                vectors::to_blob(&vector)
            ]);
            found[i] = Some(vector);
        }
    }
    Ok(found.into_iter().flatten().collect())
}
