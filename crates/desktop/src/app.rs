//! The window: a top bar (Chat, Memory, Status, the approvals waiting, light/dark), the
//! conversation list beside the chat, and the view chosen. Replies from the network thread are
//! taken at the start of each frame; frames are drawn only when one arrived or the user did
//! something (no timer redraws an idle window). Shortcuts: Ctrl+Enter sends, Ctrl+N new chat,
//! Ctrl+K search memory, Esc stops the answer, Ctrl+1/2/3 Chat/Memory/Status.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use eframe::egui::{self, Key, KeyboardShortcut, Modifiers, RichText};

use crate::client::Client;
use crate::protocol::{Reply, Request};
use crate::views::chat::{COMPOSER_ID, ChatView};
use crate::views::memory::{MemoryView, QUERY_ID};
use crate::views::sessions::{Choice, SessionsView};
use crate::views::status::StatusView;
use crate::views::transcript::{ApprovalState, Item, Transcript};
use crate::{Connection, DesktopError};

/// Which view is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The conversation.
    Chat,
    /// Memory search.
    Memory,
    /// The daemon's status and settings.
    Status,
}

/// The whole app.
pub struct DesktopApp {
    client: Client,
    context: Arc<OnceLock<egui::Context>>,
    started: bool,
    export_dir: PathBuf,
    /// The view shown.
    pub view: View,
    /// A line at the top (e.g. that a daemon was started for this window).
    pub notice: Option<String>,
    /// The last failed request, until dismissed.
    pub problem: Option<String>,
    /// The chat view.
    pub chat: ChatView,
    /// The conversation list.
    pub sessions: SessionsView,
    /// The memory view.
    pub memory: MemoryView,
    /// The status view.
    pub status: StatusView,
}

impl DesktopApp {
    /// An app talking to the daemon of `connection` (the network thread starts now; the first
    /// requests go out with the first frame).
    pub fn new(connection: Connection) -> Result<Self, DesktopError> {
        let context: Arc<OnceLock<egui::Context>> = Arc::new(OnceLock::new());
        let waker_context = Arc::clone(&context);
        let notice = connection.notice.clone();
        let export_dir = connection.export_dir.clone();
        let client = Client::start(
            connection,
            Arc::new(move || {
                if let Some(context) = waker_context.get() {
                    context.request_repaint();
                }
            }),
        )?;
        Ok(Self {
            client,
            context,
            started: false,
            export_dir,
            view: View::Chat,
            notice,
            problem: None,
            chat: ChatView::default(),
            sessions: SessionsView::default(),
            memory: MemoryView::default(),
            status: StatusView::default(),
        })
    }

    /// Draws one frame into `ui` (the whole window).
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let context = ui.ctx().clone();
        let _ = self.context.set(context.clone());
        if !self.started {
            self.started = true;
            self.client.send(Request::Status);
            self.client.send(Request::Sessions);
        }
        for reply in self.client.replies() {
            self.take(reply);
        }
        self.shortcuts(&context);
        egui::Panel::top("top_bar").show(ui, |ui| self.top_bar(ui));
        if self.view == View::Chat {
            egui::Panel::left("sessions")
                .default_size(240.0)
                .resizable(true)
                .show(ui, |ui| {
                    if let Some(choice) = self.sessions.show(ui, self.chat.session_id.as_deref()) {
                        self.choose(choice, &context);
                    }
                });
        }
        egui::CentralPanel::default().show(ui, |ui| match self.view {
            View::Chat => self.chat.show(ui, &self.client),
            View::Memory => self
                .memory
                .show(ui, &self.client, &self.status.status["index"]),
            View::Status => self.status.show(ui, &self.client),
        });
    }

    fn top_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.label(RichText::new("LocalGPT").strong());
            ui.separator();
            for (view, name) in [
                (View::Chat, "Chat"),
                (View::Memory, "Memory"),
                (View::Status, "Status"),
            ] {
                if ui.selectable_label(self.view == view, name).clicked() && self.view != view {
                    self.switch(view);
                }
            }
            let waiting = self
                .chat
                .transcript
                .waiting_approvals()
                .max(self.status.waiting());
            if waiting > 0
                && ui
                    .button(
                        RichText::new(format!("{waiting} waiting for approval"))
                            .color(ui.visuals().warn_fg_color),
                    )
                    .clicked()
            {
                self.switch(View::Status);
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let dark = ui.visuals().dark_mode;
                if ui.button(if dark { "Light" } else { "Dark" }).clicked() {
                    ui.ctx().set_theme(if dark {
                        egui::Theme::Light
                    } else {
                        egui::Theme::Dark
                    });
                }
                if let Some(model) = self.status.status["model"].as_str() {
                    ui.label(RichText::new(crate::views::one_line(model)).weak());
                }
            });
        });
        if let Some(notice) = &self.notice {
            let mut close = false;
            ui.horizontal(|ui| {
                ui.label(RichText::new(notice.as_str()).color(ui.visuals().warn_fg_color));
                close = ui.small_button("Dismiss").clicked();
            });
            if close {
                self.notice = None;
            }
        }
        if let Some(problem) = &self.problem {
            let mut close = false;
            ui.horizontal(|ui| {
                ui.colored_label(ui.visuals().error_fg_color, problem.as_str());
                close = ui.small_button("Dismiss").clicked();
            });
            if close {
                self.problem = None;
            }
        }
    }

    fn switch(&mut self, view: View) {
        self.view = view;
        if view == View::Status {
            self.client.send(Request::Status);
        }
    }

    fn choose(&mut self, choice: Choice, context: &egui::Context) {
        if self.chat.streaming {
            self.chat.stop(&self.client);
        }
        match choice {
            Choice::New => {
                self.chat.new_chat();
                context.memory_mut(|memory| memory.request_focus(egui::Id::unique(COMPOSER_ID)));
            }
            Choice::Open(id) => {
                self.chat.new_chat();
                self.chat.title = self.sessions.title_of(&id);
                self.chat.session_id = Some(id.clone());
                self.client.send(Request::OpenSession(id));
            }
        }
    }

    fn shortcuts(&mut self, context: &egui::Context) {
        let new_chat = KeyboardShortcut::new(Modifiers::COMMAND, Key::N);
        let search = KeyboardShortcut::new(Modifiers::COMMAND, Key::K);
        let views = [
            (Key::Num1, View::Chat),
            (Key::Num2, View::Memory),
            (Key::Num3, View::Status),
        ];
        let (new_chat, search, escape, view) = context.input_mut(|input| {
            (
                input.consume_shortcut(&new_chat),
                input.consume_shortcut(&search),
                self.chat.streaming && input.consume_key(Modifiers::NONE, Key::Escape),
                views
                    .into_iter()
                    .find(|(key, _)| input.consume_key(Modifiers::COMMAND, *key))
                    .map(|(_, view)| view),
            )
        });
        if let Some(view) = view
            && view != self.view
        {
            self.switch(view);
        }
        if new_chat {
            self.view = View::Chat;
            self.choose(Choice::New, context);
        }
        if search {
            self.view = View::Memory;
            context.memory_mut(|memory| memory.request_focus(egui::Id::unique(QUERY_ID)));
        }
        if escape {
            self.chat.stop(&self.client);
        }
    }

    /// Applies one reply of the network thread.
    fn take(&mut self, reply: Reply) {
        match reply {
            Reply::Status {
                status,
                approvals,
                reports,
                artifacts,
            } => {
                self.status.status = status;
                self.status.approvals = approvals;
                self.status.reports = reports;
                self.status.artifacts = artifacts;
                self.status.loaded = true;
            }
            Reply::Sessions(list) => {
                self.sessions.sessions = list.as_array().cloned().unwrap_or_default();
                if let Some(id) = &self.chat.session_id {
                    self.chat.title = self.sessions.title_of(id);
                }
            }
            Reply::Session(session) => {
                if self.chat.session_id.as_deref() == session["id"].as_str() && !self.chat.streaming
                {
                    self.chat.transcript = Transcript::from_messages(&session["messages"]);
                }
            }
            Reply::Chat(event) => {
                if event.name == "session" {
                    if let Some(id) = event.data["session_id"].as_str()
                        && self.chat.session_id.as_deref() != Some(id)
                    {
                        self.chat.session_id = Some(id.to_owned());
                        self.client.send(Request::Sessions);
                    }
                } else {
                    let message = self.chat.in_flight.clone();
                    self.chat
                        .transcript
                        .apply(&event.name, &event.data, &message);
                }
            }
            Reply::ChatEnded { stopped, broken } => {
                if self.chat.streaming {
                    self.chat.streaming = false;
                    if stopped {
                        self.chat
                            .transcript
                            .items
                            .push(Item::Notice("Stopped.".into()));
                    } else if let Some(message) = broken {
                        self.chat.transcript.items.push(Item::Error {
                            message,
                            retry: Some(self.chat.in_flight.clone()),
                        });
                    }
                    self.client.send(Request::Sessions);
                }
            }
            Reply::Answered { id, approve } => {
                self.chat
                    .transcript
                    .set_approval(&id, ApprovalState::Answered(approve));
            }
            Reply::Changed => self.client.send(Request::Sessions),
            Reply::Exported { id, markdown } => {
                self.chat.note = Some(
                    match crate::export::save(&self.export_dir, &id, &markdown) {
                        Ok(path) => {
                            format!("Exported to {}", localgpt_core::text::display_path(&path))
                        }
                        Err(error) => format!("Export failed: {error}"),
                    },
                );
            }
            Reply::Hits(hits) => {
                self.memory.hits = hits;
                self.memory.searching = false;
                self.memory.file = None;
            }
            Reply::File(file) => self.memory.open(&file),
            Reply::Progress(progress) => {
                self.memory.progress = Some((
                    crate::views::text_of(&progress["phase"], ""),
                    progress["done"].as_u64().unwrap_or(0),
                    progress["total"].as_u64().unwrap_or(0),
                ));
            }
            Reply::Reindexed(outcome) => {
                self.memory.progress = None;
                self.memory.reindexed = Some(match outcome {
                    Ok(report) => format!(
                        "Reindexed: {} files seen, {} indexed, {} removed, {} chunks written.",
                        report["files_seen"],
                        report["files_indexed"],
                        report["files_removed"],
                        report["chunks_written"]
                    ),
                    Err(message) => format!("Reindex failed: {message}"),
                });
                self.client.send(Request::Status);
            }
            Reply::Failed { what, message } => {
                match what {
                    "search" => self.memory.searching = false,
                    "reindex" => self.memory.progress = None,
                    "approval" => {
                        for item in &mut self.chat.transcript.items {
                            if let Item::Approval { state, .. } = item
                                && matches!(state, ApprovalState::Sending(_))
                            {
                                *state = ApprovalState::Failed(message.clone());
                            }
                        }
                    }
                    _ => {}
                }
                self.problem = Some(format!("{what}: {message}"));
            }
        }
    }
}

impl eframe::App for DesktopApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }
}
