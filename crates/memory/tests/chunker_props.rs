//! Properties every chunking must have, on generated markdown: every non-blank line is covered,
//! no chunk is over the cap, and each chunk's text is the file's lines in its range.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use localgpt_memory::chunker::{ChunkSettings, chunk_markdown, estimate_tokens};
use proptest::prelude::*;

fn markdown_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "#{1,3} [A-Za-z ]{1,20}",
        "- [a-z ]{0,40}",
        "1\\. [a-z ]{0,40}",
        "\\| [a-z]{1,5} \\| [a-z]{1,5} \\|",
        Just("```".to_owned()),
        "[A-Za-zéü日本 .,]{0,120}",
        "[a-z]{200,600}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn chunks_cover_every_line_within_the_cap(lines in prop::collection::vec(markdown_line(), 0..80), crlf in any::<bool>(), target in 16usize..120, overlap in 0usize..40) {
        let newline = if crlf { "\r\n" } else { "\n" };
        let text = lines.join(newline);
        let settings = ChunkSettings { target_tokens: target, overlap_tokens: overlap };
        let chunks = chunk_markdown(&text, settings, &estimate_tokens);
        let file_lines: Vec<&str> = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).collect();
        let mut covered = vec![false; file_lines.len()];
        for chunk in &chunks {
            prop_assert!(chunk.start_line >= 1 && chunk.start_line <= chunk.end_line && chunk.end_line <= file_lines.len());
            prop_assert!(estimate_tokens(&chunk.text) <= target.max(8), "chunk of {} tokens over cap {}", estimate_tokens(&chunk.text), target);
            let range = file_lines[chunk.start_line - 1..chunk.end_line].join("\n");
            if chunk.start_line == chunk.end_line {
                prop_assert!(range.contains(&chunk.text), "piece {:?} not in line {:?}", chunk.text, range);
            } else {
                prop_assert!(range.ends_with(&chunk.text) || range.starts_with(&chunk.text) || chunk.text == range || range.contains(&chunk.text),
                    "chunk text is not the file's lines {}..{}", chunk.start_line, chunk.end_line);
            }
            for flag in &mut covered[chunk.start_line - 1..chunk.end_line] {
                *flag = true;
            }
        }
        for (index, line) in file_lines.iter().enumerate() {
            prop_assert!(line.trim().is_empty() || covered[index], "line {} ({:?}) not covered", index + 1, line);
        }
    }
}
