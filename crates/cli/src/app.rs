//! What every command starts from: the resolved paths and the configuration, read once and then
//! passed down unchanged.

use localgpt_core::config::{self, Config};
use localgpt_core::paths::Paths;

/// Paths and the effective configuration, shared read-only by a command.
#[derive(Debug, Clone)]
pub struct App {
    /// Where LocalGPT's files are.
    pub paths: Paths,
    /// The effective configuration.
    pub config: Config,
}

impl App {
    /// Loads the configuration at `paths.config_file`, printing warnings (unknown keys) to stderr.
    pub fn load(paths: Paths) -> anyhow::Result<Self> {
        let loaded = config::load(&paths.config_file, &config::process_env).map_err(|error| {
            anyhow::anyhow!(
                "{error}\nhint: edit {}, or run `localgpt config init --force` to start from a fresh one (the old file is kept as config.toml.bak)",
                paths.config_file.display()
            )
        })?;
        for warning in &loaded.warnings {
            eprintln!("warning: {warning}");
        }
        // From here on, every log line and error is scrubbed of this configuration's secrets.
        crate::logging::learn(&loaded.config);
        Ok(Self {
            paths,
            config: loaded.config,
        })
    }
}
