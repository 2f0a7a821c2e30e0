//! `localgpt models list|pull|import|rm`: the local models folder.

use localgpt_inference::{
    ImportOptions, InstalledModel, KNOWN_MODELS, ModelStore, known_model, pull,
};

use crate::app::App;
use crate::cli::ModelsCommand;
use crate::progress::Progress;

/// Runs one `models` subcommand.
pub fn run(command: ModelsCommand, app: &App) -> anyhow::Result<()> {
    let store = ModelStore::new(app.paths.models_dir());
    match command {
        ModelsCommand::List { json } => {
            let installed = store.list()?;
            if json {
                let known: Vec<_> = KNOWN_MODELS
                    .iter()
                    .map(|m| serde_json::json!({"name": m.name, "kind": m.kind, "description": m.description, "bytes": m.bytes}))
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"installed": installed, "available": known})
                    )?
                );
                return Ok(());
            }
            if installed.is_empty() {
                println!("No models installed in {}.", store.dir().display());
            }
            for model in &installed {
                println!(
                    "{:<28} {:<9} {:<10} {:>7.1} MB{}",
                    model.name,
                    kind(model),
                    model.architecture,
                    model.bytes as f64 / 1e6,
                    in_use(app, model)
                );
            }
            println!("\nAvailable to pull (`localgpt models pull NAME`):");
            for model in KNOWN_MODELS {
                let mark = if installed.iter().any(|m| m.name == model.name) {
                    " (installed)"
                } else {
                    ""
                };
                println!(
                    "  {:<26} {:>6.1} MB  {}{mark}",
                    model.name,
                    model.bytes as f64 / 1e6,
                    model.description
                );
            }
            Ok(())
        }
        ModelsCommand::Pull { name } => {
            let Some(model) = known_model(&name) else {
                let names: Vec<&str> = KNOWN_MODELS.iter().map(|m| m.name).collect();
                anyhow::bail!(
                    "no known model `{name}`; known: {}; any other model can be installed with `localgpt models import PATH`",
                    names.join(", ")
                );
            };
            let bar = Progress::bytes(model.bytes, "download", false);
            let installed = pull(&store, model, &mut |done, total| {
                if let Some(total) = total {
                    bar.set_total(total);
                }
                bar.set(done);
            })?;
            bar.finish();
            println!(
                "installed {} ({}, {:.1} MB) at {}",
                installed.name,
                kind(&installed),
                installed.bytes as f64 / 1e6,
                installed.path.display()
            );
            Ok(())
        }
        ModelsCommand::Import { path, name, f16 } => {
            let spinner = Progress::spinner("importing", false);
            let installed = store.import(
                &path,
                &ImportOptions {
                    name,
                    half_precision: f16,
                },
            );
            spinner.finish();
            let installed = installed?;
            println!(
                "installed {} ({}, {}, {:.1} MB) at {}",
                installed.name,
                kind(&installed),
                installed.architecture,
                installed.bytes as f64 / 1e6,
                installed.path.display()
            );
            Ok(())
        }
        ModelsCommand::Rm { name } => {
            let removed = store.remove(&name)?;
            println!("removed {}", removed.display());
            Ok(())
        }
    }
}

fn kind(model: &InstalledModel) -> &'static str {
    match model.kind {
        localgpt_inference::ModelKind::Embedding => "embedding",
        localgpt_inference::ModelKind::Chat => "chat",
    }
}

fn in_use(app: &App, model: &InstalledModel) -> &'static str {
    if model.name.starts_with(&app.config.memory.embedding_model) {
        "  ← memory.embedding_model"
    } else if model.name.starts_with(&app.config.providers.local.model) {
        "  ← providers.local.model"
    } else {
        ""
    }
}
