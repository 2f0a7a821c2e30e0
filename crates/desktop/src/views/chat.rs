//! The conversation: messages (answers as markdown with code blocks), tool calls inline and
//! folded, approval cards with Approve/Deny, errors with Retry, and the composer (Ctrl+Enter
//! sends, Esc or Stop stops). Approving is only ever a click on the card's own button: no
//! shortcut, no default focus, nothing in an answer can press it.

use eframe::egui::{self, Color32, RichText, ScrollArea, TextEdit};
use egui_commonmark::CommonMarkCache;

use super::transcript::{ApprovalState, Item, Transcript};
use crate::client::Client;
use crate::protocol::Request;

/// The id of the composer's text field (focused by Ctrl+N and after sending).
pub const COMPOSER_ID: &str = "composer";

/// State of the chat view.
#[derive(Default)]
pub struct ChatView {
    /// The conversation shown; `None` for a new one not yet sent.
    pub session_id: Option<String>,
    /// What it shows.
    pub transcript: Transcript,
    /// The text being written.
    pub draft: String,
    /// Whether a turn is streaming.
    pub streaming: bool,
    /// The message of the turn in flight (for Retry).
    pub in_flight: String,
    /// The title of the conversation shown (from the list).
    pub title: Option<String>,
    /// The title being edited, while renaming.
    pub renaming: Option<String>,
    /// Whether Delete asks to confirm.
    pub confirm_delete: bool,
    /// A line about the last export, delete or rename.
    pub note: Option<String>,
    markdown: CommonMarkCache,
    stick_to_bottom: bool,
}

impl ChatView {
    /// Clears the view for a new conversation.
    pub fn new_chat(&mut self) {
        self.session_id = None;
        self.transcript = Transcript::default();
        self.title = None;
        self.renaming = None;
        self.confirm_delete = false;
        self.note = None;
    }

    /// Sends `message` (continuing the conversation shown) and starts streaming its answer.
    pub fn send(&mut self, client: &Client, message: String, echo: bool) {
        let message = message.trim().to_owned();
        if message.is_empty() || self.streaming {
            return;
        }
        if echo {
            self.transcript
                .items
                .push(Item::User(super::transcript::safe(&message)));
        }
        self.streaming = true;
        self.stick_to_bottom = true;
        self.in_flight = message.clone();
        client.send(Request::Chat {
            message,
            session_id: self.session_id.clone(),
        });
    }

    /// Stops the turn in flight.
    pub fn stop(&mut self, client: &Client) {
        if self.streaming {
            client.send(Request::Stop);
        }
    }

    /// Draws the view.
    pub fn show(&mut self, ui: &mut egui::Ui, client: &Client) {
        self.header(ui, client);
        ui.separator();
        egui::Panel::bottom("composer_panel")
            .resizable(false)
            .show(ui, |ui| self.composer(ui, client));
        egui::CentralPanel::no_frame().show(ui, |ui| self.messages(ui, client));
    }

    fn header(&mut self, ui: &mut egui::Ui, client: &Client) {
        ui.horizontal(|ui| {
            if let Some(title) = &mut self.renaming {
                let label = ui.label("Title");
                let field = ui
                    .add(TextEdit::singleline(title).desired_width(320.0))
                    .labelled_by(label.id);
                field.request_focus();
                let enter =
                    field.lost_focus() && ui.input(|input| input.key_pressed(egui::Key::Enter));
                if ui.button("Save").clicked() || enter {
                    if let Some(id) = &self.session_id {
                        client.send(Request::Rename {
                            id: id.clone(),
                            title: title.trim().to_owned(),
                        });
                    }
                    self.renaming = None;
                } else if ui.button("Cancel").clicked() {
                    self.renaming = None;
                }
                return;
            }
            let title = match (&self.title, &self.session_id) {
                (Some(title), _) => super::one_line(title),
                (None, Some(_)) => "Conversation".to_owned(),
                (None, None) => "New chat".to_owned(),
            };
            ui.heading(title);
            let Some(id) = self.session_id.clone() else {
                return;
            };
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if self.confirm_delete {
                    if ui.button("Cancel").clicked() {
                        self.confirm_delete = false;
                    }
                    if ui
                        .button(RichText::new("Delete for good").color(Color32::LIGHT_RED))
                        .clicked()
                    {
                        client.send(Request::Delete(id.clone()));
                        self.confirm_delete = false;
                        self.new_chat();
                        self.note = Some("Conversation deleted.".into());
                    }
                    ui.label("Delete this conversation?");
                    return;
                }
                if ui.button("Delete").clicked() {
                    self.confirm_delete = true;
                }
                if ui.button("Export").clicked() {
                    client.send(Request::Export(id.clone()));
                }
                if ui.button("Rename").clicked() {
                    self.renaming = Some(self.title.clone().unwrap_or_default());
                }
            });
        });
        if let Some(note) = &self.note {
            ui.label(RichText::new(note).weak());
        }
    }

    fn messages(&mut self, ui: &mut egui::Ui, client: &Client) {
        let stick = std::mem::take(&mut self.stick_to_bottom) || self.streaming;
        ScrollArea::vertical()
            .auto_shrink([false, false])
            .stick_to_bottom(stick)
            .show(ui, |ui| {
                if self.transcript.items.is_empty() {
                    ui.add_space(24.0);
                    ui.label("Ask anything. Answers come from your model; your memory is searched when it helps.");
                    ui.label(RichText::new("Ctrl+Enter sends · Esc stops · Ctrl+N new chat · Ctrl+K search memory").weak());
                }
                let mut retry = None;
                for (index, item) in self.transcript.items.iter_mut().enumerate() {
                    ui.push_id(index, |ui| match item {
                        Item::User(text) => user_bubble(ui, text),
                        Item::Assistant(text) => {
                            super::markdown::show(ui, &mut self.markdown, text);
                        }
                        Item::Tool {
                            name,
                            arguments,
                            result,
                        } => tool_row(ui, name, arguments, result.as_ref()),
                        Item::Approval {
                            id,
                            tool,
                            arguments,
                            state,
                        } => approval_card(ui, client, id, tool, arguments, state),
                        Item::Notice(text) => {
                            ui.label(RichText::new(text.as_str()).weak().italics());
                        }
                        Item::Error { message, retry: again } => {
                            egui::Frame::group(ui.style()).show(ui, |ui| {
                                ui.colored_label(ui.visuals().error_fg_color, message.as_str());
                                if let Some(again) = again
                                    && ui.button("Retry").clicked()
                                {
                                    retry = Some(again.clone());
                                }
                            });
                        }
                    });
                    ui.add_space(6.0);
                }
                if self.streaming && self.transcript.waiting_approvals() == 0 {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label(RichText::new("Answering… (Esc stops)").weak());
                    });
                }
                if let Some(message) = retry {
                    self.transcript
                        .items
                        .retain(|item| !matches!(item, Item::Error { .. }));
                    self.send(client, message, false);
                }
            });
    }

    fn composer(&mut self, ui: &mut egui::Ui, client: &Client) {
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            let label = ui.label("Message");
            let width = ui.available_width() - 80.0;
            let field = ui
                .add(
                    TextEdit::multiline(&mut self.draft)
                        .id(egui::Id::unique(COMPOSER_ID))
                        .hint_text("Ctrl+Enter sends")
                        .desired_rows(2)
                        .desired_width(width.max(120.0)),
                )
                .labelled_by(label.id);
            let shortcut = field.has_focus()
                && ui.input_mut(|input| {
                    input.consume_key(egui::Modifiers::COMMAND, egui::Key::Enter)
                });
            if self.streaming {
                if ui.button("Stop").clicked() {
                    self.stop(client);
                }
            } else if ui.button("Send").clicked() || shortcut {
                let message = std::mem::take(&mut self.draft);
                self.send(client, message, true);
                field.request_focus();
            }
        });
        ui.add_space(4.0);
    }
}

fn user_bubble(ui: &mut egui::Ui, text: &str) {
    ui.with_layout(egui::Layout::right_to_left(egui::Align::Min), |ui| {
        egui::Frame::new()
            .fill(ui.visuals().faint_bg_color)
            .corner_radius(8.0)
            .inner_margin(8.0)
            .show(ui, |ui| {
                ui.set_max_width(ui.available_width() * 0.8);
                ui.add(egui::Label::new(text).wrap());
            });
    });
}

fn tool_row(ui: &mut egui::Ui, name: &str, arguments: &str, result: Option<&(String, bool)>) {
    let status = match result {
        None => "running…",
        Some((_, true)) => "failed",
        Some((_, false)) => "done",
    };
    egui::CollapsingHeader::new(format!("Tool {} — {status}", super::one_line(name)))
        .default_open(false)
        .show(ui, |ui| {
            ui.label(RichText::new("Arguments").strong());
            ui.add(egui::Label::new(RichText::new(arguments).monospace()).wrap());
            if let Some((output, is_error)) = result {
                ui.label(RichText::new(if *is_error { "Error" } else { "Result" }).strong());
                ScrollArea::vertical()
                    .max_height(200.0)
                    .id_salt("result")
                    .show(ui, |ui| {
                        ui.add(egui::Label::new(RichText::new(output.as_str()).monospace()).wrap());
                    });
            }
        });
}

fn approval_card(
    ui: &mut egui::Ui,
    client: &Client,
    id: &str,
    tool: &str,
    arguments: &str,
    state: &mut ApprovalState,
) {
    egui::Frame::group(ui.style())
        .stroke(egui::Stroke::new(1.5, ui.visuals().warn_fg_color))
        .show(ui, |ui| {
            ui.label(
                RichText::new(format!("{} asks to run", super::one_line(tool)))
                    .strong()
                    .color(ui.visuals().warn_fg_color),
            );
            ScrollArea::vertical()
                .max_height(240.0)
                .id_salt("arguments")
                .show(ui, |ui| {
                    ui.add(egui::Label::new(RichText::new(arguments).monospace()).wrap());
                });
            match state {
                ApprovalState::Waiting => {
                    ui.horizontal(|ui| {
                        if ui.button("Approve").clicked() {
                            client.send(Request::Answer {
                                id: id.to_owned(),
                                approve: true,
                            });
                            *state = ApprovalState::Sending(true);
                        }
                        if ui.button("Deny").clicked() {
                            client.send(Request::Answer {
                                id: id.to_owned(),
                                approve: false,
                            });
                            *state = ApprovalState::Sending(false);
                        }
                    });
                }
                ApprovalState::Sending(_) => {
                    ui.label("Sending your answer…");
                }
                ApprovalState::Answered(true) => {
                    ui.label("Approved");
                }
                ApprovalState::Answered(false) => {
                    ui.label("Denied");
                }
                ApprovalState::Failed(message) => {
                    ui.colored_label(
                        ui.visuals().error_fg_color,
                        format!("Could not answer: {message}"),
                    );
                }
            }
        });
}
