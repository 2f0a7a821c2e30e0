//! Where LocalGPT keeps its files: the home (`~/.localgpt` or `$LOCALGPT_HOME`), the config file
//! (or `--config PATH`), the workspace, state and models folders.

use std::path::{Path, PathBuf};

use crate::config::Config;

/// The environment variable that moves the whole LocalGPT home.
pub const HOME_ENV: &str = "LOCALGPT_HOME";

/// Could not work out where LocalGPT's files live.
#[derive(Debug, thiserror::Error)]
pub enum PathsError {
    /// Neither `LOCALGPT_HOME` nor a home directory is available.
    #[error("cannot find your home directory; set {HOME_ENV} to the folder LocalGPT should use")]
    NoHome,
}

/// The resolved locations of LocalGPT's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// `~/.localgpt` or `$LOCALGPT_HOME`.
    pub home: PathBuf,
    /// `home/config.toml` or the `--config` path.
    pub config_file: PathBuf,
}

impl Paths {
    /// Resolves paths from an explicit home (normally `$LOCALGPT_HOME`) and `--config` override.
    pub fn resolve(
        home_override: Option<PathBuf>,
        config_override: Option<PathBuf>,
    ) -> Result<Self, PathsError> {
        let home = match home_override.filter(|path| !path.as_os_str().is_empty()) {
            Some(path) => absolute(&path),
            None => std::env::home_dir()
                .ok_or(PathsError::NoHome)?
                .join(".localgpt"),
        };
        let config_file =
            config_override.map_or_else(|| home.join("config.toml"), |path| absolute(&path));
        Ok(Self { home, config_file })
    }

    /// Resolves from the process environment (`LOCALGPT_HOME`) and an optional `--config`.
    pub fn from_env(config_override: Option<PathBuf>) -> Result<Self, PathsError> {
        Self::resolve(
            std::env::var_os(HOME_ENV).map(PathBuf::from),
            config_override,
        )
    }

    /// The markdown workspace: `memory.workspace` (with `~` expanded, relative to the config
    /// file's folder) or `home/workspace`.
    pub fn workspace(&self, config: &Config) -> PathBuf {
        match &config.memory.workspace {
            Some(configured) => self.expand(configured),
            None => self.home.join("workspace"),
        }
    }

    /// Extra folders to index, expanded like the workspace.
    pub fn extra_paths(&self, config: &Config) -> Vec<PathBuf> {
        config
            .memory
            .extra_paths
            .iter()
            .map(|path| self.expand(path))
            .collect()
    }

    /// `home/state`: the index, sessions, artifacts, logs and pid file.
    pub fn state_dir(&self) -> PathBuf {
        self.home.join("state")
    }

    /// `home/state/index.sqlite`.
    pub fn index_file(&self) -> PathBuf {
        self.state_dir().join("index.sqlite")
    }

    /// `home/state/sessions`.
    pub fn sessions_dir(&self) -> PathBuf {
        self.state_dir().join("sessions")
    }

    /// `home/state/logs`.
    pub fn logs_dir(&self) -> PathBuf {
        self.state_dir().join("logs")
    }

    /// `home/models`: local model files.
    pub fn models_dir(&self) -> PathBuf {
        self.home.join("models")
    }

    /// `home/skills`: skills shared by every workspace.
    pub fn skills_dir(&self) -> PathBuf {
        self.home.join("skills")
    }

    /// Expands `~` to the user's home and makes relative paths relative to the config's folder.
    pub fn expand(&self, path: &str) -> PathBuf {
        let expanded = match path.strip_prefix("~") {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => match std::env::home_dir() {
                Some(user_home) => user_home.join(rest.trim_start_matches('/')),
                None => PathBuf::from(path),
            },
            _ => PathBuf::from(path),
        };
        if expanded.is_absolute() {
            expanded
        } else {
            self.config_file
                .parent()
                .unwrap_or(&self.home)
                .join(expanded)
        }
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_override_moves_everything() {
        let paths = Paths::resolve(Some("/tmp/lg".into()), None).unwrap();
        assert_eq!(paths.config_file, Path::new("/tmp/lg/config.toml"));
        assert_eq!(
            paths.workspace(&Config::default()),
            Path::new("/tmp/lg/workspace")
        );
        assert_eq!(paths.index_file(), Path::new("/tmp/lg/state/index.sqlite"));
        assert_eq!(paths.models_dir(), Path::new("/tmp/lg/models"));
    }

    #[test]
    fn config_override_is_used_and_relative_paths_follow_it() {
        let paths =
            Paths::resolve(Some("/tmp/lg".into()), Some("/etc/lg/custom.toml".into())).unwrap();
        assert_eq!(paths.config_file, Path::new("/etc/lg/custom.toml"));
        let mut config = Config::default();
        config.memory.workspace = Some("notes".into());
        assert_eq!(paths.workspace(&config), Path::new("/etc/lg/notes"));
    }

    #[test]
    fn tilde_expands_to_the_user_home() {
        let paths = Paths::resolve(Some("/tmp/lg".into()), None).unwrap();
        let user_home = std::env::home_dir().unwrap();
        assert_eq!(paths.expand("~/notes"), user_home.join("notes"));
        assert_eq!(paths.expand("/abs"), Path::new("/abs"));
    }
}
