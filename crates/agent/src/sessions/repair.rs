//! Reading transcripts that a crash or a full disk left damaged. A line cut mid-write (the last
//! line, without its newline) is ignored when reading and, before anything is appended again,
//! cut off — its bytes kept in a `<id>.jsonl.torn` side file — so the next entry starts on a line
//! of its own instead of gluing onto the broken one. Lines that are not valid UTF-8 (a cut inside
//! a multi-byte character, a stray byte) are read lossily, and skipped when they still do not
//! parse, so one bad line never hides the rest of the session.

use std::borrow::Cow;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The lines of a transcript file.
#[derive(Debug)]
pub(super) struct Lines<'a> {
    /// Complete lines (and a last line that lacks only its newline), decoded lossily.
    pub lines: Vec<Cow<'a, str>>,
    /// Lines that were not valid UTF-8.
    pub lossy: usize,
    /// Whether the file ends with a torn line (ignored here).
    pub torn: bool,
}

/// Splits `bytes` into lines; a last line without its newline is kept only when it is a whole
/// JSON value (the crash came between the line and its newline).
pub(super) fn split_lines(bytes: &[u8]) -> Lines<'_> {
    let (body, tail) = split_tail(bytes);
    let mut lines = Vec::new();
    let mut lossy = 0;
    for line in body
        .split(|&byte| byte == b'\n')
        .filter(|line| !line.is_empty())
    {
        match std::str::from_utf8(line) {
            Ok(text) => lines.push(Cow::Borrowed(text)),
            Err(_) => {
                lossy += 1;
                lines.push(String::from_utf8_lossy(line));
            }
        }
    }
    let torn = !tail.is_empty() && !is_whole_json(tail);
    if !tail.is_empty() && !torn {
        lines.push(String::from_utf8_lossy(tail));
    }
    Lines { lines, lossy, torn }
}

/// The part of `bytes` up to its last newline (without it), and what follows.
fn split_tail(bytes: &[u8]) -> (&[u8], &[u8]) {
    match bytes.iter().rposition(|&byte| byte == b'\n') {
        Some(end) => (&bytes[..end], &bytes[end + 1..]),
        None => (&[], bytes),
    }
}

fn is_whole_json(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes).is_ok()
}

/// The side file torn bytes of `path` are kept in.
pub fn torn_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".torn");
    PathBuf::from(name)
}

/// Makes `path` end with a complete line before it is appended to: a last line that lacks only
/// its newline gets one; a torn last line is moved to the `.torn` side file and cut off. Returns
/// how many torn bytes were moved.
pub(super) fn repair_tail(path: &Path) -> std::io::Result<usize> {
    let bytes = std::fs::read(path)?;
    let (_, tail) = split_tail(&bytes);
    if tail.is_empty() {
        return Ok(0);
    }
    let mut file = OpenOptions::new().append(true).open(path)?;
    if is_whole_json(tail) {
        file.write_all(b"\n")?;
        file.sync_data()?;
        return Ok(0);
    }
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut side = options.open(torn_path(path))?;
    side.write_all(tail)?;
    side.write_all(b"\n")?;
    side.sync_data()?;
    file.set_len((bytes.len() - tail.len()) as u64)?;
    file.sync_data()?;
    tracing::warn!(
        "{}: cut off a torn last line ({} bytes, kept in {})",
        path.display(),
        tail.len(),
        torn_path(path).display()
    );
    Ok(tail.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_tail_is_ignored_and_a_missing_newline_is_not() {
        let whole = split_lines(b"{\"a\":1}\n{\"b\":2}");
        assert_eq!(whole.lines.len(), 2);
        assert!(!whole.torn);
        let torn = split_lines(b"{\"a\":1}\n{\"b\":");
        assert_eq!(torn.lines.len(), 1);
        assert!(torn.torn);
        let lossy = split_lines(b"{\"a\":\"\xe2\x82\"}\n");
        assert_eq!(lossy.lossy, 1);
        assert!(lossy.lines[0].contains('\u{fffd}'));
    }
}
