//! Shared by the inference tests: the real model wheels from PyPI (`scripts/fetch-test-models.sh`)
//! imported with LocalGPT's own model store.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use localgpt_inference::{ImportOptions, InstalledModel, ModelStore};

/// The folder of test model wheels.
pub fn test_models() -> PathBuf {
    let dir = std::env::var_os("LOCALGPT_TEST_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::home_dir()
                .unwrap()
                .join(".cache/localgpt/test-models")
        });
    assert!(
        dir.is_dir(),
        "test models are missing from {}: run scripts/fetch-test-models.sh",
        dir.display()
    );
    dir
}

/// The wheel whose file name starts with `prefix`.
pub fn wheel(prefix: &str) -> PathBuf {
    std::fs::read_dir(test_models())
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .find(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(prefix)
        })
        .unwrap_or_else(|| {
            panic!("no {prefix}*.whl in the test models folder: run scripts/fetch-test-models.sh")
        })
}

/// A model imported into a store of its own (kept as long as the returned folder lives).
pub fn import(prefix: &str, options: &ImportOptions) -> (tempfile::TempDir, InstalledModel) {
    let dir = tempfile::tempdir().unwrap();
    let installed = ModelStore::new(dir.path().join("models"))
        .import(&wheel(prefix), options)
        .unwrap();
    (dir, installed)
}
