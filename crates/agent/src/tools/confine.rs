//! Keeping file tools inside their allowed roots. A path from the model is resolved the way the
//! OS would open it — relative to the workspace, `..` applied, every symlink followed — and only
//! then checked against the roots, so neither `../` nor a symlink planted in the workspace can
//! reach a file outside. Paths that do not exist yet (for writes) are checked through their
//! deepest existing folder. Credential stores and LocalGPT's own configuration, state and models
//! ([`ProtectedPaths`]) are refused even when a root contains them (say `memory.extra_paths = ~`).

use std::path::{Component, Path, PathBuf};

use localgpt_core::protected::ProtectedPaths;

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfineError {
    /// The resolved path lies outside every allowed root.
    #[error("`{requested}` is outside the folders this tool may use ({roots})")]
    OutsideRoots {
        /// The path as given.
        requested: String,
        /// The allowed roots, comma-separated.
        roots: String,
    },
    /// The path points into a credentials folder or LocalGPT's own configuration or state.
    #[error(
        "`{0}` is a protected place (credentials, a browser profile, or LocalGPT's own \
         configuration, state or models), which tools may never read or write"
    )]
    Secret(String),
    /// The path is empty or cannot be resolved.
    #[error("`{requested}` cannot be used: {reason}")]
    Invalid {
        /// The path as given.
        requested: String,
        /// Why.
        reason: String,
    },
}

/// The folders a tool may touch.
#[derive(Debug, Clone)]
pub struct AllowedRoots {
    base: PathBuf,
    roots: Vec<PathBuf>,
    protected: ProtectedPaths,
}

impl AllowedRoots {
    /// Roots for tools whose relative paths start at `base` (the workspace). Roots that do not
    /// exist are ignored; `base` is always a root. The current user's credential stores are
    /// protected; add LocalGPT's own files with [`AllowedRoots::with_protected`].
    pub fn new(base: &Path, extra: &[PathBuf]) -> Self {
        let canonical = |path: &Path| path.canonicalize().unwrap_or_else(|_| normalize(path));
        let base = canonical(base);
        let mut roots = vec![base.clone()];
        roots.extend(extra.iter().map(|path| canonical(path)));
        Self {
            base,
            roots,
            protected: ProtectedPaths::for_current_user(&[]),
        }
    }

    /// The same roots, with `protected` deciding which places inside them are off limits.
    pub fn with_protected(mut self, protected: ProtectedPaths) -> Self {
        self.protected = protected;
        self
    }

    /// The folder relative paths start from.
    pub fn base(&self) -> &Path {
        &self.base
    }

    /// Resolves `requested` and checks it lies inside a root; returns the real path to use.
    pub fn resolve(&self, requested: &str) -> Result<PathBuf, ConfineError> {
        let invalid = |reason: &str| ConfineError::Invalid {
            requested: requested.to_owned(),
            reason: reason.to_owned(),
        };
        if requested.trim().is_empty() {
            return Err(invalid("empty path"));
        }
        if requested.contains('\0') {
            return Err(invalid("contains a NUL byte"));
        }
        let expanded = match requested.strip_prefix("~/") {
            Some(rest) => std::env::home_dir()
                .ok_or_else(|| invalid("no home folder"))?
                .join(rest),
            None => PathBuf::from(requested),
        };
        let joined = if expanded.is_absolute() {
            expanded
        } else {
            self.base.join(expanded)
        };
        let resolved =
            resolve_existing_prefix(&joined).map_err(|error| invalid(&error.to_string()))?;
        if self.protected.protects(&resolved) {
            return Err(ConfineError::Secret(requested.to_owned()));
        }
        if self.roots.iter().any(|root| resolved.starts_with(root)) {
            Ok(resolved)
        } else {
            Err(ConfineError::OutsideRoots {
                requested: requested.to_owned(),
                roots: self
                    .roots
                    .iter()
                    .map(|root| root.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    }

    /// `path` relative to the base when inside it, for messages the model reads.
    pub fn display(&self, path: &Path) -> String {
        path.strip_prefix(&self.base).map_or_else(
            |_| path.display().to_string(),
            |rel| rel.display().to_string(),
        )
    }
}

/// Canonicalizes the longest existing prefix of `path` (following symlinks) and appends the rest,
/// with `.` and `..` in the rest applied lexically.
fn resolve_existing_prefix(path: &Path) -> std::io::Result<PathBuf> {
    let normalized = normalize(path);
    let mut existing = normalized.as_path();
    let mut rest = Vec::new();
    loop {
        match existing.canonicalize() {
            Ok(real) => {
                let mut out = real;
                for part in rest.iter().rev() {
                    out.push(part);
                }
                return Ok(out);
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let Some(name) = existing.file_name() else {
                    return Err(error);
                };
                rest.push(name.to_owned());
                existing = existing.parent().ok_or(error)?;
            }
            Err(error) => return Err(error),
        }
    }
}

/// Applies `.` and `..` lexically (`/a/b/../c` → `/a/c`), never going above the root.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, AllowedRoots) {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        std::fs::create_dir_all(ws.join("notes")).unwrap();
        std::fs::write(ws.join("notes/a.md"), "a").unwrap();
        std::fs::write(dir.path().join("outside.txt"), "secret").unwrap();
        let roots = AllowedRoots::new(&ws, &[]);
        (dir, roots)
    }

    #[test]
    fn relative_and_absolute_paths_inside_are_allowed() {
        let (_dir, roots) = setup();
        let resolved = roots.resolve("notes/a.md").unwrap();
        assert!(resolved.ends_with("ws/notes/a.md"));
        assert_eq!(roots.resolve(resolved.to_str().unwrap()).unwrap(), resolved);
        assert!(
            roots
                .resolve("notes/new/deeper/file.md")
                .unwrap()
                .ends_with("ws/notes/new/deeper/file.md")
        );
        assert!(
            roots
                .resolve("notes/../notes/./a.md")
                .unwrap()
                .ends_with("ws/notes/a.md")
        );
    }

    #[test]
    fn dot_dot_escapes_are_refused() {
        let (_dir, roots) = setup();
        for bad in [
            "../outside.txt",
            "notes/../../outside.txt",
            "/etc/passwd",
            "notes/../../ws2/x",
        ] {
            assert!(
                matches!(roots.resolve(bad), Err(ConfineError::OutsideRoots { .. })),
                "{bad}"
            );
        }
        assert!(matches!(
            roots.resolve(""),
            Err(ConfineError::Invalid { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_leading_out_are_refused_even_for_new_files() {
        let (dir, roots) = setup();
        let ws = dir.path().join("ws");
        std::os::unix::fs::symlink(dir.path(), ws.join("escape")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside.txt"), ws.join("link.txt")).unwrap();
        assert!(roots.resolve("escape/outside.txt").is_err());
        assert!(roots.resolve("escape/newfile.txt").is_err());
        assert!(roots.resolve("link.txt").is_err());
    }

    #[test]
    fn credential_folders_are_refused_inside_roots() {
        let (dir, roots) = setup();
        std::fs::create_dir_all(dir.path().join("ws/.ssh")).unwrap();
        assert!(matches!(
            roots.resolve(".ssh/id_ed25519"),
            Err(ConfineError::Secret(_))
        ));
    }
}
