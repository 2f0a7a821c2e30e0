//! A keyword query from a question: its terms (lower-cased words, English stop words dropped
//! unless nothing else is left), how often the question says each, and the FTS5 MATCH
//! expression that searches them — every term quoted, so no word is read as FTS5 syntax.

/// Short English function words left out of keyword queries: they match nearly every chunk and
/// only add noise to BM25 when sentence-long questions are OR-ed.
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can", "could", "did", "do",
    "does", "for", "from", "had", "has", "have", "how", "i", "if", "in", "into", "is", "it", "its",
    "me", "my", "of", "on", "or", "our", "so", "such", "that", "the", "their", "them", "then",
    "there", "these", "they", "this", "those", "to", "was", "we", "were", "what", "when", "where",
    "which", "who", "whom", "why", "will", "with", "would", "you", "your",
];

/// The query's search terms: lower-cased runs of letters and digits, stop words dropped (unless
/// nothing else is left), duplicates removed.
pub fn query_terms(query: &str) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    for word in query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
    {
        let lower = word.to_lowercase();
        if !all.contains(&lower) {
            all.push(lower);
        }
    }
    let content: Vec<String> = all
        .iter()
        .filter(|term| !STOP_WORDS.contains(&term.as_str()))
        .cloned()
        .collect();
    let mut terms = if content.is_empty() { all } else { content };
    terms.truncate(64);
    terms
}

/// How often a keyword query repeats one term at most (see [`weighted_terms`]).
const MAX_TERM_REPEATS: usize = 4;

/// The query's terms (as [`query_terms`]) each with how often the query says it, at most
/// [`MAX_TERM_REPEATS`]. A long question names what it is about more than once ("…information
/// retrieval… retrieve information…"); BM25 weighs a query term by that count, and on CISI's
/// paragraph-long questions dropping the repeats cost a sixth of plain stemmed BM25's nDCG@10
/// (0.387 → 0.331 in `bench/smart/bm25.py`'s model). The cap bounds the FTS5 expression; on the
/// three collections it changes nDCG@10 by under 0.002.
pub(crate) fn weighted_terms(query: &str, terms: &[String]) -> Vec<(String, usize)> {
    let mut counts = vec![0usize; terms.len()];
    for word in query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
    {
        let lower = word.to_lowercase();
        if let Some(at) = terms.iter().position(|term| *term == lower) {
            counts[at] += 1;
        }
    }
    terms
        .iter()
        .zip(counts)
        .map(|(term, count)| (term.clone(), count.clamp(1, MAX_TERM_REPEATS)))
        .collect()
}

/// An FTS5 MATCH expression for the terms: each quoted (so no term is read as syntax), OR-ed.
pub(crate) fn fts_expression(terms: &[String]) -> String {
    terms
        .iter()
        .map(|term| format!("\"{}\"", term.replace('"', "")))
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// [`fts_expression`] with each term repeated as often as the query says it: FTS5's `bm25()`
/// adds up every phrase of the expression, so a term said twice weighs twice.
pub(crate) fn weighted_fts_expression(terms: &[(String, usize)]) -> String {
    let repeated: Vec<String> = terms
        .iter()
        .flat_map(|(term, count)| std::iter::repeat_n(term.clone(), *count))
        .collect();
    fts_expression(&repeated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_terms_drop_syntax_and_stop_words() {
        assert_eq!(
            query_terms("What is the \"spare\" key AND NEAR(x)?"),
            ["spare", "key", "near", "x"]
        );
        assert_eq!(query_terms("the of"), ["the", "of"]);
        assert_eq!(query_terms("日本語 café"), ["日本語", "café"]);
        assert!(query_terms("  --- *** ").is_empty());
        assert_eq!(
            fts_expression(&query_terms("spare key")),
            "\"spare\" OR \"key\""
        );
    }

    #[test]
    fn repeated_words_weigh_more_up_to_a_cap() {
        let query = "Retrieval of information: information retrieval, INFORMATION systems. \
                     information information information \"spare\"";
        let terms = query_terms(query);
        let weighted = weighted_terms(query, &terms);
        assert_eq!(
            weighted,
            [
                ("retrieval".to_owned(), 2),
                ("information".to_owned(), MAX_TERM_REPEATS),
                ("systems".to_owned(), 1),
                ("spare".to_owned(), 1),
            ]
        );
        assert_eq!(
            weighted_fts_expression(&weighted[2..]),
            "\"systems\" OR \"spare\""
        );
        assert_eq!(
            weighted_fts_expression(&weighted[..1]),
            "\"retrieval\" OR \"retrieval\""
        );
        // A query of stop words only keeps them, each once per mention.
        let only = query_terms("the of the");
        assert_eq!(
            weighted_terms("the of the", &only),
            [("the".to_owned(), 2), ("of".to_owned(), 1)]
        );
    }
}
