//! Turns a model's token pieces into the text deltas a caller sees: whole UTF-8 characters only,
//! stop strings cut off (and never shown), and, when tools are offered, tool-call markup held
//! back so it can be parsed into real tool calls at the end.

use super::tool_parse;

/// Turns token pieces into text deltas: whole UTF-8 characters only, stop strings cut off, and
/// (when tools are offered) tool-call markup held back for parsing at the end.
pub struct TextStream {
    pending: Vec<u8>,
    text: String,
    emitted: usize,
    stops: Vec<String>,
    tools: bool,
    holding: bool,
    pub hit_stop: bool,
}

impl TextStream {
    pub fn new(stops: &[String], tools: bool) -> Self {
        Self {
            pending: Vec::new(),
            text: String::new(),
            emitted: 0,
            stops: stops
                .iter()
                .filter(|stop| !stop.is_empty())
                .cloned()
                .collect(),
            tools,
            holding: false,
            hit_stop: false,
        }
    }

    /// Adds a piece; returns the text that is now safe to show.
    pub fn push(&mut self, piece: &[u8]) -> Option<String> {
        self.pending.extend_from_slice(piece);
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(text) => text.len(),
            Err(error) if error.error_len().is_some() => {
                // Invalid bytes (not just an unfinished character): replace and go on.
                let text = String::from_utf8_lossy(&self.pending).into_owned();
                self.pending.clear();
                self.text.push_str(&text);
                return self.release();
            }
            Err(error) => error.valid_up_to(),
        };
        let complete: Vec<u8> = self.pending.drain(..valid).collect();
        self.text.push_str(&String::from_utf8_lossy(&complete));
        self.release()
    }

    fn release(&mut self) -> Option<String> {
        let search_from = floor_boundary(&self.text, self.emitted.saturating_sub(64));
        if let Some(found) = self
            .stops
            .iter()
            .filter_map(|stop| self.text[search_from..].find(stop.as_str()))
            .min()
        {
            self.text.truncate(search_from + found);
            self.hit_stop = true;
        }
        if self.tools && !self.holding {
            if let Some(marker) = tool_parse::MARKERS
                .iter()
                .filter_map(|marker| self.text[self.emitted..].find(marker))
                .min()
            {
                self.holding = true;
                return self.take_until(self.emitted + marker);
            }
            if self.emitted == 0 && tool_parse::may_be_bare_call(&self.text) {
                return None;
            }
        }
        if self.holding {
            return None;
        }
        let mut held = self
            .stops
            .iter()
            .map(|stop| partial_len(&self.text, stop))
            .max()
            .unwrap_or(0);
        if self.tools {
            held = held.max(tool_parse::partial_marker_len(&self.text));
        }
        let end = if self.hit_stop {
            self.text.len()
        } else {
            self.text.len() - held
        };
        self.take_until(floor_boundary(&self.text, end))
    }

    fn take_until(&mut self, end: usize) -> Option<String> {
        if end <= self.emitted {
            return None;
        }
        let out = self.text[self.emitted..end].to_owned();
        self.emitted = end;
        Some(out)
    }

    /// The text after an opening `<tool_call>` tag, once one has been written.
    pub fn after_tool_tag(&self) -> Option<&str> {
        let at = self.text.find(super::grammar::TRIGGER)?;
        Some(&self.text[at + super::grammar::TRIGGER.len()..])
    }

    /// The text not shown yet and the tool calls found.
    pub fn finish(mut self) -> (Option<String>, Vec<tool_parse::ParsedCall>) {
        if !self.pending.is_empty() {
            let rest = String::from_utf8_lossy(&self.pending).into_owned();
            self.text.push_str(&rest);
        }
        if self.tools {
            let (plain, calls) = tool_parse::extract(&self.text);
            if !calls.is_empty() {
                let rest = plain
                    .get(self.emitted.min(plain.len())..)
                    .unwrap_or_default();
                return ((!rest.is_empty()).then(|| rest.to_owned()), calls);
            }
        }
        let rest = self.text[self.emitted..].to_owned();
        ((!rest.is_empty()).then_some(rest), Vec::new())
    }
}

/// Bytes at the end of `text` that could be the start of `stop`.
fn partial_len(text: &str, stop: &str) -> usize {
    (1..stop.len())
        .rev()
        .filter(|&len| stop.is_char_boundary(len))
        .find(|&len| text.ends_with(&stop[..len]))
        .unwrap_or(0)
}

fn floor_boundary(text: &str, mut index: usize) -> usize {
    index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pieces: &[&[u8]], stops: &[&str], tools: bool) -> (Vec<String>, Option<String>, usize) {
        let stops: Vec<String> = stops.iter().map(|s| (*s).to_owned()).collect();
        let mut stream = TextStream::new(&stops, tools);
        let mut out = Vec::new();
        for piece in pieces {
            out.extend(stream.push(piece));
            if stream.hit_stop {
                break;
            }
        }
        let (rest, calls) = stream.finish();
        (out, rest, calls.len())
    }

    #[test]
    fn split_characters_are_joined_before_they_are_shown() {
        let e_acute = "é".as_bytes();
        let (out, rest, _) = run(&[b"caf", &e_acute[..1], &e_acute[1..], b"!"], &[], false);
        assert_eq!(out, ["caf", "é", "!"]);
        assert_eq!(rest, None);
    }

    #[test]
    fn stop_strings_end_the_text_and_are_not_shown() {
        let (out, rest, _) = run(
            &[b"Hello", b" wor", b"ld", b"END", b"more"],
            &["worldEND"],
            false,
        );
        assert_eq!(out.concat() + &rest.unwrap_or_default(), "Hello ");
    }

    #[test]
    fn tool_calls_are_held_back_and_parsed() {
        let (out, rest, calls) = run(
            &[
                b"Let me check. <tool",
                b"_call>{\"name\": \"list_dir\", ",
                b"\"arguments\": {}}</tool_call>",
            ],
            &[],
            true,
        );
        assert_eq!(out.concat(), "Let me check. ");
        assert_eq!(rest, None);
        assert_eq!(calls, 1);
        // Without tools, the same text is just text.
        let (out, rest, calls) = run(&[b"<tool_call>{}</tool_call>"], &[], false);
        assert_eq!(
            out.concat() + &rest.unwrap_or_default(),
            "<tool_call>{}</tool_call>"
        );
        assert_eq!(calls, 0);
    }
}
