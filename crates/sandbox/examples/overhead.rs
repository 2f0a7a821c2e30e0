//! Times one confined `true` against an unconfined one, in-process (as the `bash` tool runs
//! them): `cargo run --release -p localgpt-sandbox --example overhead [RUNS]`. Prints the mean
//! per command for: unconfined, confined without the pids cgroup (a normal user's case, where
//! `RLIMIT_NPROC` applies), confined with `allow_net` (a network namespace and the filtering
//! proxy, started and stopped per command), and confined with the pids cgroup (root).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use localgpt_sandbox::{Confinement, Policy, ProcessLimit, Support};

fn mean(runs: u32, mut once: impl FnMut()) -> Duration {
    once();
    let start = Instant::now();
    for _ in 0..runs {
        once();
    }
    start.elapsed() / runs
}

fn main() {
    let runs: u32 = std::env::args()
        .nth(1)
        .and_then(|runs| runs.parse().ok())
        .unwrap_or(200);
    let Ok(workspace) = tempfile::tempdir() else {
        eprintln!("no temporary folder");
        return;
    };
    let policy = Policy::for_workspace(workspace.path());
    let support = Support::detect();
    let run_true = |confinement: Option<&mut Confinement>, dir: &Path| {
        let mut command = Command::new("/usr/bin/true");
        command.current_dir(dir);
        if let Some(confinement) = confinement {
            confinement.apply(&mut command);
        }
        let _ = command.status();
    };
    let plain = mean(runs, || run_true(None, workspace.path()));
    let without_cgroup = Support {
        process_limit: ProcessLimit::Rlimit,
        ..support.clone()
    };
    let confined = mean(runs, || {
        if let Ok(mut confinement) = Confinement::prepare_with(&policy, &without_cgroup) {
            run_true(Some(&mut confinement), workspace.path());
        }
    });
    println!("runs: {runs}  support: {support:?}");
    println!("unconfined:                       {plain:?} per command");
    println!(
        "confined, no pids cgroup:         {confined:?} per command (overhead {:?})",
        confined.saturating_sub(plain)
    );
    if support.network_namespace {
        let mut net_policy = policy.clone();
        net_policy.allow_net = vec!["example.org".to_owned()];
        let proxied = mean(runs, || {
            if let Ok(mut confinement) = Confinement::prepare_with(&net_policy, &without_cgroup) {
                run_true(Some(&mut confinement), workspace.path());
            }
        });
        println!(
            "confined with allow_net (proxy):  {proxied:?} per command (overhead {:?})",
            proxied.saturating_sub(plain)
        );
    }
    if support.process_limit == ProcessLimit::Cgroup {
        let with_cgroup = mean(runs, || {
            if let Ok(mut confinement) = Confinement::prepare_with(&policy, &support) {
                run_true(Some(&mut confinement), workspace.path());
            }
        });
        println!(
            "confined, pids cgroup (root):     {with_cgroup:?} per command (overhead {:?})",
            with_cgroup.saturating_sub(plain)
        );
    }
}
