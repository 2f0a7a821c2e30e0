//! Markdown-aware chunking. A file is read as blocks — front matter, headings, fenced code,
//! tables, lists, paragraphs — and blocks are packed into chunks of about `target_tokens`, so a
//! code fence or a table stays whole when it fits. A section that outgrows a chunk continues in the
//! next one, which repeats the last lines of the previous chunk (`overlap_tokens`) for context.
//! Each chunk keeps its 1-based line range and the path of headings above it.
//!
//! Tokens are counted by a function the caller supplies: the embedding model's tokenizer when
//! there is one, an estimate otherwise.

use sha2::{Digest, Sha256};

/// Counts tokens the way the embedding model (or an estimate) does.
pub type TokenCounter<'a> = &'a dyn Fn(&str) -> usize;

/// A rough token count for text when no tokenizer is at hand: about four characters a token.
pub fn estimate_tokens(text: &str) -> usize {
    text.chars().count().div_ceil(4)
}

/// Chunk size settings, in tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkSettings {
    /// Size a chunk grows to before a new one starts; also the hard cap.
    pub target_tokens: usize,
    /// Tokens of trailing lines repeated at the start of a continuation chunk.
    pub overlap_tokens: usize,
}

/// One piece of a file, ready to index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// First line, 1-based.
    pub start_line: usize,
    /// Last line, 1-based, inclusive.
    pub end_line: usize,
    /// Headings above the chunk, outermost first.
    pub headings: Vec<String>,
    /// The chunk's text: the file's lines `start_line..=end_line` joined with `\n` (a line longer
    /// than a chunk is hard-split at character boundaries, so the first line of a chunk may be the
    /// tail of a file line and the last one its head).
    pub text: String,
    /// SHA-256 of `text`, hex.
    pub hash: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    FrontMatter,
    Heading,
    Fence,
    Table,
    List,
    Paragraph,
}

#[derive(Debug)]
struct Block {
    kind: BlockKind,
    /// 0-based index of the first line.
    start: usize,
    /// 0-based index one past the last line.
    end: usize,
    headings: Vec<String>,
}

/// Splits `text` into chunks.
pub fn chunk_markdown(text: &str, settings: ChunkSettings, count: TokenCounter<'_>) -> Vec<Chunk> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .collect();
    let blocks = parse_blocks(&lines);
    let target = settings.target_tokens.max(8);
    let overlap = settings.overlap_tokens.min(target / 2);
    let mut packer = Packer {
        lines: &lines,
        count,
        target,
        overlap,
        chunks: Vec::new(),
        current: Vec::new(),
        current_tokens: 0,
    };
    for block in &blocks {
        packer.add_block(block);
    }
    packer.flush();
    packer.chunks
}

fn parse_blocks(lines: &[&str]) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut headings: Vec<(usize, String)> = Vec::new();
    let heading_path = |headings: &[(usize, String)]| {
        headings
            .iter()
            .map(|(_, title)| title.clone())
            .collect::<Vec<_>>()
    };
    let mut index = 0;
    if lines.first().is_some_and(|line| line.trim_end() == "---")
        && let Some(close) = lines
            .iter()
            .skip(1)
            .take(200)
            .position(|line| matches!(line.trim_end(), "---" | "..."))
    {
        let end = close + 2;
        blocks.push(Block {
            kind: BlockKind::FrontMatter,
            start: 0,
            end,
            headings: Vec::new(),
        });
        index = end;
    }
    while index < lines.len() {
        let line = lines[index];
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            index += 1;
            continue;
        }
        let start = index;
        let (kind, end) = if let Some((level, title)) = atx_heading(trimmed) {
            headings.retain(|(existing, _)| *existing < level);
            headings.push((level, title));
            (BlockKind::Heading, index + 1)
        } else if let Some(fence) = fence_marker(trimmed) {
            let close = lines[index + 1..]
                .iter()
                .position(|candidate| {
                    candidate.trim_start().starts_with(fence)
                        && candidate
                            .trim()
                            .chars()
                            .all(|c| c == fence.chars().next().unwrap_or('`'))
                })
                .map_or(lines.len(), |offset| index + 1 + offset + 1);
            (BlockKind::Fence, close)
        } else if trimmed.starts_with('|') {
            (
                BlockKind::Table,
                run_end(lines, index, |l| l.trim_start().starts_with('|')),
            )
        } else if is_list_item(trimmed) {
            (
                BlockKind::List,
                run_end(lines, index, |l| {
                    is_list_item(l.trim_start()) || l.starts_with("  ") || l.starts_with('\t')
                }),
            )
        } else {
            (
                BlockKind::Paragraph,
                run_end(lines, index, |l| {
                    let t = l.trim_start();
                    !t.is_empty()
                        && atx_heading(t).is_none()
                        && fence_marker(t).is_none()
                        && !t.starts_with('|')
                        && !is_list_item(t)
                }),
            )
        };
        blocks.push(Block {
            kind,
            start,
            end,
            headings: heading_path(&headings),
        });
        index = end.max(start + 1);
    }
    blocks
}

fn run_end(lines: &[&str], start: usize, continues: impl Fn(&str) -> bool) -> usize {
    let mut end = start + 1;
    while end < lines.len() && !lines[end].trim().is_empty() && continues(lines[end]) {
        end += 1;
    }
    end
}

fn atx_heading(line: &str) -> Option<(usize, String)> {
    let level = line.chars().take_while(|&c| c == '#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let rest = &line[level..];
    if !(rest.is_empty() || rest.starts_with(' ') || rest.starts_with('\t')) {
        return None;
    }
    let title = rest.trim().trim_end_matches('#').trim().to_owned();
    Some((level, title))
}

fn fence_marker(line: &str) -> Option<&'static str> {
    if line.starts_with("```") {
        Some("```")
    } else if line.starts_with("~~~") {
        Some("~~~")
    } else {
        None
    }
}

fn is_list_item(line: &str) -> bool {
    if let Some(rest) = line.strip_prefix(['-', '*', '+']) {
        return rest.starts_with(' ') || rest.is_empty();
    }
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    digits > 0
        && digits < 10
        && line[digits..].starts_with(['.', ')'])
        && line[digits + 1..].starts_with(' ')
}

/// A line (or a piece of an over-long line) waiting to be put in a chunk.
#[derive(Debug, Clone)]
struct Piece {
    line: usize,
    text: String,
    tokens: usize,
    headings: Vec<String>,
}

struct Packer<'a> {
    lines: &'a [&'a str],
    count: TokenCounter<'a>,
    target: usize,
    overlap: usize,
    chunks: Vec<Chunk>,
    current: Vec<Piece>,
    current_tokens: usize,
}

impl Packer<'_> {
    fn add_block(&mut self, block: &Block) {
        let pieces = self.pieces(block);
        let block_tokens: usize = pieces.iter().map(|piece| piece.tokens).sum();
        let starts_section =
            block.kind == BlockKind::Heading && self.current_tokens >= self.target / 4;
        let overflows = self.current_tokens + block_tokens > self.target;
        // Blocks are natural boundaries: a block that fits in a chunk of its own starts one rather
        // than being split. Overlap is only carried when a block itself is split (below).
        if starts_section || (overflows && block_tokens <= self.target) {
            self.flush();
        }
        let is_front_matter = block.kind == BlockKind::FrontMatter;
        for piece in pieces {
            let gap = self.gap_tokens(&piece);
            if self.current_tokens > 0 && self.current_tokens + gap + piece.tokens > self.target {
                self.flush_with_overlap(true);
                if self.current_tokens + self.gap_tokens(&piece) + piece.tokens > self.target {
                    // The carried overlap and this piece do not fit together: drop the overlap.
                    self.current.clear();
                    self.current_tokens = 0;
                }
            }
            self.current_tokens += self.gap_tokens(&piece) + piece.tokens;
            self.current.push(piece);
        }
        if is_front_matter {
            self.flush();
        }
    }

    /// Tokens of the lines between the current chunk's last piece and `piece` (blank lines between
    /// blocks, which the chunk's text keeps).
    fn gap_tokens(&self, piece: &Piece) -> usize {
        self.current
            .last()
            .map_or(0, |last| self.lines_tokens(last.line + 1, piece.line))
    }

    /// Tokens of lines `from..to` (0-based), each with its newline.
    fn lines_tokens(&self, from: usize, to: usize) -> usize {
        (from..to)
            .map(|line| (self.count)(self.lines[line]) + 1)
            .sum()
    }

    /// The block's lines as pieces, with over-long lines cut at character boundaries.
    fn pieces(&self, block: &Block) -> Vec<Piece> {
        let mut pieces = Vec::new();
        for line in block.start..block.end.min(self.lines.len()) {
            let text = self.lines[line];
            let tokens = (self.count)(text) + 1;
            if tokens <= self.target {
                pieces.push(Piece {
                    line,
                    text: text.to_owned(),
                    tokens,
                    headings: block.headings.clone(),
                });
                continue;
            }
            for part in split_long_line(text, self.target, self.count) {
                let tokens = (self.count)(&part) + 1;
                pieces.push(Piece {
                    line,
                    text: part,
                    tokens,
                    headings: block.headings.clone(),
                });
            }
        }
        pieces
    }

    fn flush(&mut self) {
        self.flush_with_overlap(false);
    }

    fn flush_with_overlap(&mut self, keep_overlap: bool) {
        if self.current.is_empty() {
            return;
        }
        let pieces = std::mem::take(&mut self.current);
        self.current_tokens = 0;
        if pieces.iter().all(|piece| piece.text.trim().is_empty()) {
            return;
        }
        let first = &pieces[0];
        let last = &pieces[pieces.len() - 1];
        let mut text = String::new();
        for (position, piece) in pieces.iter().enumerate() {
            if position > 0 {
                let previous = pieces[position - 1].line;
                // Pieces of one split line join directly; lines between blocks (blank ones) are
                // kept so the text is exactly the file's lines.
                if piece.line != previous {
                    for skipped in previous + 1..piece.line {
                        text.push('\n');
                        text.push_str(self.lines[skipped]);
                    }
                    text.push('\n');
                }
            }
            text.push_str(&piece.text);
        }
        self.chunks.push(Chunk {
            start_line: first.line + 1,
            end_line: last.line + 1,
            headings: first.headings.clone(),
            hash: hex::encode(Sha256::digest(text.as_bytes())),
            text,
        });
        if keep_overlap && self.overlap > 0 {
            let mut carried = Vec::new();
            let mut tokens = 0;
            for piece in pieces.iter().rev() {
                // Carry whole lines only, and never the chunk's only line (no progress otherwise).
                if tokens + piece.tokens > self.overlap || carried.len() + 1 >= pieces.len() {
                    break;
                }
                tokens += piece.tokens;
                carried.push(piece.clone());
            }
            carried.reverse();
            if carried
                .first()
                .is_some_and(|piece| piece.line == pieces[0].line)
            {
                carried.clear();
            }
            // Overlap lines must not start mid-line.
            while carried.len() > 1 && carried[0].line == carried[1].line {
                carried.remove(0);
            }
            self.current_tokens = carried.iter().map(|piece| piece.tokens).sum::<usize>()
                + carried
                    .windows(2)
                    .map(|pair| self.lines_tokens(pair[0].line + 1, pair[1].line))
                    .sum::<usize>();
            self.current = carried;
        }
    }
}

/// Cuts a line into parts of at most `max_tokens`, never inside a UTF-8 character.
fn split_long_line(line: &str, max_tokens: usize, count: TokenCounter<'_>) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let mut parts = Vec::new();
    let mut start = 0;
    while start < chars.len() {
        // Largest end whose slice fits, found by binary search on the character count.
        let (mut low, mut high) = (start + 1, chars.len());
        while low < high {
            let middle = (low + high).div_ceil(2);
            let candidate: String = chars[start..middle].iter().collect();
            if count(&candidate) < max_tokens {
                low = middle;
            } else {
                high = middle - 1;
            }
        }
        let end = low.max(start + 1);
        parts.push(chars[start..end].iter().collect());
        start = end;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> usize {
        text.split_whitespace().count()
    }

    fn settings(target: usize, overlap: usize) -> ChunkSettings {
        ChunkSettings {
            target_tokens: target,
            overlap_tokens: overlap,
        }
    }

    #[test]
    fn empty_and_blank_files_give_no_chunks() {
        assert!(chunk_markdown("", settings(50, 10), &words).is_empty());
        assert!(chunk_markdown("\n\n  \n", settings(50, 10), &words).is_empty());
    }

    #[test]
    fn small_file_is_one_chunk_with_lines_and_headings() {
        let text = "# Projects\n\n## LocalGPT\n\nA local assistant.\nWritten in Rust.\n";
        let chunks = chunk_markdown(text, settings(100, 10), &words);
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].start_line, 1);
        assert_eq!(chunks[0].end_line, 6);
        assert_eq!(chunks[0].headings, ["Projects"]);
    }

    #[test]
    fn sections_split_at_headings_and_keep_their_path() {
        let body = "word ".repeat(30);
        let text = format!("# A\n{body}\n## B\n{body}\n# C\n{body}\n");
        let chunks = chunk_markdown(&text, settings(40, 5), &words);
        let paths: Vec<_> = chunks.iter().map(|c| c.headings.join(">")).collect();
        assert_eq!(paths, ["A", "A>B", "C"]);
        assert_eq!((chunks[1].start_line, chunks[1].end_line), (3, 4));
    }

    #[test]
    fn code_fences_stay_whole_when_they_fit() {
        let text = "intro line here\n\n```rust\nfn a() {}\n\nfn b() {}\n```\n\nafter\n";
        let chunks = chunk_markdown(text, settings(14, 0), &words);
        let fence = chunks.iter().find(|c| c.text.contains("fn a")).unwrap();
        assert!(
            fence.text.contains("fn b") && fence.text.contains("```rust"),
            "{chunks:#?}"
        );
    }

    #[test]
    fn crlf_front_matter_and_long_lines_are_handled() {
        let text =
            "---\r\ntitle: x\r\n---\r\n# Heading\r\n".to_owned() + &"é".repeat(5000) + "\r\n";
        let chunks = chunk_markdown(&text, settings(100, 10), &estimate_tokens);
        assert_eq!(chunks[0].text, "---\ntitle: x\n---");
        assert!(chunks.iter().all(|c| !c.text.contains('\r')));
        assert!(chunks.len() > 10);
        assert!(chunks.iter().all(|c| estimate_tokens(&c.text) <= 100));
    }

    #[test]
    fn continuation_chunks_repeat_trailing_lines() {
        let text: String = (1..=30)
            .map(|n| format!("line number {n} has some words\n"))
            .collect();
        let chunks = chunk_markdown(&text, settings(40, 10), &words);
        assert!(chunks.len() > 2);
        assert!(
            chunks[1].start_line <= chunks[0].end_line,
            "{:?}",
            chunks
                .iter()
                .map(|c| (c.start_line, c.end_line))
                .collect::<Vec<_>>()
        );
    }
}
