//! Where the files the taint guard cares about are: the workspace, the protected files and
//! folders that shape every session (AGENTS.md, `skills/` …, in any letter case, through `..` or
//! symlinks), and the markdown files memory search indexes. Paths are judged by their real path,
//! as the file tools resolve them.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::tools::AllowedRoots;

/// Extensions of the files memory search indexes (any letter case).
const MARKDOWN_EXTENSIONS: &[&str] = &["md", "markdown"];

/// Where the guarded files are and which ones they are.
#[derive(Debug, Clone)]
pub struct PathRules {
    workspace: PathBuf,
    roots: Arc<AllowedRoots>,
    protected: Vec<String>,
}

impl PathRules {
    /// Rules for a workspace whose tools resolve paths with `roots`. `protected` holds
    /// workspace-relative file names (`AGENTS.md`) and folders (`skills/`, with a trailing slash);
    /// both match in any letter case.
    pub fn new(workspace: &Path, roots: Arc<AllowedRoots>, protected: &[String]) -> Self {
        Self {
            workspace: workspace
                .canonicalize()
                .unwrap_or_else(|_| workspace.to_owned()),
            roots,
            protected: protected.to_vec(),
        }
    }

    /// The real path a tool would use for `requested`, when it is allowed at all.
    pub(super) fn resolve(&self, requested: &str) -> Option<PathBuf> {
        self.roots.resolve(requested).ok()
    }

    /// Whether the real path `path` is inside the workspace.
    pub fn in_workspace(&self, path: &Path) -> bool {
        path.starts_with(&self.workspace)
    }

    /// The parts of the real path `path` below the workspace (empty outside it).
    fn parts(&self, path: &Path) -> Vec<String> {
        let Ok(relative) = path.strip_prefix(&self.workspace) else {
            return Vec::new();
        };
        relative
            .components()
            .filter_map(|part| match part {
                Component::Normal(name) => Some(name.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect()
    }

    /// Whether `path` is a markdown file, which memory search indexes (in the workspace and in
    /// `memory.extra_paths`, which this loop does not know): writing one writes memory.
    pub fn is_memory_file(path: &Path) -> bool {
        path.extension().is_some_and(|extension| {
            MARKDOWN_EXTENSIONS
                .iter()
                .any(|wanted| extension.eq_ignore_ascii_case(wanted))
        })
    }

    /// Whether the real path `path` is one of the protected workspace files or inside a
    /// protected folder.
    pub fn is_protected(&self, path: &Path) -> bool {
        let parts = self.parts(path);
        let Some(first) = parts.first() else {
            return false;
        };
        let joined = parts.join("/");
        self.protected
            .iter()
            .any(|pattern| match pattern.strip_suffix('/') {
                Some(folder) => first.eq_ignore_ascii_case(folder.trim_start_matches("./")),
                None => joined.eq_ignore_ascii_case(pattern.trim_start_matches("./")),
            })
    }

    /// Whether `requested` (a tool's `path` argument) names a protected file. Paths that do not
    /// resolve are not protected: the tool refuses them itself.
    pub(super) fn names_protected(&self, requested: &str) -> Option<PathBuf> {
        let path = self.resolve(requested)?;
        self.is_protected(&path).then_some(path)
    }
}
