//! `localgpt config …`: init, show, path, get and set.

use anyhow::{Context, bail};
use localgpt_core::config::{self, edit, template};
use localgpt_core::fs::write_atomic;
use localgpt_core::paths::Paths;
use localgpt_core::workspace::create_workspace;

use crate::app::App;
use crate::cli::ConfigCommand;
use crate::detect::detect_default_model;

/// Runs one `config` subcommand.
pub fn run(command: ConfigCommand, paths: Paths) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Init { force } => init(&paths, force),
        ConfigCommand::Path => {
            println!("{}", paths.config_file.display());
            Ok(())
        }
        ConfigCommand::Show { json } => {
            let app = App::load(paths)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&app.config)?);
            } else {
                println!(
                    "# effective configuration ({})",
                    app.paths.config_file.display()
                );
                print!(
                    "{}",
                    toml::to_string(&app.config).context("rendering the configuration")?
                );
            }
            Ok(())
        }
        ConfigCommand::Get { key } => {
            let app = App::load(paths)?;
            println!("{}", edit::get(&app.config, &key)?);
            Ok(())
        }
        ConfigCommand::Set { key, value } => set(&paths, &key, &value),
    }
}

fn init(paths: &Paths, force: bool) -> anyhow::Result<()> {
    let config_file = &paths.config_file;
    let exists = config_file.exists();
    if exists && !force {
        println!(
            "kept     {} (exists; --force rewrites it)",
            config_file.display()
        );
    } else {
        let choice = detect_default_model();
        let mut text = template::starter_config(&choice.model, &choice.reason);
        if let Some(endpoint) = &choice.ollama_endpoint {
            text = edit::set(
                &text,
                config_file,
                "providers.ollama.endpoint",
                endpoint,
                &config::process_env,
            )?;
        }
        if exists {
            let backup = config_file.with_extension("toml.bak");
            std::fs::copy(config_file, &backup).with_context(|| {
                format!("backing up {} before rewriting it", config_file.display())
            })?;
            println!("saved    {} (your previous config)", backup.display());
        }
        write_atomic(config_file, text.as_bytes())
            .with_context(|| format!("writing {}", config_file.display()))?;
        println!(
            "{}  {}",
            if exists { "rewrote" } else { "created" },
            config_file.display()
        );
        println!("default model: {} ({})", choice.model, choice.reason);
    }

    let app = App::load(paths.clone())?;
    let workspace = app.paths.workspace(&app.config);
    let report = create_workspace(&workspace)
        .with_context(|| format!("creating the workspace at {}", workspace.display()))?;
    for dir in [app.paths.state_dir(), app.paths.models_dir()] {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    for path in &report.created {
        println!("created  {}", path.display());
    }
    for path in &report.kept {
        println!("kept     {} (exists)", path.display());
    }
    println!("\nworkspace: {}", workspace.display());
    Ok(())
}

/// Sets `key` to `value` in the config file through the editor (comments kept; a value that
/// would not load is refused) and prints the new setting.
pub fn set(paths: &Paths, key: &str, value: &str) -> anyhow::Result<()> {
    let config_file = &paths.config_file;
    let text = match std::fs::read_to_string(config_file) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            bail!(
                "{} does not exist yet; run `localgpt config init` first",
                config_file.display()
            )
        }
        Err(error) => {
            return Err(error).with_context(|| format!("reading {}", config_file.display()));
        }
    };
    let edited = edit::set(&text, config_file, key, value, &config::process_env)?;
    write_atomic(config_file, edited.as_bytes())
        .with_context(|| format!("writing {}", config_file.display()))?;
    let (config, _) = config::parse(&edited, config_file, &config::process_env)?;
    println!(
        "{key} = {}",
        edit::get(&config, key).unwrap_or_else(|_| value.to_owned())
    );
    Ok(())
}
