//! The file system a script sees: paths relative to the workspace, inside the folders its
//! manifest names, resolved the way the OS would open them (symlinks followed) before they are
//! checked, so neither `..` nor a symlink planted in the workspace leads out. Only regular files
//! with a single link are opened (a hard link to a file outside the workspace is refused), with
//! `O_NOFOLLOW | O_NONBLOCK` and checked again on the open handle. Credential folders and
//! LocalGPT's own configuration, state and models ([`ProtectedPaths`]) are refused even inside an
//! allowed folder, and `tools/` and `skills/` are never written.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use localgpt_core::protected::ProtectedPaths;

use crate::manifest::UNWRITABLE_FOLDERS;

/// Largest file `fs.read` returns and `fs.write` writes.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// Most entries `fs.list` returns.
pub const MAX_LIST_ENTRIES: usize = 1_000;

/// The folders one script may read and write.
#[derive(Debug, Clone)]
pub struct ConfinedFs {
    workspace: PathBuf,
    read: Vec<PathBuf>,
    write: Vec<PathBuf>,
    protected: ProtectedPaths,
}

impl ConfinedFs {
    /// Access to `read` and `write` (workspace-relative, already checked by the manifest) under
    /// `workspace`; writable paths are readable too.
    pub fn new(
        workspace: &Path,
        read: &[PathBuf],
        write: &[PathBuf],
        protected: ProtectedPaths,
    ) -> Self {
        let workspace = workspace
            .canonicalize()
            .unwrap_or_else(|_| workspace.to_path_buf());
        let write: Vec<PathBuf> = write.iter().map(|path| workspace.join(path)).collect();
        let mut read: Vec<PathBuf> = read.iter().map(|path| workspace.join(path)).collect();
        read.extend(write.iter().cloned());
        Self {
            workspace,
            read,
            write,
            protected,
        }
    }

    /// The text of the regular file at `requested`.
    pub fn read(&self, requested: &str) -> Result<String, String> {
        let path = self.resolve_existing(requested, &self.read, "read")?;
        let file = open_regular(&path, requested)?;
        let mut bytes = Vec::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|error| format!("could not read {requested}: {error}"))?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(format!(
                "{requested} is larger than {MAX_FILE_BYTES} bytes, more than fs.read returns"
            ));
        }
        String::from_utf8(bytes).map_err(|_| format!("{requested} is not UTF-8 text"))
    }

    /// The entries of the folder at `requested`, sorted; folders end in `/`.
    pub fn list(&self, requested: &str) -> Result<Vec<String>, String> {
        let path = self.resolve_existing(requested, &self.read, "list")?;
        let metadata = std::fs::symlink_metadata(&path)
            .map_err(|error| format!("could not list {requested}: {error}"))?;
        if !metadata.is_dir() {
            return Err(format!("{requested} is not a folder"));
        }
        let mut names = Vec::new();
        let entries = std::fs::read_dir(&path)
            .map_err(|error| format!("could not list {requested}: {error}"))?;
        for entry in entries.flatten() {
            if names.len() >= MAX_LIST_ENTRIES {
                break;
            }
            let entry_path = entry.path();
            if self.protected.protects(&entry_path) {
                continue;
            }
            let mut name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                name.push('/');
            }
            names.push(name);
        }
        names.sort();
        Ok(names)
    }

    /// Writes `text` to the regular file at `requested`, creating it and missing folders.
    pub fn write(&self, requested: &str, text: &str) -> Result<(), String> {
        if text.len() as u64 > MAX_FILE_BYTES {
            return Err(format!(
                "the text is larger than {MAX_FILE_BYTES} bytes, more than fs.write writes"
            ));
        }
        let relative = relative(requested)?;
        let target = self.workspace.join(&relative);
        // The deepest part that exists, resolved; the rest is created below it.
        let mut existing = target.as_path();
        let mut missing = Vec::new();
        while std::fs::symlink_metadata(existing).is_err() {
            let (Some(parent), Some(name)) = (existing.parent(), existing.file_name()) else {
                return Err(format!("{requested} cannot be written"));
            };
            missing.push(name.to_owned());
            existing = parent;
        }
        let mut resolved = existing
            .canonicalize()
            .map_err(|error| format!("could not write {requested}: {error}"))?;
        for name in missing.iter().rev() {
            resolved.push(name);
        }
        self.check(&resolved, requested, &self.write, "write")?;
        if let Some(parent) = resolved.parent() {
            create_folders(parent, requested)?;
        }
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(&resolved)
            .map_err(|error| refused_open(requested, &error))?;
        let metadata = file
            .metadata()
            .map_err(|error| format!("could not write {requested}: {error}"))?;
        check_regular(&metadata, requested)?;
        file.set_len(0)
            .and_then(|()| file.write_all(text.as_bytes()))
            .map_err(|error| format!("could not write {requested}: {error}"))
    }

    /// Resolves an existing path (symlinks followed) and checks it against `roots`.
    fn resolve_existing(
        &self,
        requested: &str,
        roots: &[PathBuf],
        action: &str,
    ) -> Result<PathBuf, String> {
        let relative = relative(requested)?;
        let resolved = self
            .workspace
            .join(relative)
            .canonicalize()
            .map_err(|error| match error.kind() {
                std::io::ErrorKind::NotFound => format!("{requested} does not exist"),
                _ => format!("could not {action} {requested}: {error}"),
            })?;
        self.check(&resolved, requested, roots, action)?;
        Ok(resolved)
    }

    /// Refuses a resolved path that is protected or outside `roots`.
    fn check(
        &self,
        resolved: &Path,
        requested: &str,
        roots: &[PathBuf],
        action: &str,
    ) -> Result<(), String> {
        if self.protected.protects(resolved) {
            return Err(format!(
                "refused: {requested} is a protected place (credentials, a browser profile, or \
                 LocalGPT's own configuration, state or models) that scripts may never use"
            ));
        }
        if action == "write"
            && UNWRITABLE_FOLDERS
                .iter()
                .any(|folder| resolved.starts_with(self.workspace.join(folder)))
        {
            return Err(format!(
                "refused: {requested} is in tools/ or skills/, which scripts may never write"
            ));
        }
        if roots.iter().any(|root| resolved.starts_with(root)) {
            return Ok(());
        }
        let allowed = roots
            .iter()
            .filter_map(|root| root.strip_prefix(&self.workspace).ok())
            .map(|root| match root.as_os_str().is_empty() {
                true => ".".to_owned(),
                false => root.display().to_string(),
            })
            .collect::<Vec<_>>();
        let allowed = match allowed.is_empty() {
            true => "none".to_owned(),
            false => allowed.join(", "),
        };
        Err(format!(
            "refused: {requested} is outside the paths this tool may {action} (its manifest \
             allows: {allowed}; a symlink that leads elsewhere counts as where it leads)"
        ))
    }
}

/// `requested` as a clean workspace-relative path: no absolute paths, `~` or `..`.
fn relative(requested: &str) -> Result<PathBuf, String> {
    if requested.trim().is_empty() || requested.contains('\0') {
        return Err("refused: an empty path or one with a NUL byte".to_owned());
    }
    let path = Path::new(requested);
    if path.is_absolute() || requested.starts_with('~') {
        return Err(format!(
            "refused: {requested} is not relative to the workspace (scripts name files like \
             \"notes/a.md\")"
        ));
    }
    let mut clean = PathBuf::new();
    for part in path.components() {
        match part {
            Component::Normal(name) => clean.push(name),
            Component::CurDir => {}
            _ => {
                return Err(format!(
                    "refused: {requested} uses `..`; scripts stay inside the workspace"
                ));
            }
        }
    }
    Ok(clean)
}

/// Creates the folders of `path` that do not exist, refusing anything that is not a real folder.
fn create_folders(path: &Path, requested: &str) -> Result<(), String> {
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.is_dir() => Ok(()),
        Ok(_) => Err(format!(
            "refused: a part of {requested} is not a real folder"
        )),
        Err(_) => {
            if let Some(parent) = path.parent() {
                create_folders(parent, requested)?;
            }
            std::fs::create_dir(path)
                .map_err(|error| format!("could not create the folder for {requested}: {error}"))
        }
    }
}

/// Opens the regular file at `path` for reading, refusing anything else.
fn open_regular(path: &Path, requested: &str) -> Result<File, String> {
    let before = std::fs::symlink_metadata(path)
        .map_err(|error| format!("could not read {requested}: {error}"))?;
    check_regular(&before, requested)?;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|error| refused_open(requested, &error))?;
    let opened = file
        .metadata()
        .map_err(|error| format!("could not read {requested}: {error}"))?;
    check_regular(&opened, requested)?;
    if (opened.dev(), opened.ino()) != (before.dev(), before.ino()) {
        return Err(format!(
            "{requested} changed while it was being opened; try again"
        ));
    }
    Ok(file)
}

/// Refuses what is not a regular file, and regular files with more than one hard link (one of
/// the others may be outside the allowed folders).
fn check_regular(metadata: &Metadata, requested: &str) -> Result<(), String> {
    if !metadata.file_type().is_file() {
        return Err(format!(
            "refused: {requested} is not a regular file (folders, links, pipes, sockets and \
             devices are not opened)"
        ));
    }
    if metadata.nlink() > 1 {
        return Err(format!(
            "refused: {requested} has {} hard links; scripts only open files with one, since \
             another link may lie outside the allowed folders",
            metadata.nlink()
        ));
    }
    Ok(())
}

fn refused_open(requested: &str, error: &std::io::Error) -> String {
    if error.raw_os_error() == Some(libc::ELOOP) {
        format!("refused: {requested} is a symbolic link")
    } else {
        format!("could not open {requested}: {error}")
    }
}
