//! The escape suite: real attacks from a confined shell on this kernel — reading planted secrets
//! outside the roots, in `~/.ssh` and in LocalGPT's own config and state, writing outside, symlink
//! and hard-link tricks, `/proc`, loopback TCP and UNIX sockets, ptrace of the parent, namespaces,
//! and fork, memory and CPU bombs. Every attempt must fail; the suite prints
//! "0 escapes of N attempts".

#![allow(clippy::unwrap_used, clippy::expect_used)]
mod support;

use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use localgpt_core::config::{SandboxConfig, SandboxLevel};
use std::ffi::OsStr;

use localgpt_sandbox::{Confinement, Policy, Support};
use support::{Outcome, run_to_end};

const SECRET: &str = "PLANTED-SECRET-4b1d";
const KEY: &str = "sk-ant-ESCAPE-KEY-9f3c";

struct Lab {
    _root: tempfile::TempDir,
    root: PathBuf,
    home: PathBuf,
    workspace: PathBuf,
    outside: PathBuf,
}

fn lab() -> Lab {
    let root_dir = tempfile::tempdir().unwrap();
    let root = root_dir.path().canonicalize().unwrap();
    let home = root.join("home");
    let workspace = home.join(".localgpt/workspace");
    let outside = root.join("outside");
    for dir in [
        &workspace,
        &outside,
        &home.join(".ssh"),
        &home.join(".localgpt/state"),
    ] {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(outside.join("secret.txt"), SECRET).unwrap();
    std::fs::write(home.join("notes.txt"), SECRET).unwrap();
    std::fs::write(home.join(".ssh/id_ed25519"), SECRET).unwrap();
    std::fs::write(home.join(".localgpt/config.toml"), SECRET).unwrap();
    std::fs::write(home.join(".localgpt/state/session.jsonl"), SECRET).unwrap();
    std::os::unix::fs::symlink(home.join(".ssh/id_ed25519"), workspace.join("planted-link"))
        .unwrap();
    Lab {
        _root: root_dir,
        root,
        home,
        workspace,
        outside,
    }
}

fn policy(lab: &Lab, config: &SandboxConfig) -> Policy {
    let own = [
        lab.home.join(".localgpt/config.toml"),
        lab.home.join(".localgpt/state"),
        lab.home.join(".localgpt/models"),
    ];
    Policy::from_config(config, &lab.workspace, Some(&lab.home), &own, |path| {
        PathBuf::from(path)
    })
}

/// Runs `script` under `policy` with HOME pointing at the lab's home, stopping it after 30 s.
fn run(policy: &Policy, script: &str, lab: &Lab) -> Outcome {
    let confinement = Confinement::prepare(policy).unwrap();
    let mut command = Command::new("bash");
    command.arg("-c").arg(script).current_dir(&lab.workspace);
    let env: [(&str, &OsStr); 3] = [
        ("HOME", lab.home.as_os_str()),
        ("LAB", lab.root.as_os_str()),
        ("PATH", OsStr::new("/usr/bin:/bin")),
    ];
    run_to_end(confinement, command, &env, Duration::from_secs(30))
}

struct Tally {
    attempts: usize,
    escapes: Vec<String>,
}

impl Tally {
    fn record(&mut self, name: &str, escaped: bool, outcome: &Outcome) {
        self.attempts += 1;
        let verdict = if escaped { "ESCAPED" } else { "blocked" };
        println!(
            "{verdict:8} {name}: exit {:?} signal {:?} | {} | {}",
            outcome.code,
            outcome.signal,
            outcome.stderr.lines().last().unwrap_or("").trim(),
            outcome.stdout.lines().last().unwrap_or("").trim()
        );
        if escaped {
            self.escapes.push(name.to_owned());
        }
    }
}

fn leaks(outcome: &Outcome) -> bool {
    outcome.stdout.contains(SECRET)
        || outcome.stderr.contains(SECRET)
        || outcome.stdout.contains(KEY)
        || outcome.stderr.contains(KEY)
}

fn python() -> bool {
    Command::new("/usr/bin/python3")
        .arg("--version")
        .output()
        .is_ok()
}

#[test]
fn no_attack_escapes_the_sandbox() {
    let support = Support::detect();
    assert!(
        support.landlock_abi.is_some(),
        "this suite needs Landlock: {support:?}"
    );
    assert!(support.seccomp, "this suite needs seccomp: {support:?}");
    assert!(python(), "this suite needs python3");
    // A provider key and LocalGPT variables in the parent's environment.
    // SAFETY: this test is the only thread touching the environment (nextest runs each test in
    // its own process).
    unsafe {
        std::env::set_var("ANTHROPIC_API_KEY", KEY);
        std::env::set_var("LOCALGPT_API_TOKEN", KEY);
    }
    let lab = lab();
    let mut config = SandboxConfig {
        level: SandboxLevel::Strict,
        env: vec![
            "ANTHROPIC_API_KEY".to_owned(),
            "LOCALGPT_API_TOKEN".to_owned(),
        ],
        ..SandboxConfig::default()
    };
    config.limits.cpu_seconds = 2;
    config.limits.memory_mb = 512;
    config.limits.processes = 32;
    let policy = policy(&lab, &config);
    let mut tally = Tally {
        attempts: 0,
        escapes: Vec::new(),
    };

    // Reading secrets: each prints the secret if it gets through.
    let outside = lab.outside.join("secret.txt");
    let reads = [
        (
            "read a secret outside every root",
            format!("cat {}", outside.display()),
        ),
        (
            "read a file in the home folder",
            "cat \"$HOME/notes.txt\"".to_owned(),
        ),
        ("read ~/.ssh", "cat \"$HOME/.ssh/id_ed25519\"".to_owned()),
        (
            "read LocalGPT's config.toml",
            "cat \"$HOME/.localgpt/config.toml\"".to_owned(),
        ),
        (
            "read LocalGPT's state",
            "cat \"$HOME\"/.localgpt/state/*".to_owned(),
        ),
        (
            "list ~/.ssh",
            "ls -la \"$HOME/.ssh\"; grep -r . \"$HOME/.ssh\"".to_owned(),
        ),
        (
            "relative path out of the workspace",
            "cat ../config.toml ../../.ssh/id_ed25519".to_owned(),
        ),
        ("planted symlink to ~/.ssh", "cat planted-link".to_owned()),
        (
            "symlink made inside the workspace",
            "ln -s \"$HOME/.localgpt/config.toml\" mine && cat mine".to_owned(),
        ),
        (
            "hard link made inside the workspace",
            "ln \"$HOME/.localgpt/config.toml\" hard && cat hard".to_owned(),
        ),
        (
            "/proc/self/root path",
            "cat /proc/self/root\"$HOME/.ssh/id_ed25519\"".to_owned(),
        ),
        (
            "/proc/PPID/environ",
            "cat /proc/$PPID/environ | tr '\\0' '\\n'".to_owned(),
        ),
        (
            "/proc/self/environ",
            "tr '\\0' '\\n' < /proc/self/environ".to_owned(),
        ),
        ("environment variables", "env".to_owned()),
        (
            "python open() of ~/.ssh",
            "python3 -c \"import os;print(open(os.environ['HOME']+'/.ssh/id_ed25519').read())\""
                .to_owned(),
        ),
    ];
    for (name, script) in reads {
        let outcome = run(&policy, &script, &lab);
        tally.record(name, leaks(&outcome), &outcome);
    }
    // System secrets, even for a command running as root.
    for (name, script) in [
        ("read /etc/shadow", "cat /etc/shadow /etc/gshadow"),
        ("read SSH host keys", "cat /etc/ssh/ssh_host_*_key"),
    ] {
        let outcome = run(&policy, script, &lab);
        let escaped = outcome.stdout.contains("root:") || outcome.stdout.contains("PRIVATE KEY");
        tally.record(name, escaped, &outcome);
    }

    // Writing outside.
    let targets = [
        ("write outside every root", lab.outside.join("written")),
        ("write in the home folder", lab.home.join("written")),
        (
            "write LocalGPT's config",
            lab.home.join(".localgpt/config.toml"),
        ),
        (
            "write a system folder as root",
            PathBuf::from("/usr/localgpt-escape"),
        ),
        ("write /etc", PathBuf::from("/etc/localgpt-escape")),
    ];
    for (name, target) in targets {
        let before = std::fs::read(&target).ok();
        let outcome = run(
            &policy,
            &format!("echo pwned > '{}'", target.display()),
            &lab,
        );
        let after = std::fs::read(&target).ok();
        tally.record(name, before != after, &outcome);
        if before.is_none() {
            let _ = std::fs::remove_file(&target);
        }
    }

    // TCP to a loopback listener.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let tcp_scripts = [
        (
            "TCP connect to loopback (bash /dev/tcp)",
            format!("echo hi > /dev/tcp/127.0.0.1/{port}"),
        ),
        (
            "TCP connect to loopback (python)",
            format!(
                "python3 -c \"import socket;socket.create_connection(('127.0.0.1',{port}),2)\""
            ),
        ),
        (
            "TCP connect to loopback over IPv6-mapped address",
            format!(
                "python3 -c \"import socket;s=socket.socket(socket.AF_INET6);s.connect(('::ffff:127.0.0.1',{port}))\""
            ),
        ),
        (
            "UDP datagram to loopback",
            format!(
                "python3 -c \"import socket;socket.socket(socket.AF_INET,socket.SOCK_DGRAM).sendto(b'x',('127.0.0.1',{port}))\" && echo sent-udp"
            ),
        ),
    ];
    for (name, script) in tcp_scripts {
        let outcome = run(&policy, &script, &lab);
        while listener.accept().is_ok() {
            accepted.fetch_add(1, Ordering::SeqCst);
        }
        let escaped = accepted.swap(0, Ordering::SeqCst) > 0 || outcome.stdout.contains("sent-udp");
        tally.record(name, escaped, &outcome);
    }

    // A UNIX socket outside the roots (a local service such as a container daemon).
    let socket_path = lab.outside.join("service.sock");
    let unix = UnixListener::bind(&socket_path).unwrap();
    unix.set_nonblocking(true).unwrap();
    let outcome = run(
        &policy,
        &format!(
            "python3 -c \"import socket;s=socket.socket(socket.AF_UNIX);s.connect('{}')\"",
            socket_path.display()
        ),
        &lab,
    );
    tally.record(
        "connect to a UNIX socket outside",
        unix.accept().is_ok(),
        &outcome,
    );

    // ptrace of the parent, namespaces, mounts.
    let ptrace = "python3 -c \"import ctypes,os;libc=ctypes.CDLL(None,use_errno=True);\
                  r=libc.ptrace(16,os.getppid(),0,0);print('attached' if r==0 else 'denied',ctypes.get_errno())\"";
    let outcome = run(&policy, ptrace, &lab);
    tally.record(
        "ptrace the parent",
        outcome.stdout.contains("attached"),
        &outcome,
    );
    let outcome = run(&policy, "unshare -r -n id && echo unshared", &lab);
    tally.record(
        "new user namespace",
        outcome.stdout.contains("unshared"),
        &outcome,
    );
    let outcome = run(
        &policy,
        "python3 -c \"import ctypes;libc=ctypes.CDLL(None);print('mounted' if libc.mount(b'none',b'/tmp',b'tmpfs',0,None)==0 else 'no')\"",
        &lab,
    );
    tally.record(
        "mount a file system",
        outcome.stdout.contains("mounted"),
        &outcome,
    );
    let outcome = run(&policy, "kill -0 $PPID && echo signalled", &lab);
    tally.record(
        "signal the parent",
        outcome.stdout.contains("signalled"),
        &outcome,
    );

    // Fork bomb (bounded: 300 children that sleep; the limit is 32).
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
        .unwrap_or(0);
    tally.record("fork bomb", forked >= 300, &outcome);

    // Memory bomb: 2 GiB with a 512 MiB limit.
    let outcome = run(
        &policy,
        "python3 -c \"b=bytearray(2<<30);print('allocated',len(b))\"",
        &lab,
    );
    tally.record(
        "memory bomb",
        outcome.stdout.contains("allocated"),
        &outcome,
    );

    // Infinite loop: the CPU limit (2 s) stops it well before the 30 s safety net.
    let outcome = run(&policy, "while :; do :; done", &lab);
    tally.record(
        "infinite loop",
        outcome.signal != Some(libc::SIGXCPU) && outcome.signal != Some(libc::SIGKILL)
            || outcome.code.is_some(),
        &outcome,
    );

    // The workspace itself still works.
    let outcome = run(
        &policy,
        "echo ok > made && cat made && ls /usr/bin >/dev/null && echo listed",
        &lab,
    );
    assert_eq!(outcome.stdout, "ok\nlisted\n", "stderr: {}", outcome.stderr);

    println!(
        "{} escapes of {} attempts{}",
        tally.escapes.len(),
        tally.attempts,
        if tally.escapes.is_empty() {
            String::new()
        } else {
            format!(": {}", tally.escapes.join(", "))
        }
    );
    assert!(tally.escapes.is_empty(), "escapes: {:?}", tally.escapes);
}

#[test]
fn an_allowed_home_folder_still_hides_credentials_and_localgpt_files() {
    let lab = lab();
    let config = SandboxConfig {
        level: SandboxLevel::Strict,
        allow_read: vec![lab.home.display().to_string()],
        ..SandboxConfig::default()
    };
    let policy = policy(&lab, &config);
    // The home folder itself is readable now…
    let outcome = run(&policy, "cat \"$HOME/notes.txt\"", &lab);
    assert_eq!(outcome.stdout, SECRET, "stderr: {}", outcome.stderr);
    // …but not its credential stores nor LocalGPT's config and state.
    for script in [
        "cat \"$HOME/.ssh/id_ed25519\"",
        "cat \"$HOME/.localgpt/config.toml\"",
        "cat \"$HOME/.localgpt/state/session.jsonl\"",
        "cat planted-link",
        "cd \"$HOME\" && grep -r PLANTED .ssh .localgpt/config.toml .localgpt/state",
    ] {
        let outcome = run(&policy, script, &lab);
        assert!(!leaks(&outcome), "{script} leaked: {}", outcome.stdout);
        assert!(
            outcome.stderr.contains("Permission denied"),
            "{script}: {}",
            outcome.stderr
        );
    }
}
