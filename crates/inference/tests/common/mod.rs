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

/// A model imported once per build of this test program and shared by its test processes (nextest
/// runs each test in a process of its own): kept under Cargo's `CARGO_TARGET_TMPDIR`, imported
/// under a file lock, replaced when the test program is rebuilt (the converter may have changed),
/// and never mutated by tests. A temporary folder held in a static would never be removed and
/// would leave a model behind per test process.
pub fn shared_import(prefix: &str, label: &str, options: &ImportOptions) -> InstalledModel {
    let exe = std::env::current_exe().unwrap();
    let program = exe
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .split('-')
        .next()
        .unwrap()
        .to_owned();
    let built = exe
        .metadata()
        .and_then(|meta| meta.modified())
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("shared-test-models");
    std::fs::create_dir_all(&root).unwrap();
    let family = format!("{program}-{label}-");
    let dir = root.join(format!("{family}{built}"));
    let lock = std::fs::File::create(root.join(format!("{family}lock"))).unwrap();
    lock.lock().unwrap();
    let store = ModelStore::new(dir.join("models"));
    let installed = match store.list().unwrap_or_default().into_iter().next() {
        Some(installed) => installed,
        None => {
            // Earlier builds' copies go first.
            for entry in std::fs::read_dir(&root).unwrap().flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with(&family) && entry.path().is_dir() && entry.path() != dir {
                    std::fs::remove_dir_all(entry.path()).ok();
                }
            }
            store.import(&wheel(prefix), options).unwrap()
        }
    };
    lock.unlock().unwrap();
    installed
}
