//! Finds credential stores deep inside the folders a policy allows, so they can be carved out
//! like `~/.ssh`: any entry named like one ([`CREDENTIAL_NAMES`]: `.ssh`, `.aws`, `.gnupg`,
//! `.kube`, `.docker`, `.netrc` …) and the `config.toml`, `state/` and `models/` of any other
//! LocalGPT home (a folder named `.localgpt`, or one holding `config.toml` beside `state/` or
//! `workspace/`). The walk does not follow symlinks (the kernel judges a link by where it leads,
//! and that place is scanned or not allowed at all), hides folders it cannot list, and stops after
//! [`MAX_ENTRIES`] entries or [`MAX_DEPTH`] levels; what it could not scan is reported, so `auto`
//! can say so and `strict` can refuse.

use std::ffi::OsStr;
use std::fs::FileType;
use std::path::{Path, PathBuf};

use localgpt_core::protected::CREDENTIAL_NAMES;

/// The most entries one command's scan reads, over all its roots.
pub const MAX_ENTRIES: usize = 50_000;

/// The deepest folder level a scan descends to below a root.
pub const MAX_DEPTH: usize = 24;

/// LocalGPT's own files in a LocalGPT home.
const LOCALGPT_FILES: &[&str] = &["config.toml", "state", "models"];

/// What a scan found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Found {
    /// Paths to carve out of the allowed roots.
    pub hidden: Vec<PathBuf>,
    /// Roots not fully scanned, in plain words.
    pub incomplete: Vec<String>,
}

/// Scans `roots` (resolved paths) for credential stores, skipping paths `skip` says are already
/// handled (protected, or system folders).
pub fn credentials_in(roots: &[PathBuf], skip: impl Fn(&Path) -> bool) -> Found {
    // Wider roots first, so a root inside one already scanned is not scanned twice.
    let mut roots: Vec<&PathBuf> = roots.iter().collect();
    roots.sort_by_key(|root| root.components().count());
    let mut found = Found::default();
    let mut budget = MAX_ENTRIES;
    let mut done: Vec<&PathBuf> = Vec::new();
    for root in roots {
        if done.iter().any(|seen| root.starts_with(seen)) || skip(root) {
            continue;
        }
        walk(root, &skip, &mut budget, &mut found);
        done.push(root);
    }
    found
}

fn walk(root: &Path, skip: &impl Fn(&Path) -> bool, budget: &mut usize, found: &mut Found) {
    if !root.is_dir() {
        return;
    }
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            // What LocalGPT cannot list, the command (same user, fewer rights) could still
            // open by a guessed name: hide it whole.
            found.hidden.push(dir);
            continue;
        };
        let mut names = Vec::new();
        for entry in entries.flatten() {
            if *budget == 0 {
                found.incomplete.push(format!(
                    "{} holds more than {MAX_ENTRIES} entries, so credential folders deep inside \
                     it were not all looked for (allow a narrower folder)",
                    root.display()
                ));
                return;
            }
            *budget -= 1;
            let path = entry.path();
            let name = entry.file_name();
            let kind = entry.file_type().ok();
            if is_credential_name(&name) {
                found.hidden.push(path);
                continue;
            }
            names.push(name);
            if kind.as_ref().is_some_and(FileType::is_dir) && !skip(&path) {
                if depth + 1 >= MAX_DEPTH {
                    found.incomplete.push(format!(
                        "{} is nested more than {MAX_DEPTH} levels deep, so what lies below it \
                         was not looked for credential folders",
                        path.display()
                    ));
                    found.hidden.push(path);
                    continue;
                }
                stack.push((path, depth + 1));
            }
        }
        if is_localgpt_home(&dir, &names) {
            for file in LOCALGPT_FILES {
                let path = dir.join(file);
                if path.symlink_metadata().is_ok() {
                    found.hidden.push(path);
                }
            }
        }
    }
}

fn is_credential_name(name: &OsStr) -> bool {
    CREDENTIAL_NAMES
        .iter()
        .any(|credential| name == *credential)
}

/// A folder named `.localgpt`, or one holding `config.toml` beside `state/` or `workspace/`.
fn is_localgpt_home(dir: &Path, names: &[std::ffi::OsString]) -> bool {
    if dir.file_name() == Some(OsStr::new(".localgpt")) {
        return true;
    }
    let has = |wanted: &str| names.iter().any(|name| name == wanted);
    has("config.toml") && (has("state") || has("workspace"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn finds_credentials_and_other_localgpt_homes_at_any_depth() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        for folder in [
            "backup/.ssh",
            "x/y/z/.aws",
            "p/.gnupg",
            "old-home/state",
            "old-home/workspace",
            "h/.localgpt/state",
            "plain/sub",
        ] {
            std::fs::create_dir_all(root.join(folder)).unwrap();
        }
        for file in [
            "x/.netrc",
            "old-home/config.toml",
            "h/.localgpt/config.toml",
        ] {
            std::fs::write(root.join(file), "secret").unwrap();
        }
        std::os::unix::fs::symlink(root.join("backup"), root.join("linked")).unwrap();
        let found = credentials_in(std::slice::from_ref(&root), |_| false);
        let mut hidden: Vec<String> = found
            .hidden
            .iter()
            .map(|path| path.strip_prefix(&root).unwrap().display().to_string())
            .collect();
        hidden.sort();
        assert_eq!(
            hidden,
            [
                "backup/.ssh",
                "h/.localgpt/config.toml",
                "h/.localgpt/state",
                "old-home/config.toml",
                "old-home/state",
                "p/.gnupg",
                "x/.netrc",
                "x/y/z/.aws",
            ]
        );
        assert!(found.incomplete.is_empty());
    }

    #[test]
    fn too_many_entries_or_levels_are_reported_not_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let deep: PathBuf = (0..MAX_DEPTH + 2)
            .map(|level| format!("d{level}"))
            .collect();
        std::fs::create_dir_all(root.join(&deep)).unwrap();
        let found = credentials_in(std::slice::from_ref(&root), |_| false);
        assert_eq!(found.incomplete.len(), 1, "{found:?}");
        assert!(found.incomplete[0].contains("levels deep"));
        assert!(
            found
                .hidden
                .iter()
                .any(|path| path.starts_with(&root) && root.join(&deep).starts_with(path)),
            "the unscanned level is hidden: {found:?}"
        );
    }
}
