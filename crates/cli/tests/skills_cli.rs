//! `localgpt skills list|show` on a temp home with real skill folders.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::localgpt;
use predicates::prelude::*;

fn write_skill(dir: &Path, front: &str, body: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("SKILL.md"), format!("---\n{front}\n---\n{body}\n")).unwrap();
}

#[test]
fn list_shows_workspace_and_user_skills_with_reasons() {
    let home = tempfile::tempdir().unwrap();
    write_skill(
        &home.path().join("workspace/skills/journal"),
        "name: journal\ndescription: Keep a journal",
        "Write entries.",
    );
    write_skill(
        &home.path().join("skills/deploy"),
        "name: deploy\ndescription: Deploy things\nmetadata: {\"openclaw\": {\"requires\": {\"bins\": [\"no-such-deployer\"]}}}",
        "Run the deployer.",
    );
    localgpt(home.path())
        .args(["skills", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("journal").and(predicate::str::contains("workspace")))
        .stdout(
            predicate::str::contains("deploy").and(predicate::str::contains(
                "unavailable: needs no-such-deployer on PATH",
            )),
        );
    let output = localgpt(home.path())
        .args(["skills", "list", "--json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
    assert_eq!(json[0]["name"], "journal");
    assert_eq!(json[0]["eligible"], true);
    assert_eq!(json[1]["eligible"], false);
}

#[test]
fn show_prints_the_instructions_and_unknown_names_fail() {
    let home = tempfile::tempdir().unwrap();
    write_skill(
        &home.path().join("workspace/skills/journal"),
        "description: Keep a journal",
        "Write entries in {baseDir}/entries.",
    );
    localgpt(home.path())
        .args(["skills", "show", "journal"])
        .assert()
        .success()
        .stdout(predicate::str::contains("status:      ready"))
        .stdout(predicate::str::contains(format!(
            "Write entries in {}/workspace/skills/journal/entries.",
            home.path().display()
        )));
    localgpt(home.path())
        .args(["skills", "show", "nope"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("no skill named `nope`"));
}
