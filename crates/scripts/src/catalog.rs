//! Finding script tools: every `NAME.toml` in a `tools/` folder (the workspace's, then each
//! skill's) with `NAME.js` beside it. Manifests and scripts must be regular files (not symlinks)
//! of reasonable size; everything wrong is reported as a [`Problem`] with the file and the fix,
//! and a tool with a problem is not offered.

use std::path::{Path, PathBuf};

use crate::manifest::{self, ScriptTool};

/// Largest manifest or script read.
const MAX_FILE_BYTES: u64 = 256 * 1024;

/// One thing wrong with a tool's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file at fault.
    pub file: PathBuf,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub fix: String,
}

/// The script tools found, and what was wrong with the others.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Tools ready to offer, by name (first folder wins).
    pub tools: Vec<ScriptTool>,
    /// Files that could not become tools.
    pub problems: Vec<Problem>,
}

impl Catalog {
    /// Reads every folder in `folders` (missing ones are skipped), in order.
    pub fn discover(folders: &[PathBuf]) -> Self {
        let mut catalog = Self::default();
        for folder in folders {
            catalog.read_folder(folder);
        }
        catalog
    }

    /// The tool called `name` (with or without the `js_` prefix).
    pub fn get(&self, name: &str) -> Option<&ScriptTool> {
        let bare = name.strip_prefix(crate::TOOL_PREFIX).unwrap_or(name);
        self.tools.iter().find(|tool| tool.name == bare)
    }

    fn problem(&mut self, file: &Path, message: impl Into<String>, fix: impl Into<String>) {
        self.problems.push(Problem {
            file: file.to_path_buf(),
            message: message.into(),
            fix: fix.into(),
        });
    }

    fn read_folder(&mut self, folder: &Path) {
        let Ok(entries) = std::fs::read_dir(folder) else {
            return;
        };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).collect();
        paths.sort();
        for path in &paths {
            let extension = path.extension().and_then(|ext| ext.to_str());
            match extension {
                Some("toml") => self.read_tool(path),
                Some("js") if !path.with_extension("toml").exists() => self.problem(
                    path,
                    "a script without a manifest is not offered",
                    format!(
                        "add {} with a description and [permissions]",
                        path.with_extension("toml").display()
                    ),
                ),
                _ => {}
            }
        }
    }

    fn read_tool(&mut self, manifest_path: &Path) {
        let Some(stem) = manifest_path.file_stem().and_then(|stem| stem.to_str()) else {
            return self.problem(manifest_path, "the file name is not UTF-8", "rename it");
        };
        let text = match read_small(manifest_path) {
            Ok(text) => text,
            Err(message) => return self.problem(manifest_path, message, "make it a regular file"),
        };
        let (name, description, parameters, permissions) = match manifest::parse(&text, stem) {
            Ok(parsed) => parsed,
            Err(fault) => return self.problem(manifest_path, fault.message, fault.fix),
        };
        let script_path = manifest_path.with_extension("js");
        let source = match read_small(&script_path) {
            Ok(source) => source,
            Err(message) => {
                return self.problem(
                    &script_path,
                    message,
                    "put the script beside its manifest, defining function run(args)",
                );
            }
        };
        if self.tools.iter().any(|tool| tool.name == name) {
            return self.problem(
                manifest_path,
                format!("another tool is already called `{name}`; this one is not offered"),
                "rename one of them",
            );
        }
        self.tools.push(ScriptTool {
            name,
            description,
            parameters,
            permissions,
            manifest_path: manifest_path.to_path_buf(),
            script_path,
            source,
        });
    }
}

/// The text of a small regular file (a symlink is refused).
fn read_small(path: &Path) -> Result<String, String> {
    let metadata = std::fs::symlink_metadata(path).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => "the file is missing".to_owned(),
        _ => format!("cannot be read: {error}"),
    })?;
    if !metadata.file_type().is_file() {
        return Err("is not a regular file (symbolic links are not followed)".to_owned());
    }
    if metadata.len() > MAX_FILE_BYTES {
        return Err(format!("is larger than {MAX_FILE_BYTES} bytes"));
    }
    std::fs::read_to_string(path).map_err(|error| format!("cannot be read as text: {error}"))
}
