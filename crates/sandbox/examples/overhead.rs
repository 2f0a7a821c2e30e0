//! Times one confined `true` against an unconfined one, in-process (as the `bash` tool runs
//! them): `cargo run --release -p localgpt-sandbox --example overhead [RUNS]`. The variants run
//! in turn, round after round, so a busy machine slows them alike; it prints the median and mean
//! per command for: unconfined, confined without the pids cgroup (a normal user's case, where
//! `RLIMIT_NPROC` applies), confined with `allow_net` (a network namespace and the filtering
//! proxy, started and stopped per command), and confined with the pids cgroup (root) — and, for
//! the confined variants, where the time goes: preparing the confinement, starting and waiting
//! for the command, dropping the confinement.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use localgpt_sandbox::{Confinement, Policy, ProcessLimit, Support};

/// One way of running `true`, and its timings.
struct Variant {
    name: &'static str,
    policy: Option<Policy>,
    support: Support,
    total: Vec<Duration>,
    prepare: Vec<Duration>,
    run: Vec<Duration>,
    drop: Vec<Duration>,
}

impl Variant {
    fn new(name: &'static str, policy: Option<Policy>, support: Support) -> Self {
        Self {
            name,
            policy,
            support,
            total: Vec::new(),
            prepare: Vec::new(),
            run: Vec::new(),
            drop: Vec::new(),
        }
    }

    fn once(&mut self, dir: &Path) {
        let start = Instant::now();
        let mut confinement = match &self.policy {
            Some(policy) => match Confinement::prepare_with(policy, &self.support) {
                Ok(confinement) => Some(confinement),
                Err(error) => {
                    eprintln!("{}: {error}", self.name);
                    return;
                }
            },
            None => None,
        };
        let prepared = Instant::now();
        let mut command = Command::new("/usr/bin/true");
        command.current_dir(dir);
        if let Some(confinement) = confinement.as_mut() {
            confinement.apply(&mut command);
        }
        let _ = command.status();
        let ran = Instant::now();
        drop(confinement);
        let dropped = Instant::now();
        self.total.push(dropped - start);
        self.prepare.push(prepared - start);
        self.run.push(ran - prepared);
        self.drop.push(dropped - ran);
    }
}

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

fn mean(times: &[Duration]) -> Duration {
    let count = u32::try_from(times.len()).unwrap_or(u32::MAX).max(1);
    times.iter().sum::<Duration>() / count
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
    let without_cgroup = Support {
        process_limit: ProcessLimit::Rlimit,
        ..support.clone()
    };
    let mut variants = vec![
        Variant::new("unconfined", None, support.clone()),
        Variant::new(
            "confined, no pids cgroup",
            Some(policy.clone()),
            without_cgroup.clone(),
        ),
    ];
    if support.network_namespace {
        let mut net_policy = policy.clone();
        net_policy.allow_net = vec!["example.org".to_owned()];
        variants.push(Variant::new(
            "confined with allow_net (proxy)",
            Some(net_policy),
            without_cgroup,
        ));
    }
    if support.process_limit == ProcessLimit::Cgroup {
        variants.push(Variant::new(
            "confined, pids cgroup (root)",
            Some(policy.clone()),
            support.clone(),
        ));
    }
    // One warm-up round, not counted.
    for variant in &mut variants {
        variant.once(workspace.path());
        variant.total.clear();
        variant.prepare.clear();
        variant.run.clear();
        variant.drop.clear();
    }
    for _ in 0..runs {
        for variant in &mut variants {
            variant.once(workspace.path());
        }
    }
    println!("runs: {runs}  support: {support:?}");
    let plain = median(&variants[0].total);
    for variant in &variants {
        let total = median(&variant.total);
        print!(
            "{:33} median {total:>10.2?} (mean {:>10.2?})",
            format!("{}:", variant.name),
            mean(&variant.total)
        );
        if variant.policy.is_some() {
            print!(
                "  overhead {:>9.2?}  [prepare {:.2?}, start+wait {:.2?}, drop {:.2?}]",
                total.saturating_sub(plain),
                median(&variant.prepare),
                median(&variant.run),
                median(&variant.drop)
            );
        }
        println!();
    }
}
