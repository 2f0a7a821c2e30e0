//! The filtering proxy around a confined command's life: it is gone once the command ends (a
//! job left behind finds nothing), it stops even when the command never ran, `strict` refuses
//! and `auto` keeps all network blocked without namespaces, malformed `allow_net` entries are
//! refused by name, and the process limit still holds inside the network namespace.

#![allow(clippy::unwrap_used, clippy::expect_used)]
mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use localgpt_core::config::{SandboxConfig, SandboxLevel};
use localgpt_sandbox::{Confinement, Policy, ProcessLimit, SandboxError, Support};

use support::net::{Server, lab, policy, require_kernel, run, run_with};

fn proxy_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|name| name.starts_with("sandbox-proxy"))
        })
        .count()
}

#[test]
fn the_proxy_is_gone_once_the_command_ends() {
    require_kernel();
    let lab = lab();
    let listed = Server::start("LISTED-OK");
    let port = listed.port;
    let policy = policy(&lab, SandboxLevel::Strict, &[format!("127.0.0.1:{port}")]);
    // The command leaves a job behind that tries the proxy after the command has ended. (For
    // root, the pids cgroup would kill the job with the confinement; without it the job lives.)
    let support = Support {
        process_limit: ProcessLimit::Rlimit,
        ..Support::detect()
    };
    let late = lab.workspace.join("late.txt");
    let outcome = run_with(
        Confinement::prepare_with(&policy, &support).unwrap(),
        &format!(
            "curl -sS --max-time 20 http://127.0.0.1:{port}/during; \
             (sleep 2; curl -sS --max-time 5 http://127.0.0.1:{port}/after > late.txt 2>&1; \
              echo \"curl exit $?\" >> late.txt) > /dev/null 2>&1 &"
        ),
        &lab,
    );
    assert!(
        outcome.stdout.contains("LISTED-OK /during"),
        "{}",
        outcome.text()
    );
    // The confinement is dropped: its threads end as soon as their sockets are shut down.
    let started = Instant::now();
    while proxy_threads() > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "proxy threads still running"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let started = Instant::now();
    while !std::fs::read_to_string(&late).is_ok_and(|text| text.contains("curl exit")) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the late job never finished"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let text = std::fs::read_to_string(&late).unwrap();
    assert!(!text.contains("LISTED-OK"), "{text}");
    assert!(!text.contains("curl exit 0"), "{text}");
    let requests = listed.requests.lock().unwrap().join("\n");
    assert!(!requests.contains("/after"), "{requests}");
    assert!(requests.contains("/during"), "{requests}");
}

#[test]
fn without_namespaces_strict_refuses_and_auto_keeps_all_network_blocked() {
    require_kernel();
    let lab = lab();
    let listed = Server::start("LISTED-OK");
    let port = listed.port;
    let allow = [format!("127.0.0.1:{port}")];
    let support = Support {
        network_namespace: false,
        ..Support::detect()
    };
    let strict = policy(&lab, SandboxLevel::Strict, &allow);
    let Err(SandboxError::Unenforceable(gaps)) = Confinement::prepare_with(&strict, &support)
    else {
        panic!("strict ran a command whose allow_net it cannot enforce");
    };
    assert!(gaps.join(" ").contains("allow_net (127.0.0.1:"), "{gaps:?}");
    assert!(
        gaps.join(" ").contains("all network stays blocked"),
        "{gaps:?}"
    );

    let auto = policy(&lab, SandboxLevel::Auto, &allow);
    let confinement = Confinement::prepare_with(&auto, &support).unwrap();
    assert!(!confinement.proxied());
    assert!(
        confinement
            .unenforced()
            .iter()
            .any(|gap| gap.contains("user and network namespace")),
        "{:?}",
        confinement.unenforced()
    );
    let outcome = run_with(
        confinement,
        &format!(
            "env | grep -i _proxy; curl -sS --max-time 10 -x http://127.0.0.1:3128 \
             http://127.0.0.1:{port}/x; curl -sS --max-time 10 http://127.0.0.1:{port}/y"
        ),
        &lab,
    );
    assert!(!outcome.stdout.contains("LISTED-OK"), "{}", outcome.text());
    assert!(!outcome.stdout.contains("PROXY"), "{}", outcome.text());
    assert_eq!(listed.connections(), 0);
}

#[test]
fn malformed_allow_net_entries_are_refused_by_name() {
    let lab = lab();
    let policy = policy(
        &lab,
        SandboxLevel::Auto,
        &["https://example.org/path".to_owned()],
    );
    let error = Confinement::prepare(&policy).unwrap_err().to_string();
    assert!(error.contains("https://example.org/path"), "{error}");
}

#[test]
fn the_process_limit_holds_inside_the_network_namespace() {
    require_kernel();
    let lab = lab();
    let mut config = SandboxConfig {
        level: SandboxLevel::Strict,
        allow_net: vec!["127.0.0.1:9".to_owned()],
        ..SandboxConfig::default()
    };
    config.limits.processes = 32;
    let policy = Policy::from_config(&config, &lab.workspace, Some(&lab.home), &[], |path| {
        PathBuf::from(path)
    });
    // A user namespace of its own must not give the command a fresh process count.
    let fork = "python3 -c \"
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
    let outcome = run(&policy, fork, &lab);
    let forked: usize = outcome
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("forked ")?.trim().parse().ok())
        .unwrap();
    assert!(forked < 300, "{}", outcome.text());
    assert!(outcome.stdout.contains("stopped"), "{}", outcome.text());
}

/// Drops `confinement` on a thread and waits (at most 20 s, a safety net) for it to finish.
fn drop_within_deadline(confinement: Confinement) {
    let (done, wait) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(confinement);
        let _ = done.send(());
    });
    wait.recv_timeout(Duration::from_secs(20))
        .expect("dropping the confinement hung");
}

#[test]
fn a_proxy_whose_command_never_ran_stops_too() {
    require_kernel();
    let lab = lab();
    let policy = policy(&lab, SandboxLevel::Strict, &["127.0.0.1:9".to_owned()]);
    // Applied, never spawned: the proxy still waits for a listener, and stops when dropped.
    let mut confinement = Confinement::prepare(&policy).unwrap();
    assert!(confinement.proxied());
    let mut command = Command::new("true");
    confinement.apply(&mut command);
    drop(command);
    drop_within_deadline(confinement);
    // Spawned, but the program does not exist: the child handed over its listener first.
    let mut confinement = Confinement::prepare(&policy).unwrap();
    let mut command = Command::new("/nonexistent/program");
    confinement.apply(&mut command);
    assert!(command.spawn().is_err());
    drop_within_deadline(confinement);
    let started = Instant::now();
    while proxy_threads() > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "proxy threads still running"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
