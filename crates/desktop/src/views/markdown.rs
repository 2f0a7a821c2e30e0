//! Answers as markdown: prose through `egui_commonmark` (images are never loaded: no image
//! loader is installed, so a `![](file:///…)` in an answer reads nothing), and fenced code blocks
//! drawn here as monospace blocks with their language and a labelled Copy button. A fence still
//! open while the answer streams shows as code so far.

use eframe::egui::{self, RichText};
use egui_commonmark::{CommonMarkCache, CommonMarkViewer};

/// A piece of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part<'a> {
    /// Markdown prose.
    Prose(&'a str),
    /// A fenced code block: its language (may be empty) and its code.
    Code {
        /// The info string's first word.
        language: &'a str,
        /// The lines between the fences.
        code: String,
    },
}

/// Splits `text` into prose and fenced code blocks (``` or ~~~, up to three spaces indented).
pub fn split(text: &str) -> Vec<Part<'_>> {
    let mut parts = Vec::new();
    let mut prose_start = 0;
    let mut offset = 0;
    let mut open: Option<(String, &str, Vec<&str>)> = None;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let trimmed = line.trim_end_matches(['\n', '\r']);
        let indent = trimmed.len() - trimmed.trim_start_matches(' ').len();
        let body = trimmed.trim_start_matches(' ');
        match &mut open {
            None => {
                if indent <= 3
                    && let Some(fence) = fence_of(body)
                {
                    if prose_start < start {
                        parts.push(Part::Prose(&text[prose_start..start]));
                    }
                    let language = body[fence.len()..].split_whitespace().next().unwrap_or("");
                    open = Some((fence, language, Vec::new()));
                }
            }
            Some((fence, language, lines)) => {
                let closes = indent <= 3
                    && body.starts_with(fence.as_str())
                    && body.trim_end().chars().all(|c| fence.starts_with(c));
                if closes {
                    parts.push(Part::Code {
                        language,
                        code: lines.concat(),
                    });
                    open = None;
                    prose_start = offset;
                } else {
                    lines.push(line);
                }
            }
        }
    }
    match open {
        Some((_, language, lines)) => parts.push(Part::Code {
            language,
            code: lines.concat(),
        }),
        None if prose_start < text.len() => parts.push(Part::Prose(&text[prose_start..])),
        None => {}
    }
    parts
}

/// The fence that opens a code block (three or more backticks or tildes), if `line` is one.
fn fence_of(line: &str) -> Option<String> {
    let first = line.chars().next().filter(|c| matches!(c, '`' | '~'))?;
    let fence: String = line.chars().take_while(|c| *c == first).collect();
    let info = &line[fence.len()..];
    (fence.len() >= 3 && !(first == '`' && info.contains('`'))).then_some(fence)
}

/// Draws `text` as markdown.
pub fn show(ui: &mut egui::Ui, cache: &mut CommonMarkCache, text: &str) {
    for (index, part) in split(text).into_iter().enumerate() {
        ui.push_id(index, |ui| match part {
            Part::Prose(prose) => {
                CommonMarkViewer::new().show(ui, cache, prose);
            }
            Part::Code { language, code } => code_block(ui, language, &code),
        });
    }
}

fn code_block(ui: &mut egui::Ui, language: &str, code: &str) {
    egui::Frame::new()
        .fill(ui.visuals().extreme_bg_color)
        .stroke(ui.visuals().widgets.noninteractive.bg_stroke)
        .corner_radius(6.0)
        .inner_margin(8.0)
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.horizontal(|ui| {
                if !language.is_empty() {
                    ui.label(RichText::new(super::one_line(language)).small().weak());
                }
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    if ui.small_button("Copy").clicked() {
                        ui.ctx().copy_text(code.trim_end_matches('\n').to_owned());
                    }
                });
            });
            egui::ScrollArea::horizontal().show(ui, |ui| {
                ui.add(egui::Label::new(
                    RichText::new(code.trim_end_matches('\n')).monospace(),
                ));
            });
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_and_code_come_apart() {
        let parts = split("Here:\n\n```rust\nfn main() {}\n```\nAfter ``` inline.\n");
        assert_eq!(
            parts,
            vec![
                Part::Prose("Here:\n\n"),
                Part::Code {
                    language: "rust",
                    code: "fn main() {}\n".into()
                },
                Part::Prose("After ``` inline.\n"),
            ]
        );
    }

    #[test]
    fn an_open_fence_is_code_so_far_and_a_shorter_fence_does_not_close() {
        let parts = split("~~~~\na\n~~~\nb");
        assert_eq!(
            parts,
            vec![Part::Code {
                language: "",
                code: "a\n~~~\nb".into()
            }]
        );
    }
}
