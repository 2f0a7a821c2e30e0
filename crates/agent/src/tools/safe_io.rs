//! File work for tools that can neither hang nor freeze the daemon. A named pipe, a socket or a
//! device in a tool's reach (`/dev/zero` through a symlink, a FIFO planted in the workspace)
//! would block a read forever or never reach its end, so only regular files are opened: the
//! path is checked with `lstat` first (nothing is opened that is not a regular file, since
//! opening some devices has effects), then opened with `O_NONBLOCK | O_NOFOLLOW` and checked
//! again on the open handle, so a file swapped in between is caught. All of it runs on a
//! blocking thread under a time limit ([`run_blocking`]), never on the async workers.

use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

use super::ToolError;

/// How long one tool's file work may take before the call fails (the work itself cannot be
/// interrupted, but the turn and the daemon go on).
pub const FILE_WORK_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `work` on a blocking thread and waits at most `limit` for it; `what` names the work in
/// the message the model reads when it takes too long.
pub async fn run_blocking<T: Send + 'static>(
    what: &str,
    limit: Duration,
    work: impl FnOnce() -> Result<T, ToolError> + Send + 'static,
) -> Result<T, ToolError> {
    match tokio::time::timeout(limit, tokio::task::spawn_blocking(work)).await {
        Ok(Ok(result)) => result,
        Ok(Err(error)) => Err(ToolError::Failed(format!("{what} stopped: {error}"))),
        Err(_) => Err(ToolError::Failed(format!(
            "{what} did not finish within {} s and was abandoned",
            limit.as_secs()
        ))),
    }
}

/// What kind of thing a non-regular path is, in words.
fn kind_of(metadata: &Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let kind = metadata.file_type();
    if kind.is_dir() {
        "a folder"
    } else if kind.is_fifo() {
        "a named pipe (FIFO)"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

fn not_regular(shown: &str, metadata: &Metadata) -> ToolError {
    ToolError::Failed(format!(
        "{shown} is {}; file tools only open regular files",
        kind_of(metadata)
    ))
}

fn io_failed(action: &str, shown: &str, error: &std::io::Error) -> ToolError {
    ToolError::Failed(format!("could not {action} {shown}: {error}"))
}

/// Opens `path` (already confined, symlinks resolved) for reading if it is a regular file.
/// `Ok(None)` when it does not exist.
pub fn open_regular(path: &Path, shown: &str) -> Result<Option<File>, ToolError> {
    let before = match std::fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(io_failed("read", shown, &error)),
    };
    if !before.file_type().is_file() {
        return Err(not_regular(shown, &before));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_NOCTTY)
        .open(path)
        .map_err(|error| io_failed("open", shown, &error))?;
    let opened = file
        .metadata()
        .map_err(|error| io_failed("read", shown, &error))?;
    if !opened.file_type().is_file() {
        return Err(not_regular(shown, &opened));
    }
    if (opened.dev(), opened.ino()) != (before.dev(), before.ino()) {
        return Err(ToolError::Failed(format!(
            "{shown} changed while it was being opened; try again"
        )));
    }
    Ok(Some(file))
}

/// The bytes of the regular file at `path`, refusing files larger than `max_bytes`.
/// `Ok(None)` when it does not exist.
pub fn read_regular(
    path: &Path,
    shown: &str,
    max_bytes: u64,
) -> Result<Option<Vec<u8>>, ToolError> {
    let Some(file) = open_regular(path, shown)? else {
        return Ok(None);
    };
    let size = file
        .metadata()
        .map_err(|error| io_failed("read", shown, &error))?
        .len();
    if size > max_bytes {
        return Err(ToolError::Failed(format!(
            "{shown} is {size} bytes, more than file tools open ({max_bytes})"
        )));
    }
    let mut bytes = Vec::new();
    // The size was checked on the open handle; the cap also stops a file that grows meanwhile.
    file.take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| io_failed("read", shown, &error))?;
    if bytes.len() as u64 > max_bytes {
        return Err(ToolError::Failed(format!(
            "{shown} grew past {max_bytes} bytes while it was read"
        )));
    }
    Ok(Some(bytes))
}

/// The UTF-8 text of the regular file at `path` (see [`read_regular`]).
pub fn read_regular_text(
    path: &Path,
    shown: &str,
    max_bytes: u64,
) -> Result<Option<String>, ToolError> {
    read_regular(path, shown, max_bytes)?
        .map(|bytes| {
            String::from_utf8(bytes)
                .map_err(|_| ToolError::Failed(format!("{shown} is not UTF-8 text")))
        })
        .transpose()
}

/// Refuses a write target that exists and is not a regular file; `Ok(true)` when a regular file
/// is there, `Ok(false)` when nothing is.
pub fn check_write_target(path: &Path, shown: &str) -> Result<bool, ToolError> {
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_file() => Ok(true),
        Ok(metadata) => Err(not_regular(shown, &metadata)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(io_failed("write", shown, &error)),
    }
}

/// Refuses a folder to list that is not a real folder.
pub fn check_folder(path: &Path, shown: &str) -> Result<(), ToolError> {
    let metadata =
        std::fs::symlink_metadata(path).map_err(|error| io_failed("list", shown, &error))?;
    if metadata.is_dir() {
        Ok(())
    } else if metadata.file_type().is_file() {
        Err(ToolError::Failed(format!(
            "{shown} is a file, not a folder; use read_file"
        )))
    } else {
        Err(not_regular(shown, &metadata))
    }
}
