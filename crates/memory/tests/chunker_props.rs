//! Properties every chunking must have, on generated markdown: every non-blank line is covered,
//! no chunk is over the cap (in the counter's tokens), and each chunk's text is exactly the file's
//! lines in its range — except that a line longer than a chunk is hard-split, so a chunk's first
//! line may be the tail of its file line and its last line the head.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use localgpt_memory::chunker::{ChunkSettings, chunk_markdown, estimate_tokens};
use proptest::prelude::*;

fn markdown_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "#{1,3} [A-Za-z ]{1,20}",
        "- [a-z ]{0,40}",
        "  [a-z ]{0,30}",
        "1\\. [a-z ]{0,40}",
        "\\| [a-z]{1,5} \\| [a-z]{1,5} \\|",
        Just("```".to_owned()),
        Just("---".to_owned()),
        "[ \t]{0,200}",
        "[A-Za-zéü日本 .,]{0,120}",
        "[a-z]{200,600}",
        "[a-zé日 ]{100,400}",
    ]
}

fn words(text: &str) -> usize {
    text.split_whitespace().count()
}

fn check(text: &str, target: usize, overlap: usize, count: &dyn Fn(&str) -> usize) {
    let settings = ChunkSettings {
        target_tokens: target,
        overlap_tokens: overlap,
    };
    let chunks = chunk_markdown(text, settings, count);
    let file_lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let cap = target.max(8);
    let mut covered = vec![false; file_lines.len()];
    for chunk in &chunks {
        let (start, end) = (chunk.start_line, chunk.end_line);
        assert!(
            start >= 1 && start <= end && end <= file_lines.len(),
            "{start}..{end}"
        );
        assert!(
            count(&chunk.text) <= cap,
            "chunk {start}..{end} has {} tokens, over the cap {cap}",
            count(&chunk.text)
        );
        assert!(!chunk.text.trim().is_empty(), "blank chunk {start}..{end}");
        let parts: Vec<&str> = chunk.text.split('\n').collect();
        let range = &file_lines[start - 1..end];
        assert_eq!(parts.len(), range.len(), "chunk {start}..{end}: line count");
        if parts.len() == 1 {
            assert!(range[0].contains(parts[0]), "piece not in line {start}");
        } else {
            let last = parts.len() - 1;
            assert!(range[0].ends_with(parts[0]), "line {start}: not a tail");
            assert!(
                range[last].starts_with(parts[last]),
                "line {end}: not a head"
            );
            assert_eq!(
                &parts[1..last],
                &range[1..last],
                "chunk {start}..{end}: inner lines"
            );
            // Only a line over the cap may be cut.
            for (part, line) in [(parts[0], range[0]), (parts[last], range[last])] {
                if count(line) < cap {
                    assert_eq!(part, line, "a line under the cap was cut");
                }
            }
        }
        for flag in &mut covered[start - 1..end] {
            *flag = true;
        }
    }
    for (index, line) in file_lines.iter().enumerate() {
        assert!(
            line.trim().is_empty() || covered[index],
            "line {} ({line:?}) not covered",
            index + 1
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn chunks_cover_every_line_within_the_cap(
        lines in prop::collection::vec(markdown_line(), 0..80),
        crlf in any::<bool>(),
        target in 8usize..120,
        overlap in 0usize..40,
        by_words in any::<bool>(),
    ) {
        let newline = if crlf { "\r\n" } else { "\n" };
        let text = lines.join(newline);
        if by_words {
            check(&text, target, overlap, &words);
        } else {
            check(&text, target, overlap, &estimate_tokens);
        }
    }
}

#[test]
fn front_matter_is_its_own_chunk_and_bom_is_ignored() {
    let text = "\u{feff}---\ntitle: x\n---\nbody text\n";
    let chunks = chunk_markdown(
        text,
        ChunkSettings {
            target_tokens: 100,
            overlap_tokens: 0,
        },
        &estimate_tokens,
    );
    assert_eq!(chunks.len(), 2);
    assert_eq!((chunks[0].start_line, chunks[0].end_line), (1, 3));
    assert_eq!(chunks[1].text, "body text");
    assert_eq!(chunks[1].hash.len(), 64);
}
