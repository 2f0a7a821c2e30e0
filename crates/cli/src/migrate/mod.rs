//! `localgpt migrate openclaw [PATH]`: brings an OpenClaw home into LocalGPT — the workspace
//! (AGENTS.md, SOUL.md, MEMORY.md, daily logs, skills, everything else in it), the shared skills,
//! the session transcripts (the same Pi JSONL format), the settings that have a LocalGPT
//! equivalent (model, heartbeat timing, Telegram bot and owners), and recurring cron jobs. Nothing in the OpenClaw home is
//! changed; nothing LocalGPT already has is overwritten; `--dry-run` shows the same report
//! without writing.

mod copy;
mod jobs;
mod settings;
mod source;
mod sqlite_sessions;
mod step;

use std::path::Path;

use copy::{FileAction, FileStep};
use step::SettingStep;

use crate::app::App;

/// Runs the migration and prints its report.
pub fn openclaw(app: &App, path: Option<&Path>, dry_run: bool, json: bool) -> anyhow::Result<()> {
    let root = source::locate(path)?;
    let home = source::read(&root)?;
    let mut files = Vec::new();
    let workspace = app.paths.workspace(&app.config);
    if home.workspace.is_dir() {
        copy::copy_tree(
            "workspace",
            &home.workspace,
            &workspace,
            &["node_modules"],
            dry_run,
            &mut files,
        )?;
    }
    copy::copy_tree(
        "skill",
        &root.join("skills"),
        &app.paths.skills_dir(),
        &[],
        dry_run,
        &mut files,
    )?;
    let sessions = app.paths.sessions_dir();
    for transcript in transcripts(&root) {
        let Some(name) = transcript.file_name() else {
            continue;
        };
        copy::copy_file(
            "session",
            &transcript,
            &sessions.join(name),
            dry_run,
            &mut files,
        )?;
    }
    for database in sqlite_sessions::databases(&root) {
        for session in sqlite_sessions::read(&database)? {
            copy::write_file(
                "session",
                &session.database,
                session.text.as_bytes(),
                &sessions.join(format!("{}.jsonl", session.id)),
                dry_run,
                &mut files,
            )?;
        }
    }
    let settings = settings::apply(app, &root, &home, dry_run)?;
    if json {
        let report = serde_json::json!({
            "source": root,
            "workspace": home.workspace,
            "dry_run": dry_run,
            "files": files,
            "settings": settings,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&root, &home.workspace, &files, &settings, dry_run);
    }
    Ok(())
}

/// Session transcripts of the file era: `agents/*/sessions/*.jsonl` and the legacy
/// `sessions/*.jsonl` (later ones live in SQLite: `sqlite_sessions`), without
/// the archives OpenClaw keeps of reset, deleted or repaired sessions.
fn transcripts(root: &Path) -> Vec<std::path::PathBuf> {
    let mut folders = vec![root.join("sessions")];
    if let Ok(agents) = std::fs::read_dir(root.join("agents")) {
        folders.extend(agents.flatten().map(|agent| agent.path().join("sessions")));
    }
    let mut found: Vec<_> = folders
        .iter()
        .filter_map(|folder| std::fs::read_dir(folder).ok())
        .flat_map(|entries| entries.flatten().map(|entry| entry.path()))
        .filter(|path| {
            let name = path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned());
            name.is_some_and(|name| {
                name.ends_with(".jsonl") && !name.contains(".jsonl.") && path.is_file()
            })
        })
        .collect();
    found.sort();
    found
}

fn print_report(
    root: &Path,
    workspace: &Path,
    files: &[FileStep],
    settings: &[SettingStep],
    dry_run: bool,
) {
    println!(
        "OpenClaw home {} (workspace {})",
        root.display(),
        workspace.display()
    );
    for kind in ["workspace", "skill", "session"] {
        let of_kind: Vec<&FileStep> = files.iter().filter(|step| step.kind == kind).collect();
        let count = |action| of_kind.iter().filter(|step| step.action == action).count();
        let verb = if dry_run { "to copy" } else { "copied" };
        println!(
            "{kind} files: {} {verb}, {} already here, {} kept (yours differ)",
            count(FileAction::Copied),
            count(FileAction::Same),
            count(FileAction::Kept)
        );
        for step in of_kind
            .iter()
            .filter(|step| step.action == FileAction::Kept)
        {
            println!("  kept yours: {}", step.to.display());
        }
    }
    for step in settings {
        println!("setting {step}");
    }
    if dry_run {
        println!("dry run: nothing was written");
    }
    println!("nothing in {} was changed", root.display());
}
