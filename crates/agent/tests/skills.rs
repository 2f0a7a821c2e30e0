//! Skills on real folders: precedence between roots, eligibility, the prompt listing, and every
//! skill that ships with OpenClaw's npm package (fetched by `scripts/setup.sh`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use localgpt_agent::skills::{Eligibility, SkillSource, discover, prompt_listing};

fn write_skill(root: &Path, dir: &str, front: &str, body: &str) {
    let folder = root.join(dir);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("SKILL.md"),
        format!("---\n{front}\n---\n{body}"),
    )
    .unwrap();
}

fn no_env(_: &str) -> Option<String> {
    None
}

#[test]
fn workspace_skills_shadow_user_skills_of_the_same_name() {
    let dir = tempfile::tempdir().unwrap();
    let (workspace, user) = (dir.path().join("ws"), dir.path().join("user"));
    write_skill(
        &workspace,
        "notes",
        "name: notes\ndescription: workspace notes",
        "ws body",
    );
    write_skill(
        &user,
        "notes",
        "name: notes\ndescription: user notes",
        "user body",
    );
    write_skill(
        &user,
        "group/deploy",
        "description: ship it",
        "Run {baseDir}/deploy.sh",
    );
    let set = discover(
        &[
            (SkillSource::Workspace, workspace),
            (SkillSource::User, user.clone()),
        ],
        &no_env,
        None,
    );
    assert_eq!(set.skills.len(), 2);
    assert_eq!(
        set.get("notes").unwrap().manifest.description,
        "workspace notes"
    );
    assert_eq!(set.shadowed.len(), 1);
    let deploy = set.get("deploy").unwrap();
    assert_eq!(deploy.source, SkillSource::User);
    assert_eq!(
        deploy.body().unwrap(),
        format!("Run {}/deploy.sh", user.join("group/deploy").display())
    );
}

#[test]
fn ineligible_skills_say_why_and_stay_out_of_the_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let tool = bin.join("present-tool");
    std::fs::write(&tool, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let root = dir.path().join("skills");
    write_skill(
        &root,
        "ok",
        "description: usable\nmetadata: {\"openclaw\": {\"requires\": {\"bins\": [\"present-tool\"], \"env\": [\"MY_TOKEN\"]}}}",
        "",
    );
    write_skill(
        &root,
        "nobin",
        "description: needs a tool\nmetadata: {\"openclaw\": {\"requires\": {\"bins\": [\"absent-tool\"], \"anyBins\": [\"nope1\", \"nope2\"]}}}",
        "",
    );
    write_skill(
        &root,
        "hidden",
        "description: not for the model\ndisable-model-invocation: true",
        "",
    );
    let env = |name: &str| (name == "MY_TOKEN").then(|| "t".to_owned());
    let set = discover(
        &[(SkillSource::Workspace, root)],
        &env,
        Some(bin.as_os_str()),
    );
    assert_eq!(set.get("ok").unwrap().eligibility, Eligibility::Eligible);
    match &set.get("nobin").unwrap().eligibility {
        Eligibility::Ineligible(reasons) => {
            assert!(
                reasons.iter().any(|r| r == "needs absent-tool on PATH"),
                "{reasons:?}"
            );
            assert!(
                reasons
                    .iter()
                    .any(|r| r == "needs one of nope1, nope2 on PATH"),
                "{reasons:?}"
            );
        }
        Eligibility::Eligible => panic!("nobin must be ineligible"),
    }
    let listing = prompt_listing(&set).unwrap();
    assert!(listing.contains("<name>ok</name><description>usable</description>"));
    assert!(!listing.contains("nobin"));
    assert!(!listing.contains("hidden"));
}

#[test]
fn broken_skills_are_reported_and_siblings_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("skills");
    write_skill(&root, "good", "description: fine", "");
    write_skill(&root, "bad", "name: [broken", "");
    let set = discover(&[(SkillSource::Workspace, root)], &no_env, None);
    assert_eq!(set.skills.len(), 1);
    assert_eq!(set.errors.len(), 1);
    assert!(set.errors[0].to_string().contains("bad/SKILL.md"));
}

/// The OpenClaw npm package, unpacked by `scripts/setup.sh` (`npm pack openclaw`).
fn openclaw_package() -> PathBuf {
    let dir = std::env::var_os("LOCALGPT_OPENCLAW_PACKAGE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::home_dir()
                .unwrap()
                .join(".cache/localgpt/test-data/openclaw/package")
        });
    assert!(
        dir.join("skills").is_dir(),
        "OpenClaw's package is not at {} — run scripts/setup.sh (or set LOCALGPT_OPENCLAW_PACKAGE)",
        dir.display()
    );
    dir
}

#[test]
fn every_skill_shipped_with_openclaw_parses() {
    let package = openclaw_package();
    let set = discover(
        &[(SkillSource::User, package.join("skills"))],
        &no_env,
        Some(std::ffi::OsStr::new("/usr/bin:/bin")),
    );
    assert!(set.errors.is_empty(), "unparsed skills: {:#?}", set.errors);
    assert!(
        set.skills.len() >= 45,
        "only {} skills found",
        set.skills.len()
    );
    for skill in &set.skills {
        assert!(
            !skill.manifest.description.is_empty(),
            "{}",
            skill.manifest.name
        );
        skill.body().unwrap();
    }
    let with_requirements = set
        .skills
        .iter()
        .filter(|s| !s.manifest.requires.bins.is_empty())
        .count();
    assert!(
        with_requirements >= 20,
        "gating metadata was not read ({with_requirements} skills with bins)"
    );
    assert!(set.skills.iter().any(|s| s.manifest.emoji.is_some()));
}
