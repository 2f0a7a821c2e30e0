//! The daemon's status: model (and what is wrong with it), uptime, queue, index; the heartbeat
//! and jobs; tool calls waiting for approval (answerable here); reports from the heartbeat and
//! jobs; what untrusted sources produced; and the settings the daemon runs with. The daemon has
//! no API to change its config, so the settings are shown read-only with the commands that
//! change them.

use eframe::egui::{self, Grid, RichText, ScrollArea};
use serde_json::Value;

use super::{one_line, shown_arguments, text_of};
use crate::client::Client;
use crate::protocol::Request;

/// The last status the daemon sent.
#[derive(Debug, Default)]
pub struct StatusView {
    /// `GET /api/status`.
    pub status: Value,
    /// `GET /api/approvals`.
    pub approvals: Value,
    /// `GET /api/events`.
    pub reports: Value,
    /// `GET /api/artifacts`.
    pub artifacts: Value,
    /// Whether a status has arrived.
    pub loaded: bool,
}

impl StatusView {
    /// Approvals waiting now, by the last status.
    pub fn waiting(&self) -> usize {
        self.approvals.as_array().map_or(0, Vec::len)
    }

    /// Draws the view.
    pub fn show(&mut self, ui: &mut egui::Ui, client: &Client) {
        ui.horizontal(|ui| {
            ui.heading("Status");
            if ui.button("Refresh").clicked() {
                client.send(Request::Status);
            }
        });
        if !self.loaded {
            ui.label("Asking the daemon…");
            return;
        }
        let status = self.status.clone();
        let status = &status;
        ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                Grid::new("daemon")
                    .num_columns(2)
                    .striped(true)
                    .show(ui, |ui| {
                        row(ui, "Model", &one_line(&text_of(&status["model"], "?")));
                        if let Some(problem) = status["model_problem"].as_str() {
                            row(ui, "Not ready", &one_line(problem));
                        }
                        row(ui, "Version", &text_of(&status["version"], "?"));
                        row(
                            ui,
                            "Uptime",
                            &format!("{} s", text_of(&status["uptime_seconds"], "?")),
                        );
                        row(
                            ui,
                            "Queue",
                            &format!("{} waiting", text_of(&status["queue_depth"], "0")),
                        );
                        let index = &status["index"];
                        if index.is_object() {
                            row(
                                ui,
                                "Index",
                                &format!(
                                    "{} files, {} chunks ({} with vectors)",
                                    text_of(&index["files"], "0"),
                                    text_of(&index["chunks"], "0"),
                                    text_of(&index["embedded_chunks"], "0")
                                ),
                            );
                        }
                        let heartbeat = &status["heartbeat"];
                        if heartbeat.is_object() {
                            let enabled = heartbeat["enabled"].as_bool().unwrap_or(false);
                            row(ui, "Heartbeat", if enabled { "on" } else { "off" });
                            row(ui, "  last run", &text_of(&heartbeat["last_run"], "never"));
                            row(
                                ui,
                                "  outcome",
                                &one_line(&text_of(&heartbeat["last_outcome"]["kind"], "–")),
                            );
                            row(ui, "  next run", &text_of(&heartbeat["next_run"], "–"));
                            row(ui, "  tokens", &text_of(&heartbeat["total_tokens"], "0"));
                        }
                        if let Some(telegram) = status["telegram"].as_object() {
                            row(
                                ui,
                                "Telegram",
                                &one_line(&text_of(
                                    &telegram.get("state").cloned().unwrap_or_default(),
                                    "?",
                                )),
                            );
                        }
                    });
                ui.add_space(8.0);
                ui.label(RichText::new("Jobs").strong());
                let jobs = status["jobs"].as_array().cloned().unwrap_or_default();
                if jobs.is_empty() {
                    ui.label(RichText::new("No [[jobs]] in config.toml.").weak());
                }
                for job in jobs {
                    ui.label(format!(
                        "{} — {} · next {} · last {}",
                        one_line(&text_of(&job["name"], "?")),
                        one_line(&text_of(&job["describe"], "")),
                        text_of(&job["next_run"], "–"),
                        text_of(&job["last_run"], "never"),
                    ));
                }
                ui.add_space(8.0);
                self.approvals_section(ui, client);
                ui.add_space(8.0);
                list_section(ui, "Reports", &self.reports, "No reports.", |entry| {
                    format!(
                        "{} {} — {}",
                        text_of(&entry["at"], ""),
                        one_line(&text_of(&entry["source"], "")),
                        one_line(&text_of(&entry["text"], "")),
                    )
                });
                ui.add_space(8.0);
                list_section(
                    ui,
                    "From untrusted sources",
                    &self.artifacts,
                    "Nothing.",
                    |entry| {
                        format!(
                            "{} {} — {}",
                            text_of(&entry["stored_at"], ""),
                            one_line(&text_of(&entry["source"], "")),
                            one_line(&text_of(&entry["title"], "")),
                        )
                    },
                );
                ui.add_space(8.0);
                settings(ui, status);
            });
    }

    fn approvals_section(&mut self, ui: &mut egui::Ui, client: &Client) {
        ui.label(RichText::new(format!("Waiting for approval ({})", self.waiting())).strong());
        let mut answered = None;
        for request in self.approvals.as_array().into_iter().flatten() {
            let id = text_of(&request["id"], "");
            egui::Frame::group(ui.style()).show(ui, |ui| {
                ui.push_id(&id, |ui| {
                    ui.label(format!(
                        "{} asks to run",
                        one_line(&text_of(&request["tool"], "tool"))
                    ));
                    ui.label(RichText::new(shown_arguments(&request["arguments"])).monospace());
                    ui.horizontal(|ui| {
                        if ui.button("Approve").clicked() {
                            answered = Some((id.clone(), true));
                        }
                        if ui.button("Deny").clicked() {
                            answered = Some((id.clone(), false));
                        }
                    });
                });
            });
        }
        if let Some((id, approve)) = answered {
            client.send(Request::Answer {
                id: id.clone(),
                approve,
            });
            if let Some(list) = self.approvals.as_array_mut() {
                list.retain(|request| request["id"] != id.as_str());
            }
        }
    }
}

fn row(ui: &mut egui::Ui, name: &str, value: &str) {
    ui.label(name);
    ui.add(egui::Label::new(value).wrap());
    ui.end_row();
}

fn list_section(
    ui: &mut egui::Ui,
    title: &str,
    entries: &Value,
    empty: &str,
    line: impl Fn(&Value) -> String,
) {
    ui.label(RichText::new(title).strong());
    let entries = entries.as_array().cloned().unwrap_or_default();
    if entries.is_empty() {
        ui.label(RichText::new(empty).weak());
    }
    for entry in entries.iter().take(10) {
        ui.add(egui::Label::new(line(entry)).wrap());
    }
}

fn settings(ui: &mut egui::Ui, status: &Value) {
    ui.label(RichText::new("Settings").strong());
    ui.label(format!(
        "Default model: {}",
        one_line(&text_of(&status["model"], "?"))
    ));
    let heartbeat = status["heartbeat"]["enabled"].as_bool().unwrap_or(false);
    ui.label(format!(
        "Heartbeat: {}",
        if heartbeat { "on" } else { "off" }
    ));
    ui.label(
        RichText::new(
            "The daemon has no API to change its settings. Change them with \
             `localgpt config set agent.default_model NAME` or \
             `localgpt config set heartbeat.interval 30m`, then restart the daemon \
             (`localgpt daemon stop && localgpt daemon start`).",
        )
        .weak(),
    );
}
