//! Credential stores planted deep inside folders the policy allows (`allow_read` and
//! `allow_write`): `.ssh`, `.aws`, `.gnupg`, `.kube`, `.docker`, `.netrc` at several depths, and
//! the config and state of other LocalGPT homes. A confined shell tries to read, list, search,
//! copy, link, rename and overwrite them — directly, through symlinks to their folders, through a
//! symlinked allowed root and `/proc/self/root` — and every attempt must fail with nothing leaked,
//! while the rest of the allowed folder stays usable. Also: a folder too deep or too large to scan
//! is refused under `strict`, and hidden or reported under `auto`. Prints "0 escapes of N attempts".

#![allow(clippy::unwrap_used, clippy::expect_used)]
mod support;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use localgpt_core::config::{SandboxConfig, SandboxLevel};
use localgpt_sandbox::{
    Confinement, Policy, SCAN_MAX_DEPTH, SCAN_MAX_ENTRIES, SandboxError, Support,
};
use support::{Outcome, run_to_end};

const SECRET: &str = "DEEP-SECRET-7e21";
const PUBLIC: &str = "public-notes-ok";

/// Secret files planted under the allowed folder `data/`, relative to it.
const PLANTED: &[&str] = &[
    ".kube/config",
    "backup/.ssh/id_ed25519",
    "x/.aws/credentials",
    "a/b/c/d/e/.gnupg/private-keys-v1.d/key.key",
    "proj/.docker/config.json",
    "proj/.netrc",
    "users/old/.localgpt/config.toml",
    "users/old/.localgpt/state/sessions/main.jsonl",
    "moved-home/config.toml",
    "moved-home/state/index.txt",
    "moved-home/models/weights.txt",
];

struct Lab {
    _dir: tempfile::TempDir,
    root: PathBuf,
    home: PathBuf,
    workspace: PathBuf,
    data: PathBuf,
}

fn lab() -> Lab {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let home = root.join("home");
    let workspace = home.join(".localgpt/workspace");
    let data = root.join("data");
    std::fs::create_dir_all(&workspace).unwrap();
    for file in PLANTED {
        let path = data.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, SECRET).unwrap();
    }
    std::fs::create_dir_all(data.join("moved-home/workspace")).unwrap();
    std::fs::create_dir_all(data.join("proj/src")).unwrap();
    std::fs::write(data.join("proj/README.md"), PUBLIC).unwrap();
    std::fs::write(data.join("a/b/c/d/e/notes.txt"), PUBLIC).unwrap();
    // Symlinks with innocent names to the credential folders, and a symlinked way to the root.
    let link = |target: &str, name: &str| {
        std::os::unix::fs::symlink(data.join(target), data.join(name)).unwrap();
    };
    link("backup", "linked-backup");
    link("x/.aws", "innocent");
    link("users/old/.localgpt", "old-home");
    std::os::unix::fs::symlink(&data, root.join("data-link")).unwrap();
    Lab {
        _dir: dir,
        root,
        home,
        workspace,
        data,
    }
}

fn policy(lab: &Lab, level: SandboxLevel, read: &[&Path], write: &[&Path]) -> Policy {
    let text = |paths: &[&Path]| paths.iter().map(|p| p.display().to_string()).collect();
    let config = SandboxConfig {
        level,
        allow_read: text(read),
        allow_write: text(write),
        ..SandboxConfig::default()
    };
    let own = [
        lab.home.join(".localgpt/config.toml"),
        lab.home.join(".localgpt/state"),
    ];
    Policy::from_config(&config, &lab.workspace, Some(&lab.home), &own, |path| {
        PathBuf::from(path)
    })
}

fn run(policy: &Policy, script: &str, lab: &Lab) -> Outcome {
    let confinement = Confinement::prepare(policy).unwrap();
    let mut command = Command::new("bash");
    command.arg("-c").arg(script).current_dir(&lab.workspace);
    let env: [(&str, &OsStr); 3] = [
        ("HOME", lab.home.as_os_str()),
        ("DATA", lab.data.as_os_str()),
        ("PATH", OsStr::new("/usr/bin:/bin")),
    ];
    run_to_end(confinement, command, &env, Duration::from_secs(30))
}

fn leaks(outcome: &Outcome) -> bool {
    outcome.text().contains(SECRET)
}

/// Every planted secret file still holds exactly the secret (nothing was overwritten, appended,
/// moved or removed).
fn planted_intact(lab: &Lab) -> bool {
    PLANTED
        .iter()
        .all(|file| std::fs::read_to_string(lab.data.join(file)).is_ok_and(|text| text == SECRET))
}

fn needs_landlock() {
    let support = Support::detect();
    assert!(
        support.landlock_abi.is_some() && support.seccomp,
        "this suite needs Landlock and seccomp: {support:?}"
    );
}

#[test]
fn credentials_deep_inside_allowed_folders_stay_out_of_reach() {
    needs_landlock();
    let lab = lab();
    let read_policy = policy(&lab, SandboxLevel::Strict, &[&lab.data], &[]);
    let write_policy = policy(&lab, SandboxLevel::Strict, &[], &[&lab.data]);
    let linked_root = lab.root.join("data-link");
    let linked_policy = policy(&lab, SandboxLevel::Strict, &[&linked_root], &[]);

    let mut reads: Vec<(String, String)> = PLANTED
        .iter()
        .map(|file| (format!("read {file}"), format!("cat \"$DATA/{file}\"")))
        .collect();
    reads.extend(
        [
            ("list .ssh", "ls -la \"$DATA/backup/.ssh\""),
            ("search the whole folder", "grep -r DEEP \"$DATA\""),
            (
                "find and cat every file",
                "find \"$DATA\" -type f -exec cat {} +",
            ),
            ("archive the folder", "tar cf - -C \"$DATA\" . | strings"),
            (
                "copy the folder into the workspace",
                "cp -r \"$DATA\" copy; grep -r DEEP copy",
            ),
            (
                "symlinked folder (innocent name)",
                "cat \"$DATA/linked-backup/.ssh/id_ed25519\"",
            ),
            (
                "symlink to .aws (innocent name)",
                "cat \"$DATA/innocent/credentials\"",
            ),
            (
                "symlink to another LocalGPT home",
                "cat \"$DATA/old-home/config.toml\" \"$DATA\"/old-home/state/sessions/*",
            ),
            (
                "new symlink made in the workspace",
                "ln -s \"$DATA/backup/.ssh\" k && cat k/id_ed25519",
            ),
            (
                "hard link made in the workspace",
                "ln \"$DATA/x/.aws/credentials\" h && cat h",
            ),
            (
                "/proc/self/root",
                "cat /proc/self/root\"$DATA/proj/.netrc\"",
            ),
            (
                "python walk",
                "python3 -c \"import os,sys\nfor d,_,fs in os.walk(os.environ['DATA']):\n  for f in fs:\n    try: print(open(os.path.join(d,f)).read())\n    except Exception as e: print(e, file=sys.stderr)\"",
            ),
        ]
        .map(|(name, script)| (name.to_owned(), script.to_owned())),
    );
    let writes = [
        (
            "add an authorized key",
            "echo evil >> \"$DATA/backup/.ssh/authorized_keys\"",
        ),
        (
            "overwrite .aws credentials",
            "echo evil > \"$DATA/x/.aws/credentials\"",
        ),
        (
            "rename .ssh out of the way",
            "mv \"$DATA/backup/.ssh\" \"$DATA/backup/ssh\" && cat \"$DATA/backup/ssh/id_ed25519\"",
        ),
        (
            "rename the folder holding .aws",
            "mv \"$DATA/x\" \"$DATA/y\" && cat \"$DATA/y/.aws/credentials\"",
        ),
        ("remove .kube", "rm -rf \"$DATA/.kube\""),
        (
            "truncate another home's config",
            ": > \"$DATA/moved-home/config.toml\"",
        ),
        (
            "write into another home's state",
            "echo evil > \"$DATA/users/old/.localgpt/state/new\"",
        ),
    ];

    let mut attempts = 0;
    let mut escapes = Vec::new();
    for (label, policy) in [
        ("allow_read", &read_policy),
        ("allow_write", &write_policy),
        ("symlinked allow_read", &linked_policy),
    ] {
        for (name, script) in &reads {
            let outcome = run(policy, script, &lab);
            attempts += 1;
            let escaped = leaks(&outcome);
            println!(
                "{} {label}: {name} | {}",
                if escaped { "ESCAPED" } else { "blocked" },
                outcome.stderr.lines().last().unwrap_or("").trim()
            );
            if escaped {
                escapes.push(format!("{label}: {name}"));
            }
        }
        for (name, script) in &writes {
            let outcome = run(policy, script, &lab);
            attempts += 1;
            let escaped = leaks(&outcome)
                || !planted_intact(&lab)
                || lab.data.join("backup/.ssh/authorized_keys").exists()
                || lab.data.join("users/old/.localgpt/state/new").exists();
            println!(
                "{} {label}: {name} | {}",
                if escaped { "ESCAPED" } else { "blocked" },
                outcome.stderr.lines().last().unwrap_or("").trim()
            );
            if escaped {
                escapes.push(format!("{label}: {name}"));
            }
        }
    }

    // The rest of the folder still works: the public files read, a write lands in an allowed
    // subfolder.
    let outcome = run(
        &read_policy,
        "cat \"$DATA/proj/README.md\" \"$DATA/a/b/c/d/e/notes.txt\"",
        &lab,
    );
    assert_eq!(
        outcome.stdout,
        format!("{PUBLIC}{PUBLIC}"),
        "stderr: {}",
        outcome.stderr
    );
    let outcome = run(
        &write_policy,
        "echo made > \"$DATA/proj/src/new.txt\" && cat \"$DATA/proj/src/new.txt\"",
        &lab,
    );
    assert_eq!(outcome.stdout, "made\n", "stderr: {}", outcome.stderr);

    println!(
        "{} escapes of {attempts} attempts{}",
        escapes.len(),
        if escapes.is_empty() {
            String::new()
        } else {
            format!(": {}", escapes.join(", "))
        }
    );
    assert!(escapes.is_empty(), "escapes: {escapes:?}");
    assert!(planted_intact(&lab));
}

#[test]
fn a_folder_too_deep_to_scan_is_refused_under_strict_and_hidden_under_auto() {
    needs_landlock();
    let lab = lab();
    let deep: PathBuf = (0..SCAN_MAX_DEPTH + 3)
        .map(|level| format!("l{level}"))
        .collect();
    let deep = lab.data.join("deep").join(deep);
    std::fs::create_dir_all(deep.join(".ssh")).unwrap();
    std::fs::write(deep.join(".ssh/id_rsa"), SECRET).unwrap();

    let strict = policy(&lab, SandboxLevel::Strict, &[&lab.data], &[]);
    match Confinement::prepare(&strict) {
        Err(SandboxError::Unenforceable(reasons)) => {
            assert!(
                reasons.iter().any(|reason| reason.contains("levels deep")),
                "{reasons:?}"
            );
        }
        other => panic!("strict ran a policy it could not check: {other:?}"),
    }

    let auto = policy(&lab, SandboxLevel::Auto, &[&lab.data], &[]);
    let confinement = Confinement::prepare(&auto).unwrap();
    assert!(
        confinement
            .unenforced()
            .iter()
            .any(|gap| gap.contains("levels deep")),
        "auto did not say what it could not scan: {:?}",
        confinement.unenforced()
    );
    let script = format!(
        "cat '{}'; grep -r DEEP \"$DATA/deep\"",
        deep.join(".ssh/id_rsa").display()
    );
    let outcome = run(&auto, &script, &lab);
    assert!(!leaks(&outcome), "leaked: {}", outcome.stdout);
}

#[test]
fn a_folder_too_large_to_scan_is_refused_under_strict_and_reported_under_auto() {
    needs_landlock();
    let lab = lab();
    let big = lab.data.join("big");
    std::fs::create_dir_all(&big).unwrap();
    for index in 0..=SCAN_MAX_ENTRIES {
        std::fs::File::create(big.join(format!("f{index}"))).unwrap();
    }
    let strict = policy(&lab, SandboxLevel::Strict, &[&lab.data], &[]);
    match Confinement::prepare(&strict) {
        Err(SandboxError::Unenforceable(reasons)) => {
            let text = reasons.join("; ");
            assert!(
                text.contains(&format!("more than {SCAN_MAX_ENTRIES} entries")),
                "{text}"
            );
            assert!(text.contains("data"), "the folder is not named: {text}");
        }
        other => panic!("strict ran a policy it could not check: {other:?}"),
    }
    let auto = policy(&lab, SandboxLevel::Auto, &[&lab.data], &[]);
    let confinement = Confinement::prepare(&auto).unwrap();
    assert!(
        confinement
            .unenforced()
            .iter()
            .any(|gap| gap.contains("entries")),
        "{:?}",
        confinement.unenforced()
    );
}
