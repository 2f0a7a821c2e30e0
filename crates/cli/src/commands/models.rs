//! `localgpt models list|pull|import|rm`: the local models folder.

use localgpt_core::config::{BUILTIN_MODEL, EmbeddingProvider};
use localgpt_inference::{
    ImportOptions, InstalledModel, KNOWN_MODELS, ModelKind, ModelStore, Precision, known_model,
    pull,
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
                    .map(|m| serde_json::json!({"name": m.name, "kind": m.kind, "description": m.description, "bytes": m.bytes, "precision": m.precision.map(|p| p.name())}))
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
                    "{:<28} {:<9} {:<10} {:<6} {:>7.1} MB{}",
                    model.name,
                    kind(model),
                    model.architecture,
                    model.weights,
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
        ModelsCommand::Pull { name, precision } => {
            let Some(model) = known_model(&name) else {
                let names: Vec<&str> = KNOWN_MODELS.iter().map(|m| m.name).collect();
                anyhow::bail!(
                    "no known model `{name}`; known: {}; any other model can be installed with `localgpt models import PATH`",
                    names.join(", ")
                );
            };
            let bar = Progress::bytes(model.bytes, "download", false);
            let installed = pull(&store, model, precision, &mut |done, total| {
                if let Some(total) = total {
                    bar.set_total(total);
                }
                bar.set(done);
            })?;
            bar.finish();
            println!(
                "installed {} ({}, {} weights, {:.1} MB) at {}",
                installed.name,
                kind(&installed),
                installed.weights,
                installed.bytes as f64 / 1e6,
                installed.path.display()
            );
            Ok(())
        }
        ModelsCommand::Import {
            path,
            name,
            precision,
            f16,
            use_it,
        } => {
            let precision = if f16 { Some(Precision::F16) } else { precision };
            let spinner = Progress::spinner("importing", false);
            let installed = store.import(&path, &ImportOptions { name, precision });
            spinner.finish();
            let installed = installed?;
            println!(
                "installed {} ({}, {}, {} weights, {:.1} MB) at {}",
                installed.name,
                kind(&installed),
                installed.architecture,
                installed.weights,
                installed.bytes as f64 / 1e6,
                installed.path.display()
            );
            if use_it {
                put_in_use(app, &installed)
            } else {
                println!("{}", how_to_use(app, &installed));
                Ok(())
            }
        }
        ModelsCommand::Rm { name } => {
            let removed = store.remove(&name)?;
            println!("removed {}", removed.display());
            Ok(())
        }
    }
}

/// The setting that makes `model` the one in use, as `(key, value)`.
fn use_setting(model: &InstalledModel) -> (&'static str, String) {
    match model.kind {
        ModelKind::Embedding => ("memory.embedding_model", model.name.clone()),
        ModelKind::Chat => ("agent.default_model", format!("local/{}", model.name)),
    }
}

/// Whether the configuration already uses `model`.
fn is_in_use(app: &App, model: &InstalledModel) -> bool {
    match model.kind {
        ModelKind::Embedding => {
            app.config.memory.embedding == EmbeddingProvider::Local
                && app.config.memory.embedding_model == model.name
        }
        ModelKind::Chat => {
            app.config.agent.default_model == format!("local/{}", model.name)
                || (app.config.agent.default_model == BUILTIN_MODEL
                    && app.config.providers.local.model == model.name)
        }
    }
}

/// What the model is for and the commands that use it.
fn how_to_use(app: &App, model: &InstalledModel) -> String {
    let (key, value) = use_setting(model);
    match (model.kind, is_in_use(app, model)) {
        (ModelKind::Embedding, true) => "It is the memory's embedding model \
             (memory.embedding_model); run `localgpt memory reindex` to embed your notes with it."
            .to_owned(),
        (ModelKind::Embedding, false) => format!(
            "An embedding model: it lets memory search find notes by meaning. To use it: \
             `localgpt config set {key} {value}` (or import with --use), then `localgpt memory reindex`."
        ),
        (ModelKind::Chat, true) => {
            "It is the default chat model: `localgpt ask \"…\"` answers with it.".to_owned()
        }
        (ModelKind::Chat, false) => format!(
            "A chat model: `localgpt ask --model {value} \"…\"` answers with it; to make it the \
             default: `localgpt config set {key} {value}` (or import with --use)."
        ),
    }
}

/// Makes `model` the one in use through the config editor.
fn put_in_use(app: &App, model: &InstalledModel) -> anyhow::Result<()> {
    let (key, value) = use_setting(model);
    if model.kind == ModelKind::Embedding && app.config.memory.embedding != EmbeddingProvider::Local
    {
        crate::commands::config::set(&app.paths, "memory.embedding", "local")?;
    }
    crate::commands::config::set(&app.paths, key, &value)?;
    if model.kind == ModelKind::Embedding {
        println!("Run `localgpt memory reindex` to embed your notes with it.");
    }
    Ok(())
}

/// When the configured model of `kind` is not installed and exactly one installed model of that
/// kind is, the command that switches to it.
pub fn only_installed_alternative(app: &App, kind: ModelKind) -> Option<String> {
    let store = ModelStore::new(app.paths.models_dir());
    let installed = store.list().ok()?;
    let mut of_kind = installed.iter().filter(|model| model.kind == kind);
    let only = of_kind.next()?;
    if of_kind.next().is_some() {
        return None;
    }
    let (key, value) = use_setting(only);
    Some(format!(
        "`{}` is installed: `localgpt config set {key} {value}` uses it",
        only.name
    ))
}

fn kind(model: &InstalledModel) -> &'static str {
    match model.kind {
        ModelKind::Embedding => "embedding",
        ModelKind::Chat => "chat",
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
