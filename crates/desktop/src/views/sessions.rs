//! The conversation list: newest first, with time, model and where a background conversation
//! came from (`heartbeat`, `job NAME`, `telegram`, `untrusted …`); New chat on top. Choosing one
//! is reported to the app, which opens it in the chat view.

use eframe::egui::{self, RichText, ScrollArea};
use serde_json::Value;

use super::{one_line, text_of};

/// What the user chose in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// Start a new conversation.
    New,
    /// Open the conversation with this id.
    Open(String),
}

/// The list as the daemon sent it.
#[derive(Debug, Default)]
pub struct SessionsView {
    /// `GET /api/sessions`: `{id, title, started, messages, model, origin}`, newest first.
    pub sessions: Vec<Value>,
}

impl SessionsView {
    /// The title of conversation `id`, when listed.
    pub fn title_of(&self, id: &str) -> Option<String> {
        self.sessions
            .iter()
            .find(|session| session["id"] == id)
            .and_then(|session| session["title"].as_str().map(str::to_owned))
    }

    /// Draws the list; `current` is the conversation shown.
    pub fn show(&self, ui: &mut egui::Ui, current: Option<&str>) -> Option<Choice> {
        let mut choice = None;
        ui.add_space(6.0);
        if ui
            .add_sized([ui.available_width(), 28.0], egui::Button::new("New chat"))
            .on_hover_text("Ctrl+N")
            .clicked()
        {
            choice = Some(Choice::New);
        }
        ui.add_space(6.0);
        ui.label(RichText::new("Conversations").strong());
        if self.sessions.is_empty() {
            ui.label(RichText::new("None yet.").weak());
        }
        ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                for session in &self.sessions {
                    let id = text_of(&session["id"], "");
                    let title = one_line(&text_of(&session["title"], "Untitled"));
                    let mut meta = short_time(&text_of(&session["started"], ""));
                    if let Some(model) = session["model"].as_str() {
                        meta.push_str(" · ");
                        meta.push_str(&one_line(model));
                    }
                    if let Some(origin) = session["origin"].as_str() {
                        meta.push_str(" · ");
                        meta.push_str(&one_line(origin));
                    }
                    let selected = current == Some(id.as_str());
                    let response = ui
                        .selectable_label(selected, title)
                        .on_hover_text(meta.clone());
                    ui.label(RichText::new(meta).small().weak());
                    if response.clicked() && !selected {
                        choice = Some(Choice::Open(id));
                    }
                    ui.add_space(2.0);
                }
            });
        choice
    }
}

/// `2026-12-03T13:13:07.123Z` as `2026-12-03 13:13`.
fn short_time(stamp: &str) -> String {
    let stamp = stamp.replace('T', " ");
    stamp.chars().take(16).collect()
}
