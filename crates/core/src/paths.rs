//! Where LocalGPT keeps its files: the home (`~/.localgpt` or `$LOCALGPT_HOME`), the config file
//! (or `--config PATH`), the workspace, state and models folders — and keeping them private to
//! the user: [`Paths::make_private`] tightens a home created with looser permissions.

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

impl Paths {
    /// Removes group and other permissions from the home folder (made 0700), the config file,
    /// and everything under `state/` (folders 0700, files without group/other bits), so another
    /// local user can read none of the index, sessions, artifacts, events, logs or pid file.
    /// Symlinks are not followed. Returns how many entries were tightened.
    pub fn make_private(&self) -> std::io::Result<usize> {
        let mut tightened = 0;
        if self.home.is_dir() {
            tightened += usize::from(tighten(&self.home)?);
        }
        if self.config_file.is_file() {
            tightened += usize::from(tighten(&self.config_file)?);
        }
        let state = self.state_dir();
        if state.is_dir() {
            tightened += tighten_tree(&state)?;
        }
        Ok(tightened)
    }
}

/// Tightens `dir` and everything below it; symlinks are left alone.
fn tighten_tree(dir: &Path) -> std::io::Result<usize> {
    let mut tightened = usize::from(tighten(dir)?);
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            tightened += tighten_tree(&entry.path())?;
        } else if kind.is_file() {
            tightened += usize::from(tighten(&entry.path())?);
        }
    }
    Ok(tightened)
}

/// Removes group and other permissions from one file or folder (not through a symlink);
/// whether anything changed.
#[cfg(unix)]
fn tighten(path: &Path) -> std::io::Result<bool> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Ok(false);
    }
    let mode = meta.permissions().mode() & 0o7777;
    let private = if meta.is_dir() { 0o700 } else { mode & !0o077 };
    if mode == private {
        return Ok(false);
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(private))?;
    Ok(true)
}

#[cfg(not(unix))]
fn tighten(_path: &Path) -> std::io::Result<bool> {
    Ok(false)
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

    #[cfg(unix)]
    #[test]
    fn a_loose_home_is_made_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let paths = Paths::resolve(Some(home.clone()), None).unwrap();
        std::fs::create_dir_all(paths.sessions_dir()).unwrap();
        std::fs::write(paths.index_file(), "pin 4321").unwrap();
        std::fs::write(&paths.config_file, "x").unwrap();
        let outside = dir.path().join("outside.txt");
        std::fs::write(&outside, "not ours").unwrap();
        std::os::unix::fs::symlink(&outside, paths.state_dir().join("link")).unwrap();
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        for path in [&home, &paths.state_dir(), &paths.sessions_dir()] {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        for path in [&paths.index_file(), &paths.config_file, &outside] {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        assert_eq!(paths.make_private().unwrap(), 5);
        for dir in [&home, &paths.state_dir(), &paths.sessions_dir()] {
            assert_eq!(mode(dir), 0o700, "{}", dir.display());
        }
        assert_eq!(mode(&paths.index_file()), 0o600);
        assert_eq!(mode(&paths.config_file), 0o600);
        assert_eq!(
            mode(&outside),
            0o644,
            "a symlink's target is not ours to change"
        );
        assert_eq!(paths.make_private().unwrap(), 0);
    }

    #[test]
    fn tilde_expands_to_the_user_home() {
        let paths = Paths::resolve(Some("/tmp/lg".into()), None).unwrap();
        let user_home = std::env::home_dir().unwrap();
        assert_eq!(paths.expand("~/notes"), user_home.join("notes"));
        assert_eq!(paths.expand("/abs"), Path::new("/abs"));
    }
}
