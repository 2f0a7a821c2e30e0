//! Fork bombs against the process limit, for root (whose limit is a pids cgroup, reused from
//! command to command) and for a normal user (`RLIMIT_NPROC`): run as root, the suite runs the
//! normal user's case too, in a copy of this test binary started as `nobody`. Also: commands
//! confined at the same time get a group each; what a command leaves running is killed when its
//! confinement ends, so the next command's group starts empty and its limit is its own.

#![allow(clippy::unwrap_used, clippy::expect_used)]
mod support;

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use localgpt_core::config::{SandboxConfig, SandboxLevel};
use localgpt_sandbox::{Confinement, Policy, ProcessLimit, Support};
use support::{Outcome, run_to_end};

/// Set in the copy started as `nobody`, so only it runs the normal user's case.
const AS_NOBODY: &str = "LOCALGPT_SANDBOX_TEST_AS_NOBODY";

/// Tries to fork 300 sleeping children; prints how many it made.
const FORK_BOMB: &str = "python3 -c \"
import os,time
n=0
try:
    for i in range(300):
        if os.fork()==0:
            time.sleep(5); os._exit(0)
        n+=1
except OSError as e:
    print('stopped',e)
print('forked',n)\"";

fn is_root() -> bool {
    // SAFETY: geteuid has no failure mode.
    unsafe { libc::geteuid() == 0 }
}

fn policy(workspace: &Path, processes: u64) -> Policy {
    let mut config = SandboxConfig {
        level: SandboxLevel::Strict,
        ..SandboxConfig::default()
    };
    config.limits.processes = processes;
    config.limits.cpu_seconds = 10;
    Policy::from_config(&config, workspace, None, &[], |path| PathBuf::from(path))
}

fn run(confinement: Confinement, script: &str, workspace: &Path) -> Outcome {
    let mut command = Command::new("bash");
    command.arg("-c").arg(script).current_dir(workspace);
    let env: [(&str, &OsStr); 1] = [("PATH", OsStr::new("/usr/bin:/bin"))];
    run_to_end(confinement, command, &env, Duration::from_secs(60))
}

fn forked(outcome: &Outcome) -> usize {
    outcome
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("forked ")?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no count: {} | {}", outcome.stdout, outcome.stderr))
}

/// Three fork bombs in a row (as root: the same pooled group each time), each stopped at its
/// own limit.
fn bombs_are_stopped() {
    let workspace = tempfile::tempdir().unwrap();
    for processes in [16, 32, 24] {
        let confinement = Confinement::prepare(&policy(workspace.path(), processes)).unwrap();
        let outcome = run(confinement, FORK_BOMB, workspace.path());
        let made = forked(&outcome);
        println!("limit {processes}: forked {made}");
        assert!(
            made < 300,
            "the fork bomb was not stopped: {}",
            outcome.stdout
        );
        if is_root() {
            // The group counts every process of the command (python too), and nothing left
            // from the command before (that would leave fewer forks than the limit allows).
            let limit = processes as usize;
            assert!(
                made < limit && made + 4 >= limit,
                "limit {processes}, forked {made}"
            );
        }
    }
}

#[test]
fn a_fork_bomb_is_stopped_for_this_user() {
    let support = Support::detect();
    let expected = if is_root() {
        ProcessLimit::Cgroup
    } else {
        ProcessLimit::Rlimit
    };
    assert_eq!(support.process_limit, expected, "{support:?}");
    bombs_are_stopped();
}

#[test]
fn a_fork_bomb_is_stopped_for_a_normal_user() {
    if std::env::var_os(AS_NOBODY).is_some() || !is_root() {
        assert_eq!(Support::detect().process_limit, ProcessLimit::Rlimit);
        bombs_are_stopped();
        return;
    }
    // Root: run this test again as `nobody`, from a copy of the binary it can read.
    let copy_dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(copy_dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = copy_dir.path().join("suite");
    std::fs::copy(std::env::current_exe().unwrap(), &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    let output = Command::new(&copy)
        .args([
            "--exact",
            "a_fork_bomb_is_stopped_for_a_normal_user",
            "--nocapture",
        ])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("TMPDIR", "/tmp")
        .env("HOME", "/tmp")
        .env(AS_NOBODY, "1")
        .current_dir("/tmp")
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{text}");
    assert!(output.status.success(), "as nobody: {text}");
    assert!(text.contains("1 passed"), "the test did not run: {text}");
    assert_eq!(text.matches("forked").count(), 3, "{text}");
}

#[test]
fn concurrent_commands_get_a_group_each_and_leftovers_are_killed() {
    if !is_root() {
        return;
    }
    let workspace = tempfile::tempdir().unwrap();
    // A command that leaves a child behind and prints its id.
    let first = Confinement::prepare(&policy(workspace.path(), 8)).unwrap();
    let second = Confinement::prepare(&policy(workspace.path(), 64)).unwrap();
    let outcome = run(first, "sleep 1000 & echo $!", workspace.path());
    let pid: u32 = outcome.stdout.trim().parse().unwrap();
    let status = Path::new("/proc").join(pid.to_string()).join("status");
    let alive = std::fs::read_to_string(&status)
        .is_ok_and(|text| !text.lines().any(|line| line.starts_with("State:\tZ")));
    assert!(!alive, "the command's leftover sleep {pid} still runs");
    // The second confinement, made while the first was alive, has its own limit of 64.
    let outcome = run(second, FORK_BOMB, workspace.path());
    let made = forked(&outcome);
    assert!((16..64).contains(&made), "limit 64, forked {made}");
}

#[test]
fn a_pooled_group_removed_by_someone_else_is_replaced() {
    if !is_root() {
        return;
    }
    let workspace = tempfile::tempdir().unwrap();
    let outcome = run(
        Confinement::prepare(&policy(workspace.path(), 16)).unwrap(),
        "true",
        workspace.path(),
    );
    assert_eq!(outcome.code, Some(0));
    // Another process (say a LocalGPT in another pid namespace sweeping) removes this
    // process's idle groups.
    let mine = format!("p{}-", std::process::id());
    let parent = Path::new("/sys/fs/cgroup/pids/localgpt-sandbox");
    let mut removed = 0;
    for entry in std::fs::read_dir(parent).unwrap().flatten() {
        if entry.file_name().to_string_lossy().starts_with(&mine) {
            std::fs::remove_dir(entry.path()).unwrap();
            removed += 1;
        }
    }
    assert!(removed > 0, "no pooled group to remove");
    let confinement = Confinement::prepare(&policy(workspace.path(), 16)).unwrap();
    assert!(
        confinement.unenforced().is_empty(),
        "{:?}",
        confinement.unenforced()
    );
    let outcome = run(confinement, FORK_BOMB, workspace.path());
    let made = forked(&outcome);
    assert!((12..16).contains(&made), "limit 16, forked {made}");
}
