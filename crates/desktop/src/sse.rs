//! Server-sent events read from a response body that arrives in arbitrary pieces: bytes in,
//! complete `{event, data}` pairs out. Keep-alive comments are skipped; a piece may end in the
//! middle of a line or of a UTF-8 character.

/// One server-sent event: its name (`message` when none was given) and its data lines joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field.
    pub event: String,
    /// The `data:` lines, joined with newlines.
    pub data: String,
}

/// Collects bytes until blank lines end events.
#[derive(Debug, Default)]
pub struct SseParser {
    buffer: Vec<u8>,
    /// How far the buffer is known to hold no blank line (so each byte is scanned about once).
    scanned: usize,
}

/// The most an unfinished event may hold before the stream counts as broken (a hostile or
/// broken server cannot make the app buffer without end).
pub const MAX_EVENT_BYTES: usize = 8 * 1024 * 1024;

impl SseParser {
    /// Adds `bytes` and returns the events they completed, or `None` when an event grew past
    /// [`MAX_EVENT_BYTES`].
    pub fn push(&mut self, bytes: &[u8]) -> Option<Vec<SseEvent>> {
        self.buffer.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some((end, skip)) = block_end(&self.buffer, self.scanned) {
            let block: Vec<u8> = self.buffer.drain(..end + skip).take(end).collect();
            self.scanned = 0;
            if let Some(event) = parse_block(&String::from_utf8_lossy(&block)) {
                events.push(event);
            }
        }
        // A separator may straddle this piece and the next: rescan its last three bytes.
        self.scanned = self.buffer.len().saturating_sub(3);
        (self.buffer.len() <= MAX_EVENT_BYTES).then_some(events)
    }
}

/// Where the first blank line at or after `from` is: the end of the block and the length of
/// the separator.
fn block_end(buffer: &[u8], from: usize) -> Option<(usize, usize)> {
    (from..buffer.len()).find_map(|index| {
        let rest = &buffer[index..];
        if rest.starts_with(b"\r\n\r\n") {
            Some((index, 4))
        } else if rest.starts_with(b"\n\n") || rest.starts_with(b"\r\r") {
            Some((index, 2))
        } else {
            None
        }
    })
}

fn parse_block(block: &str) -> Option<SseEvent> {
    let mut event = String::from("message");
    let mut data: Vec<&str> = Vec::new();
    for line in block.lines() {
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => event = value.to_owned(),
            "data" => data.push(value),
            _ => {}
        }
    }
    (!data.is_empty()).then(|| SseEvent {
        event,
        data: data.join("\n"),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn events_split_anywhere_come_out_whole() {
        let stream = "event: delta\ndata: {\"text\":\"h\u{e9}\"}\n\n: keep-alive\n\nevent: done\r\ndata: {}\r\n\r\n";
        let bytes = stream.as_bytes();
        for cut in 0..bytes.len() {
            let mut parser = SseParser::default();
            let mut events = parser.push(&bytes[..cut]).unwrap();
            events.extend(parser.push(&bytes[cut..]).unwrap());
            assert_eq!(events.len(), 2, "cut at {cut}");
            assert_eq!(events[0].event, "delta");
            assert_eq!(events[0].data, "{\"text\":\"h\u{e9}\"}");
            assert_eq!(events[1].event, "done");
        }
    }

    #[test]
    fn an_endless_event_is_refused() {
        let mut parser = SseParser::default();
        let chunk = vec![b'a'; 1024 * 1024];
        let mut refused = false;
        for _ in 0..10 {
            if parser.push(&chunk).is_none() {
                refused = true;
                break;
            }
        }
        assert!(refused);
    }
}
