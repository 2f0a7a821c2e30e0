//! The lines active recall weighs, and their vectors made ahead of time.
//!
//! Active recall (in the agent) compares each line of the best chunks with the question on its
//! own: a daily note mixes unrelated lines, so a chunk can rank first without any line of it
//! answering. Embedding those lines during the turn costs an embedding per line the first time
//! a line is seen; [`uncached_lines`] finds the lines whose vectors are not in the embedding
//! cache yet, so a background worker (the daemon's) can embed them while nothing else runs and
//! a turn finds them cached. The text a line is compared by — [`statement_of`], cut to
//! [`COMPARED_LINE_CHARS`] — is defined here once, so the worker and recall agree on the cache
//! key.

use rusqlite::{Connection, params};

use crate::embedding::embed_hash;

/// Characters of a line given to the model.
pub const MAX_LINE_CHARS: usize = 600;
/// Characters of a line embedded to compare it with a question: a statement's meaning is in its
/// start, and a paragraph-long line would cost most of a turn's recall time.
pub const COMPARED_LINE_CHARS: usize = 200;
/// Lines shorter than this (in characters, as statements) are not weighed.
pub const MIN_LINE_CHARS: usize = 3;

/// Chunks read per query while looking for uncached lines.
const CHUNKS_PER_QUERY: i64 = 256;

/// A line's statement: list markers, quote marks, task boxes and numbering taken off; headings
/// kept as text.
pub fn statement_of(line: &str) -> String {
    let mut text = line.trim();
    for marker in ["- [ ] ", "- [x] ", "- [X] ", "- ", "* ", "+ ", "> "] {
        if let Some(rest) = text.strip_prefix(marker) {
            text = rest.trim_start();
            break;
        }
    }
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 && text[digits..].starts_with(". ") {
        text = text[digits + 2..].trim_start();
    }
    text.trim_start_matches('#').trim().to_owned()
}

/// The statement of `line` as recall weighs it (at most [`MAX_LINE_CHARS`]), or `None` for a
/// line too short to weigh.
pub fn recall_statement(line: &str) -> Option<String> {
    let statement = statement_of(line);
    (statement.chars().count() >= MIN_LINE_CHARS)
        .then(|| statement.chars().take(MAX_LINE_CHARS).collect())
}

/// The text embedded to compare `statement` with a question.
pub fn compared_text(statement: &str) -> String {
    statement.chars().take(COMPARED_LINE_CHARS).collect()
}

/// Lines found without a cached vector, newest chunks first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineBatch {
    /// The compared texts to embed (each once).
    pub texts: Vec<String>,
    /// Where to go on from (pass it as `before_chunk` next time); `None` when every chunk was
    /// looked at.
    pub next_before: Option<i64>,
}

/// Up to about `max_texts` compared texts of lines of chunks with ids below `before_chunk` whose
/// vector from `model_id` is not cached. Whole chunks are taken, newest first.
pub(crate) fn uncached_lines(
    connection: &Connection,
    model_id: &str,
    before_chunk: i64,
    max_texts: usize,
) -> rusqlite::Result<LineBatch> {
    let mut chunks = connection
        .prepare_cached("SELECT id, text FROM chunks WHERE id < ?1 ORDER BY id DESC LIMIT ?2")?;
    let mut lookup = connection
        .prepare_cached("SELECT 1 FROM embedding_cache WHERE model = ?1 AND hash = ?2")?;
    let mut batch = LineBatch::default();
    let mut before = before_chunk;
    loop {
        let rows: Vec<(i64, String)> = chunks
            .query_map(params![before, CHUNKS_PER_QUERY], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?
            .collect::<Result<_, _>>()?;
        let Some(&(last, _)) = rows.last() else {
            batch.next_before = None;
            return Ok(batch);
        };
        for (id, text) in &rows {
            for line in text.lines() {
                let Some(statement) = recall_statement(line) else {
                    continue;
                };
                let compared = compared_text(&statement);
                let cached = lookup.exists(params![model_id, embed_hash(&compared)])?;
                if !cached && !batch.texts.contains(&compared) {
                    batch.texts.push(compared);
                }
            }
            if batch.texts.len() >= max_texts {
                batch.next_before = Some(*id);
                return Ok(batch);
            }
        }
        before = last;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_lose_their_markers() {
        assert_eq!(statement_of("- [ ] buy milk"), "buy milk");
        assert_eq!(
            statement_of("  * spare key: blue pot"),
            "spare key: blue pot"
        );
        assert_eq!(statement_of("12. Call the dentist"), "Call the dentist");
        assert_eq!(statement_of("## Travel"), "Travel");
        assert_eq!(statement_of("> quoted"), "quoted");
        assert_eq!(recall_statement("- ok"), None);
        assert_eq!(recall_statement("- yes"), Some("yes".to_owned()));
        assert_eq!(
            recall_statement(&"x".repeat(700)).map(|text| text.len()),
            Some(MAX_LINE_CHARS)
        );
        assert_eq!(compared_text(&"é".repeat(300)).chars().count(), 200);
    }
}
