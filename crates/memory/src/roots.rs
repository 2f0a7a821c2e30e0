//! The one rule for which files the memory engine may read: a file's real path (every symlink
//! followed) must lie inside the workspace or an extra path, and must not be a protected place —
//! a credential store (`~/.ssh`, `~/.aws`, …) or LocalGPT's own configuration, state or models
//! ([`ProtectedPaths`]). The index walk, search results and the API's file reader all ask
//! [`MemoryRoots`], so a `notes.md` symlink into `~/.ssh` is refused wherever it is met, and a
//! file swapped for such a symlink after indexing is refused when it is read.

use std::path::{Path, PathBuf};

use localgpt_core::protected::ProtectedPaths;
use localgpt_core::text::display_path;

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The real path lies outside the workspace and every extra path.
    #[error("{shown} resolves to {real}, outside the memory folders")]
    Outside {
        /// The path as met (escaped for display).
        shown: String,
        /// Where it really is (escaped for display).
        real: String,
    },
    /// The real path is a credential store or LocalGPT's own configuration, state or models.
    #[error(
        "{shown} resolves into a protected place (credentials, a browser profile, or LocalGPT's \
         own configuration, state or models)"
    )]
    Protected {
        /// The path as met (escaped for display).
        shown: String,
    },
    /// The path cannot be resolved (gone, dangling symlink, permission).
    #[error("{shown} cannot be resolved: {reason}")]
    Unresolvable {
        /// The path as met (escaped for display).
        shown: String,
        /// The OS error.
        reason: String,
    },
}

/// The folders the memory engine may read, and the places inside them it may not.
#[derive(Debug, Clone)]
pub struct MemoryRoots {
    workspace: PathBuf,
    /// Real paths of the workspace and extra paths that exist.
    real_roots: Vec<PathBuf>,
    protected: ProtectedPaths,
}

impl MemoryRoots {
    /// Roots for `workspace` and `extra_paths`, with `protected` naming the places inside them
    /// that stay unreadable. Roots that do not exist (yet) allow nothing.
    pub fn new(workspace: &Path, extra_paths: &[PathBuf], protected: ProtectedPaths) -> Self {
        let real_roots = std::iter::once(workspace)
            .chain(extra_paths.iter().map(PathBuf::as_path))
            .filter_map(|root| root.canonicalize().ok())
            .collect();
        Self {
            workspace: workspace.to_owned(),
            real_roots,
            protected,
        }
    }

    /// The protections LocalGPT applies for `paths`: the current user's credential stores and
    /// LocalGPT's own config file, `state/` and `models/`.
    pub fn protected_for(paths: &localgpt_core::Paths) -> ProtectedPaths {
        ProtectedPaths::for_current_user(&[
            paths.config_file.clone(),
            paths.state_dir(),
            paths.models_dir(),
        ])
    }

    /// The workspace (as configured, not resolved).
    pub fn workspace(&self) -> &Path {
        &self.workspace
    }

    /// Where an index key lives on disk: workspace-relative keys under the workspace, absolute
    /// keys (extra paths) as they are.
    pub fn on_disk(&self, key: &str) -> PathBuf {
        if Path::new(key).is_absolute() {
            PathBuf::from(key)
        } else {
            self.workspace.join(key)
        }
    }

    /// Whether an already resolved path may be read.
    pub fn allows_real(&self, real: &Path) -> bool {
        self.check_real(real, real).is_ok()
    }

    /// Checks a resolved path (`real`, symlinks followed), naming `met` (the path as found) in
    /// the refusal.
    pub fn check_real(&self, met: &Path, real: &Path) -> Result<(), Refusal> {
        if self.protected.protects(real) {
            return Err(Refusal::Protected {
                shown: display_path(met),
            });
        }
        if self.real_roots.iter().any(|root| real.starts_with(root)) {
            Ok(())
        } else {
            Err(Refusal::Outside {
                shown: display_path(met),
                real: display_path(real),
            })
        }
    }

    /// Resolves `path` (following every symlink) and checks it; returns the real path to read.
    pub fn resolve(&self, path: &Path) -> Result<PathBuf, Refusal> {
        let real = path.canonicalize().map_err(|error| Refusal::Unresolvable {
            shown: display_path(path),
            reason: error.to_string(),
        })?;
        self.check_real(path, &real)?;
        Ok(real)
    }

    /// Resolves the file an index key names and checks it; returns the real path to read.
    pub fn resolve_key(&self, key: &str) -> Result<PathBuf, Refusal> {
        self.resolve(&self.on_disk(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn symlinks_out_of_the_roots_or_into_credentials_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        let ssh = dir.path().join(".ssh");
        std::fs::create_dir_all(&ws).unwrap();
        std::fs::create_dir_all(&ssh).unwrap();
        std::fs::write(ws.join("a.md"), "a").unwrap();
        std::fs::write(ssh.join("id_rsa"), "KEY").unwrap();
        std::fs::write(dir.path().join("out.md"), "out").unwrap();
        std::os::unix::fs::symlink(ssh.join("id_rsa"), ws.join("key.md")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("out.md"), ws.join("out.md")).unwrap();
        std::os::unix::fs::symlink(ws.join("a.md"), ws.join("same.md")).unwrap();
        let roots = MemoryRoots::new(&ws, &[], ProtectedPaths::new(None, &[]));
        assert!(matches!(
            roots.resolve_key("key.md"),
            Err(Refusal::Protected { .. })
        ));
        assert!(matches!(
            roots.resolve_key("out.md"),
            Err(Refusal::Outside { .. })
        ));
        assert!(roots.resolve_key("same.md").unwrap().ends_with("ws/a.md"));
        assert!(matches!(
            roots.resolve_key("gone.md"),
            Err(Refusal::Unresolvable { .. })
        ));
        // Even an extra path that contains the credential folder does not open it.
        let wide = MemoryRoots::new(
            &ws,
            &[dir.path().to_owned()],
            ProtectedPaths::new(None, &[]),
        );
        assert!(wide.resolve(&ssh.join("id_rsa")).is_err());
        assert!(wide.resolve(&dir.path().join("out.md")).is_ok());
    }
}
