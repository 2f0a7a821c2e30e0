//! Incremental parsers for the two streaming framings providers use: server-sent events (Anthropic,
//! OpenAI) and newline-delimited JSON (Ollama, the Claude CLI).
//!
//! Network chunks split events anywhere — inside a line, between `\r` and `\n`, inside a UTF-8
//! character — so both parsers buffer bytes and only decode complete lines.

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field; `None` means the default type `message`.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// Splits bytes into lines ending in `\n`, `\r\n` or `\r`, across chunk boundaries.
#[derive(Debug, Default)]
pub struct LineSplitter {
    buffer: Vec<u8>,
    /// The previous chunk ended in `\r`, so a `\n` starting the next one belongs to it.
    skip_newline: bool,
}

impl LineSplitter {
    /// Feeds bytes and returns the lines they complete (without terminators).
    pub fn push(&mut self, mut bytes: &[u8]) -> Vec<String> {
        if self.skip_newline && !bytes.is_empty() {
            if bytes[0] == b'\n' {
                bytes = &bytes[1..];
            }
            self.skip_newline = false;
        }
        let mut lines = Vec::new();
        let mut index = 0;
        while index < bytes.len() {
            match bytes[index] {
                b'\n' => {
                    lines.push(self.take_line());
                    index += 1;
                }
                b'\r' => {
                    lines.push(self.take_line());
                    match bytes.get(index + 1) {
                        Some(b'\n') => index += 2,
                        Some(_) => index += 1,
                        None => {
                            self.skip_newline = true;
                            index += 1;
                        }
                    }
                }
                byte => {
                    self.buffer.push(byte);
                    index += 1;
                }
            }
        }
        lines
    }

    /// The unterminated rest, if any, at the end of the input.
    pub fn finish(&mut self) -> Option<String> {
        (!self.buffer.is_empty()).then(|| self.take_line())
    }

    fn take_line(&mut self) -> String {
        let line = String::from_utf8_lossy(&self.buffer).into_owned();
        self.buffer.clear();
        line
    }
}

/// Parses a `text/event-stream` body as the HTML standard describes: `event:` and `data:` fields,
/// multi-line data, `:` comments, events ended by a blank line.
#[derive(Debug, Default)]
pub struct SseParser {
    lines: LineSplitter,
    event: Option<String>,
    data: String,
    has_data: bool,
    started: bool,
}

impl SseParser {
    /// Feeds bytes and returns the events they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        for mut line in self.lines.push(bytes) {
            if !self.started {
                self.started = true;
                if let Some(rest) = line.strip_prefix('\u{feff}') {
                    line = rest.to_owned();
                }
            }
            if let Some(event) = self.line(&line) {
                events.push(event);
            }
        }
        events
    }

    /// Whether a partial event (or line) is waiting for more bytes.
    pub fn has_partial(&self) -> bool {
        self.has_data || self.event.is_some() || !self.lines.buffer.is_empty()
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            let event = self.event.take();
            if !std::mem::take(&mut self.has_data) {
                return None;
            }
            return Some(SseEvent {
                event,
                data: std::mem::take(&mut self.data),
            });
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            _ => {} // `id`, `retry` and unknown fields do not matter to model streams.
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in_chunks(input: &[u8], splits: &[usize]) -> Vec<SseEvent> {
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        let mut start = 0;
        for &split in splits.iter().chain(std::iter::once(&input.len())) {
            events.extend(parser.push(&input[start..split]));
            start = split;
        }
        events
    }

    const SAMPLE: &str = "\u{feff}: comment\r\nevent: message_start\r\ndata: {\"a\":1}\r\n\r\n\
        data: line one\ndata:line two\n\n: keepalive\n\nevent: ping\rdata: {}\r\r\
        data: caf\u{e9} \u{1f600}\n\n";

    fn expected() -> Vec<SseEvent> {
        vec![
            SseEvent {
                event: Some("message_start".into()),
                data: "{\"a\":1}".into(),
            },
            SseEvent {
                event: None,
                data: "line one\nline two".into(),
            },
            SseEvent {
                event: Some("ping".into()),
                data: "{}".into(),
            },
            SseEvent {
                event: None,
                data: "caf\u{e9} \u{1f600}".into(),
            },
        ]
    }

    #[test]
    fn sse_events_survive_a_split_at_every_byte() {
        let bytes = SAMPLE.as_bytes();
        assert_eq!(parse_in_chunks(bytes, &[]), expected());
        for split in 0..=bytes.len() {
            assert_eq!(
                parse_in_chunks(bytes, &[split]),
                expected(),
                "split at {split}"
            );
        }
        let every_byte: Vec<usize> = (1..bytes.len()).collect();
        assert_eq!(parse_in_chunks(bytes, &every_byte), expected());
    }

    #[test]
    fn sse_two_splits_anywhere() {
        let bytes = SAMPLE.as_bytes();
        for first in 0..bytes.len() {
            for second in first..bytes.len() {
                assert_eq!(parse_in_chunks(bytes, &[first, second]), expected());
            }
        }
    }

    #[test]
    fn unfinished_event_is_reported_as_partial() {
        let mut parser = SseParser::default();
        assert!(parser.push(b"data: {\"half\"").is_empty());
        assert!(parser.has_partial());
        assert_eq!(parser.push(b"}\n\n").len(), 1);
        assert!(!parser.has_partial());
    }

    #[test]
    fn lines_split_on_every_terminator() {
        let input = b"one\r\ntwo\nthree\rfour";
        for split in 0..=input.len() {
            let mut splitter = LineSplitter::default();
            let mut lines = splitter.push(&input[..split]);
            lines.extend(splitter.push(&input[split..]));
            lines.extend(splitter.finish());
            assert_eq!(lines, ["one", "two", "three", "four"], "split at {split}");
        }
    }
}
