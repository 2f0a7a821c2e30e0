//! Keyword search for Chinese, Japanese and Korean. These languages do not put spaces between
//! words, so FTS5's `unicode61` tokenizer reads a whole run of CJK characters (`我的备用钥匙藏在`) as
//! one token and a search for a word inside it (`钥匙`) finds nothing.
//!
//! Chunks that contain CJK characters get a second FTS5 row in `chunks_cjk`, whose `grams` column
//! holds the chunk with every CJK run replaced by its overlapping two-character pieces
//! (`钥匙藏` → `钥匙 匙藏`) and other words kept as they are, and whose `chars` column holds every
//! CJK character on its own. A query's CJK run is looked up the same way: one character in
//! `chars`, two or more as the phrase of their pieces (so `植木鉢` must appear in that order) OR-ed
//! with the pieces alone (so a sentence-long query still ranks chunks that share part of it).
//! No dictionary or segmenter is needed, and English-only chunks and queries never touch the table.

use rusqlite::{Connection, Transaction, params};

/// Whether `c` is a Han ideograph, kana or Hangul character (the scripts written without spaces
/// between words).
pub(crate) fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x11FF      // Hangul Jamo
        | 0x3005..=0x3007    // 々 〆 〇
        | 0x3040..=0x309F    // Hiragana
        | 0x30A1..=0x30FA    // Katakana
        | 0x30FC..=0x30FF    // ー ヽ ヾ ヿ (not the ・ between words)
        | 0x3130..=0x318F    // Hangul compatibility Jamo
        | 0x31F0..=0x31FF    // Katakana phonetic extensions
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xA960..=0xA97F    // Hangul Jamo extended A
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0xD7B0..=0xD7FF    // Hangul Jamo extended B
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0xFF66..=0xFF9F    // half-width Katakana
        | 0x20000..=0x3134F  // CJK extensions B–G
    )
}

/// Whether `text` has any CJK character.
pub(crate) fn has_cjk(text: &str) -> bool {
    text.chars().any(is_cjk)
}

/// Splits `text` into CJK runs (`true`) and the text between them (`false`).
fn runs(text: &str) -> Vec<(bool, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut current: Option<bool> = None;
    for (at, c) in text.char_indices() {
        let cjk = is_cjk(c);
        match current {
            Some(kind) if kind == cjk => {}
            Some(kind) => {
                out.push((kind, &text[start..at]));
                start = at;
                current = Some(cjk);
            }
            None => current = Some(cjk),
        }
    }
    if let Some(kind) = current {
        out.push((kind, &text[start..]));
    }
    out
}

/// The overlapping two-character pieces of a CJK run; a one-character run is its own piece.
fn bigrams(run: &str) -> Vec<String> {
    let chars: Vec<char> = run.chars().collect();
    if chars.len() < 2 {
        return vec![run.to_owned()];
    }
    chars.windows(2).map(|pair| pair.iter().collect()).collect()
}

/// The `grams` column: `text` with each CJK run replaced by its pieces, separated by spaces.
pub(crate) fn grams_column(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for (cjk, part) in runs(text) {
        if cjk {
            out.push(' ');
            out.push_str(&bigrams(part).join(" "));
            out.push(' ');
        } else {
            out.push_str(part);
        }
    }
    out
}

/// The `chars` column: every CJK character of `text`, separated by spaces.
pub(crate) fn chars_column(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().filter(|c| is_cjk(*c)) {
        out.push(c);
        out.push(' ');
    }
    out
}

/// Pieces taken from one query run at most (a pasted paragraph must not make a huge query).
const MAX_PIECES: usize = 64;

/// The FTS5 MATCH expression over `chunks_cjk` for the query terms (as [`crate::query_terms`]
/// gives them: lower-cased runs of letters and digits, so no FTS5 syntax survives), or `None`
/// when no term has a CJK character.
pub(crate) fn expression(terms: &[String]) -> Option<String> {
    if !terms.iter().any(|term| has_cjk(term)) {
        return None;
    }
    let quote = |piece: &str| format!("\"{}\"", piece.replace('"', ""));
    let mut clauses = Vec::new();
    for term in terms {
        for (cjk, part) in runs(term) {
            if !cjk {
                clauses.push(quote(part));
                continue;
            }
            let pieces = bigrams(part);
            if part.chars().count() == 1 {
                clauses.push(format!("chars : {}", quote(part)));
            } else if pieces.len() == 1 {
                clauses.push(format!("grams : {}", quote(&pieces[0])));
            } else {
                let pieces = &pieces[..pieces.len().min(MAX_PIECES)];
                let mut alternatives = vec![quote(&pieces.join(" "))];
                alternatives.extend(pieces.iter().map(|piece| quote(piece)));
                clauses.push(format!("grams : ({})", alternatives.join(" OR ")));
            }
        }
    }
    Some(clauses.join(" OR "))
}

/// Adds the `chunks_cjk` row of one chunk when it has CJK characters.
pub(crate) fn index_chunk(
    transaction: &Transaction<'_>,
    chunk_id: i64,
    heading: &str,
    text: &str,
) -> rusqlite::Result<()> {
    if !has_cjk(heading) && !has_cjk(text) {
        return Ok(());
    }
    let whole = format!("{heading}\n{text}");
    transaction
        .prepare_cached("INSERT INTO chunks_cjk (rowid, grams, chars) VALUES (?1, ?2, ?3)")?
        .execute(params![
            chunk_id,
            grams_column(&whole),
            chars_column(&whole)
        ])?;
    Ok(())
}

/// Fills `chunks_cjk` from the chunks already indexed when a migration asked for it (an index
/// made before the table existed), in one transaction with clearing the request.
pub(crate) fn backfill_if_pending(connection: &Connection) -> rusqlite::Result<()> {
    if crate::schema::meta_get(connection, "cjk_backfill")?.is_none() {
        return Ok(());
    }
    connection.execute_batch("BEGIN IMMEDIATE")?;
    let result = (|| {
        connection.execute("DELETE FROM chunks_cjk", [])?;
        let mut statement = connection.prepare("SELECT id, heading, text FROM chunks")?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
            ))
        })?;
        let mut insert = connection
            .prepare("INSERT INTO chunks_cjk (rowid, grams, chars) VALUES (?1, ?2, ?3)")?;
        for row in rows {
            let (id, heading, text) = row?;
            if has_cjk(&heading) || has_cjk(&text) {
                let whole = format!("{heading}\n{text}");
                insert.execute(params![id, grams_column(&whole), chars_column(&whole)])?;
            }
        }
        connection.execute("DELETE FROM meta WHERE key = 'cjk_backfill'", [])?;
        Ok(())
    })();
    match result {
        Ok(()) => connection.execute_batch("COMMIT"),
        Err(error) => {
            let _ = connection.execute_batch("ROLLBACK");
            Err(error)
        }
    }
}

/// Ranks chunks with CJK text for the query terms (BM25, positive, higher is better); empty when
/// no term has a CJK character.
pub(crate) fn ranking(
    connection: &Connection,
    terms: &[String],
    depth: usize,
) -> rusqlite::Result<Vec<(i64, f32)>> {
    let Some(expression) = expression(terms) else {
        return Ok(Vec::new());
    };
    let mut statement = connection.prepare_cached(
        "SELECT rowid, bm25(chunks_cjk) FROM chunks_cjk WHERE chunks_cjk MATCH ?1 ORDER BY bm25(chunks_cjk) LIMIT ?2",
    )?;
    let rows = statement.query_map(params![expression, depth as i64], |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, f64>(1)?))
    })?;
    rows.map(|row| row.map(|(id, rank)| (id, (-rank) as f32)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_become_pieces_and_other_words_stay() {
        assert_eq!(
            grams_column("spare 钥匙藏 key")
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["spare", "钥匙", "匙藏", "key"]
        );
        assert_eq!(chars_column("a鍵b花"), "鍵 花 ");
        // The katakana middle dot separates words; the long-vowel mark is part of one.
        assert_eq!(
            grams_column("パス・センター")
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["パス", "・", "セン", "ンタ", "ター"]
        );
        assert_eq!(
            grams_column("열쇠는 파란")
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["열쇠", "쇠는", "파란"]
        );
    }

    #[test]
    fn query_expressions_by_length() {
        let terms = |list: &[&str]| list.iter().map(|t| t.to_string()).collect::<Vec<_>>();
        assert_eq!(expression(&terms(&["spare", "key"])), None);
        assert_eq!(
            expression(&terms(&["鍵"])).as_deref(),
            Some("chars : \"鍵\"")
        );
        assert_eq!(
            expression(&terms(&["钥匙", "key"])).as_deref(),
            Some("grams : \"钥匙\" OR \"key\"")
        );
        assert_eq!(
            expression(&terms(&["植木鉢"])).as_deref(),
            Some("grams : (\"植木 木鉢\" OR \"植木\" OR \"木鉢\")")
        );
    }
}
