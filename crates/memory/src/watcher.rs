//! Watching the workspace so the index follows the files within seconds: file-system events are
//! debounced and coalesced (an editor's save burst, a `git checkout` of hundreds of files), and the
//! callback receives the set of markdown paths that were created, modified, renamed or removed.
//! The daemon answers by running an incremental reindex, which handles every kind of change.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use crate::error::MemoryError;

/// A running watcher; dropping it stops watching.
pub struct MemoryWatcher {
    _debouncer: Debouncer<notify::RecommendedWatcher, RecommendedCache>,
}

impl std::fmt::Debug for MemoryWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryWatcher")
    }
}

impl MemoryWatcher {
    /// Watches `roots` recursively; after `debounce` of quiet, calls `on_change` with the markdown
    /// paths affected by the burst (never empty).
    pub fn start(
        roots: &[PathBuf],
        debounce: Duration,
        mut on_change: impl FnMut(Vec<PathBuf>) + Send + 'static,
    ) -> Result<Self, MemoryError> {
        let watched: Vec<PathBuf> = roots.to_vec();
        let handler = move |result: DebounceEventResult| match result {
            Ok(events) => {
                tracing::debug!("watcher events: {events:?}");
                let paths: BTreeSet<PathBuf> = events
                    .iter()
                    .filter(|event| !event.kind.is_access())
                    .flat_map(|event| event.paths.iter())
                    .filter(|path| is_relevant(path, &watched))
                    .cloned()
                    .collect();
                if !paths.is_empty() {
                    on_change(paths.into_iter().collect());
                }
            }
            Err(errors) => {
                for error in errors {
                    tracing::warn!("file watcher: {error}");
                }
            }
        };
        let mut debouncer =
            new_debouncer(debounce, None, handler).map_err(|error| MemoryError::Watch {
                path: PathBuf::new(),
                message: error.to_string(),
            })?;
        for root in roots.iter().filter(|root| root.exists()) {
            debouncer
                .watch(root, RecursiveMode::Recursive)
                .map_err(|error| MemoryError::Watch {
                    path: root.clone(),
                    message: error.to_string(),
                })?;
        }
        Ok(Self {
            _debouncer: debouncer,
        })
    }
}

/// Markdown files, and folders (a removed or renamed folder takes its files with it); hidden
/// paths inside a watched root, such as `.git/`, are ignored (the root itself may be hidden, as
/// `~/.localgpt/workspace` is).
fn is_relevant(path: &Path, roots: &[PathBuf]) -> bool {
    let inside = roots
        .iter()
        .find_map(|root| path.strip_prefix(root).ok())
        .unwrap_or(path);
    if inside
        .components()
        .any(|part| part.as_os_str().to_string_lossy().starts_with('.'))
    {
        return false;
    }
    match path.extension() {
        Some(ext) => ext.eq_ignore_ascii_case("md") || ext.eq_ignore_ascii_case("markdown"),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relevance_ignores_hidden_and_non_markdown() {
        let roots = [PathBuf::from("/home/me/.localgpt/workspace")];
        let relevant = |path: &str| is_relevant(Path::new(path), &roots);
        assert!(relevant(
            "/home/me/.localgpt/workspace/memory/2026-11-24.md"
        ));
        assert!(relevant("/home/me/.localgpt/workspace/knowledge"));
        assert!(!relevant("/home/me/.localgpt/workspace/.git/index"));
        assert!(!relevant("/home/me/.localgpt/workspace/image.png"));
        assert!(!relevant("/home/me/.localgpt/workspace/.notes.md.swp"));
    }
}
