//! `localgpt config …`: init, show, path, get and set. `init --force` keeps the config it
//! replaces as a new numbered backup each time, never over an earlier one.

use std::io::Write;
use std::path::{Path, PathBuf};

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
            let backup = back_up(config_file).with_context(|| {
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

/// Copies `config_file` to a backup that did not exist before: `config.toml.bak`, else
/// `config.toml.bak.1`, `.bak.2`, … An existing backup is never overwritten (the file is created
/// with O_EXCL), so rewriting the config again and again keeps every earlier version.
fn back_up(config_file: &Path) -> std::io::Result<PathBuf> {
    let contents = std::fs::read(config_file)?;
    let mut name = config_file.as_os_str().to_owned();
    name.push(".bak");
    let first = PathBuf::from(name);
    for n in 0..10_000u32 {
        let candidate = if n == 0 {
            first.clone()
        } else {
            let mut numbered = first.clone().into_os_string();
            numbered.push(format!(".{n}"));
            PathBuf::from(numbered)
        };
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate);
        match created {
            Ok(mut file) => {
                file.write_all(&contents)?;
                file.sync_all()?;
                return Ok(candidate);
            }
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        }
    }
    Err(std::io::Error::other(format!(
        "too many backups next to {}; remove old ones",
        config_file.display()
    )))
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
    let (config, warnings) = config::parse(&edited, config_file, &config::process_env)?;
    for warning in &warnings {
        eprintln!("warning: {warning}");
    }
    println!(
        "{key} = {}",
        edit::get(&config, key).unwrap_or_else(|_| value.to_owned())
    );
    Ok(())
}
