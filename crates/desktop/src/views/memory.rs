//! Memory: search (hybrid, keywords or meaning) with file, headings and excerpt per hit; a hit
//! opens its file with the hit's lines marked and scrolled to; Reindex now with a progress bar.
//! Files are shown as plain text, never rendered or run.

use eframe::egui::{self, RichText, ScrollArea, TextEdit};
use serde_json::Value;

use super::{one_line, text_of};
use crate::client::Client;
use crate::protocol::Request;

/// The id of the query field (focused by Ctrl+K).
pub const QUERY_ID: &str = "memory_query";

const MODES: [&str; 3] = ["hybrid", "keyword", "vector"];

/// An opened file.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenFile {
    /// Its path as the index names it.
    pub path: String,
    /// Its lines.
    pub lines: Vec<String>,
    /// The hit's first and last line (1-based).
    pub marked: (usize, usize),
    /// Whether the view still has to scroll to the hit.
    pub scroll: bool,
}

/// State of the memory view.
#[derive(Debug)]
pub struct MemoryView {
    /// The query being written.
    pub query: String,
    /// `hybrid`, `keyword` or `vector`.
    pub mode: String,
    /// The last results (`{results, mode, note}`).
    pub hits: Value,
    /// Whether a search is on its way.
    pub searching: bool,
    /// The lines asked for with the last Open, until the file arrives.
    pub wanted: (usize, usize),
    /// The file opened from a hit.
    pub file: Option<OpenFile>,
    /// Reindex progress: phase, done, total; `None` when none runs.
    pub progress: Option<(String, u64, u64)>,
    /// The last reindex's outcome.
    pub reindexed: Option<String>,
}

impl Default for MemoryView {
    fn default() -> Self {
        Self {
            query: String::new(),
            mode: MODES[0].to_owned(),
            hits: Value::Null,
            searching: false,
            wanted: (0, 0),
            file: None,
            progress: None,
            reindexed: None,
        }
    }
}

impl MemoryView {
    /// Takes an opened file (`{path, text}`).
    pub fn open(&mut self, file: &Value) {
        let text = text_of(&file["text"], "");
        self.file = Some(OpenFile {
            path: text_of(&file["path"], ""),
            lines: text.lines().map(str::to_owned).collect(),
            marked: self.wanted,
            scroll: true,
        });
    }

    /// Draws the view; `index` is the status's index statistics.
    pub fn show(&mut self, ui: &mut egui::Ui, client: &Client, index: &Value) {
        ui.horizontal(|ui| {
            ui.heading("Memory");
            if index.is_object() {
                ui.label(
                    RichText::new(format!(
                        "{} files, {} chunks",
                        text_of(&index["files"], "0"),
                        text_of(&index["chunks"], "0")
                    ))
                    .weak(),
                );
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let running = self.progress.is_some();
                if ui
                    .add_enabled(!running, egui::Button::new("Reindex now"))
                    .clicked()
                {
                    self.progress = Some(("starting".into(), 0, 0));
                    self.reindexed = None;
                    client.send(Request::Reindex);
                }
            });
        });
        if let Some((phase, done, total)) = &self.progress {
            let fraction = if *total > 0 {
                *done as f32 / *total as f32
            } else {
                0.0
            };
            ui.add(
                egui::ProgressBar::new(fraction)
                    .show_percentage()
                    .text(format!("Reindexing: {phase} {done}/{total}")),
            );
        }
        if let Some(outcome) = &self.reindexed {
            ui.label(RichText::new(outcome.as_str()).weak());
        }
        ui.horizontal(|ui| {
            let label = ui.label("Query");
            let field = ui
                .add(
                    TextEdit::singleline(&mut self.query)
                        .id(egui::Id::unique(QUERY_ID))
                        .hint_text("Ctrl+K")
                        .desired_width(ui.available_width() - 220.0),
                )
                .labelled_by(label.id);
            egui::ComboBox::from_label("Mode")
                .selected_text(self.mode.as_str())
                .show_ui(ui, |ui| {
                    for mode in MODES {
                        ui.selectable_value(&mut self.mode, mode.to_owned(), mode);
                    }
                });
            let enter = field.lost_focus() && ui.input(|input| input.key_pressed(egui::Key::Enter));
            if (ui.button("Search").clicked() || enter) && !self.query.trim().is_empty() {
                self.searching = true;
                client.send(Request::Search {
                    query: self.query.trim().to_owned(),
                    mode: self.mode.clone(),
                });
            }
        });
        ui.separator();
        if self.file.is_some() {
            self.file_view(ui);
        } else {
            self.results(ui, client);
        }
    }

    fn results(&mut self, ui: &mut egui::Ui, client: &Client) {
        if self.searching {
            ui.spinner();
        }
        if let Some(note) = self.hits["note"].as_str() {
            ui.label(RichText::new(one_line(note)).weak());
        }
        let Some(results) = self.hits["results"].as_array() else {
            return;
        };
        if results.is_empty() {
            ui.label("Nothing found.");
        }
        let mut open = None;
        ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                for (index, hit) in results.iter().enumerate() {
                    ui.push_id(index, |ui| {
                        let path = text_of(&hit["path"], "");
                        let start = hit["start_line"].as_u64().unwrap_or(1) as usize;
                        let end = hit["end_line"].as_u64().unwrap_or(start as u64) as usize;
                        let headings: Vec<String> = hit["headings"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|heading| heading.as_str().map(one_line))
                            .collect();
                        ui.horizontal(|ui| {
                            if ui
                                .link(format!("{}:{start}-{end}", one_line(&path)))
                                .clicked()
                            {
                                open = Some((path.clone(), start, end));
                            }
                            if !headings.is_empty() {
                                ui.label(RichText::new(headings.join(" › ")).weak());
                            }
                        });
                        // The excerpt marks matches with **…**: shown as plain text.
                        let snippet = super::transcript::safe(
                            &text_of(&hit["snippet"], "").replace("**", ""),
                        );
                        ui.add(egui::Label::new(snippet).wrap());
                        ui.add_space(6.0);
                    });
                }
            });
        if let Some((path, start, end)) = open {
            self.wanted = (start, end);
            client.send(Request::OpenFile(path));
        }
    }

    fn file_view(&mut self, ui: &mut egui::Ui) {
        let Some(file) = &mut self.file else {
            return;
        };
        let mut close = false;
        ui.horizontal(|ui| {
            if ui.button("Back to results").clicked() {
                close = true;
            }
            ui.label(
                RichText::new(format!(
                    "{} (lines {}–{})",
                    one_line(&file.path),
                    file.marked.0,
                    file.marked.1
                ))
                .strong(),
            );
        });
        let highlight = ui.visuals().selection.bg_fill.gamma_multiply(0.5);
        ScrollArea::both()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                for (index, line) in file.lines.iter().enumerate() {
                    let number = index + 1;
                    let marked = (file.marked.0..=file.marked.1).contains(&number);
                    let mut text =
                        RichText::new(format!("{number:>5}  {}", one_line(line))).monospace();
                    if marked {
                        text = text.background_color(highlight);
                    }
                    let response = ui.label(text);
                    if marked && number == file.marked.0 && file.scroll {
                        response.scroll_to_me(Some(egui::Align::Center));
                        file.scroll = false;
                    }
                }
            });
        if close {
            self.file = None;
        }
    }
}
