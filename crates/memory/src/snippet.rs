//! Snippets for search results: a window of the chunk around the first query term, with the
//! matched words in `**bold**`; a leading excerpt when no term occurs (a vector-only hit). Works on
//! characters, never bytes, so it cannot cut a UTF-8 character.

/// A window of about 240 characters around the first query term, terms in `**bold**`.
pub fn snippet(text: &str, terms: &[String]) -> String {
    const WINDOW: usize = 240;
    let chars: Vec<char> = text.chars().collect();
    let lower: Vec<char> = text.to_lowercase().chars().collect();
    let lower_text: String = lower.iter().collect();
    // Match whole terms or their stems (porter stemming makes "engines" match "engine").
    let stems: Vec<String> = terms
        .iter()
        .map(|term| {
            term.chars()
                .take(term.chars().count().clamp(3, 6))
                .collect()
        })
        .collect();
    let first = stems
        .iter()
        .filter_map(|stem| {
            lower_text
                .find(stem.as_str())
                .map(|byte| lower_text[..byte].chars().count())
        })
        .min()
        .unwrap_or(0);
    let same_length = lower.len() == chars.len();
    let start = first.saturating_sub(WINDOW / 3);
    let end = (start + WINDOW).min(chars.len());
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    let mut position = start;
    while position < end {
        let matched = same_length
            .then(|| {
                stems.iter().filter(|stem| !stem.is_empty()).find(|stem| {
                    let stem_chars: Vec<char> = stem.chars().collect();
                    // Chinese, Japanese and Korean words sit inside runs with no spaces.
                    let cjk = stem_chars.first().is_some_and(|c| crate::cjk::is_cjk(*c));
                    let at_word_start =
                        cjk || position == 0 || !lower[position - 1].is_alphanumeric();
                    at_word_start && lower[position..].starts_with(&stem_chars)
                })
            })
            .flatten();
        if let Some(stem) = matched {
            let mut word_end = position + stem.chars().count();
            while word_end < chars.len()
                && chars[word_end].is_alphanumeric()
                && !crate::cjk::is_cjk(chars[word_end])
            {
                word_end += 1;
            }
            out.push_str("**");
            out.extend(&chars[position..word_end]);
            out.push_str("**");
            position = word_end;
        } else {
            out.push(if chars[position] == '\n' {
                ' '
            } else {
                chars[position]
            });
            position += 1;
        }
    }
    if end < chars.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::query_terms;

    #[test]
    fn snippets_highlight_matches_and_stay_on_char_boundaries() {
        let text = format!(
            "{}The spare key is under the blue flowerpot.",
            "é".repeat(300)
        );
        let snip = snippet(&text, &query_terms("where is the spare key"));
        assert!(
            snip.contains("**spare**") && snip.contains("**key**"),
            "{snip}"
        );
        assert!(snip.starts_with('…'));
        assert!(snippet("engines run", &["engine".to_owned()]).contains("**engines**"));
    }

    #[test]
    fn vector_only_hits_get_a_leading_excerpt() {
        let text = "First words of the chunk. ".repeat(20);
        let snip = snippet(&text, &["zebra".to_owned()]);
        assert!(
            snip.starts_with("First words") && snip.ends_with('…'),
            "{snip}"
        );
        assert_eq!(snippet("", &["x".to_owned()]), "");
        assert_eq!(snippet("İİİ key", &["key".to_owned()]), "İİİ key");
    }
}
