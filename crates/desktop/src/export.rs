//! Saving an exported conversation: `localgpt-<id>.md` in the export folder, never over an
//! existing file or through a symlink (the file is created new, `-2`, `-3`… when taken), and
//! only with a name made of the id's plain characters.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `markdown` as a new file in `dir` named after session `id`; the path written.
pub fn save(dir: &Path, id: &str, markdown: &str) -> std::io::Result<PathBuf> {
    let stem: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .take(64)
        .collect();
    let stem = if stem.is_empty() {
        "conversation".to_owned()
    } else {
        stem
    };
    std::fs::create_dir_all(dir)?;
    for attempt in 1..1000 {
        let name = if attempt == 1 {
            format!("localgpt-{stem}.md")
        } else {
            format!("localgpt-{stem}-{attempt}.md")
        };
        let path = dir.join(name);
        // `create_new` is O_CREAT|O_EXCL: an existing file or symlink (even a dangling one) is
        // never opened, so nothing is overwritten and no link is followed.
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut file) => {
                file.write_all(markdown.as_bytes())?;
                return Ok(path);
            }
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        }
    }
    Err(std::io::Error::other(
        "too many exports of this conversation",
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn hostile_ids_stay_in_the_folder_and_nothing_is_overwritten() {
        let dir = tempfile_dir();
        let outside = dir.join("outside.txt");
        std::fs::write(&outside, "keep").unwrap();
        std::fs::create_dir_all(dir.join("exports")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&outside, dir.join("exports/localgpt-abc.md")).unwrap();
        let first = save(&dir.join("exports"), "abc", "# one").unwrap();
        assert_eq!(first.file_name().unwrap(), "localgpt-abc-2.md");
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep");
        for hostile in [
            "../../outside",
            "/etc/passwd",
            "..",
            "a/../../b",
            "\u{202e}dm.exe",
        ] {
            let path = save(&dir.join("exports"), hostile, "x").unwrap();
            assert_eq!(path.parent().unwrap(), dir.join("exports"), "{hostile}");
        }
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep");
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "localgpt-export-test-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
