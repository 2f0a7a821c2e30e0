//! What the network escape suites share: a real HTTP server on 127.0.0.1 that counts its
//! connections and requests, a lab home and workspace, the `allow_net` policy, running a script
//! under it, and the kernel features the suites need.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use localgpt_core::config::{SandboxConfig, SandboxLevel};
use std::ffi::OsStr;

use localgpt_sandbox::{Confinement, Policy, Support};

use super::{Outcome, run_to_end};

/// A real HTTP server on 127.0.0.1 that counts connections and answers `BODY PATH`.
pub struct Server {
    pub port: u16,
    connections: Arc<AtomicUsize>,
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    pub fn start(body: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (count, seen) = (Arc::clone(&connections), Arc::clone(&requests));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                count.fetch_add(1, Ordering::SeqCst);
                let seen = Arc::clone(&seen);
                std::thread::spawn(move || answer(stream, body, &seen));
            }
        });
        Self {
            port,
            connections,
            requests,
        }
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

fn answer(mut stream: TcpStream, body: &str, seen: &Mutex<Vec<String>>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let line = head.lines().next().unwrap_or("").to_owned();
    seen.lock().unwrap().push(head);
    let path = line.split(' ').nth(1).unwrap_or("");
    let text = format!("{body} {path}\n");
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
}

pub struct Lab {
    _root: tempfile::TempDir,
    pub home: PathBuf,
    pub workspace: PathBuf,
}

pub fn lab() -> Lab {
    let root = tempfile::tempdir().unwrap();
    let home = root.path().canonicalize().unwrap().join("home");
    let workspace = home.join(".localgpt/workspace");
    std::fs::create_dir_all(&workspace).unwrap();
    Lab {
        _root: root,
        home,
        workspace,
    }
}

pub fn policy(lab: &Lab, level: SandboxLevel, allow_net: &[String]) -> Policy {
    let config = SandboxConfig {
        level,
        allow_net: allow_net.to_vec(),
        ..SandboxConfig::default()
    };
    Policy::from_config(&config, &lab.workspace, Some(&lab.home), &[], |path| {
        PathBuf::from(path)
    })
}

/// Runs `script` confined by `confinement` (dropped, with its proxy, once the command ends).
pub fn run_with(confinement: Confinement, script: &str, lab: &Lab) -> Outcome {
    let mut command = Command::new("bash");
    command.arg("-c").arg(script).current_dir(&lab.workspace);
    let env: [(&str, &OsStr); 2] = [
        ("HOME", lab.home.as_os_str()),
        ("PATH", OsStr::new("/usr/bin:/bin")),
    ];
    run_to_end(confinement, command, &env, Duration::from_secs(60))
}

pub fn run(policy: &Policy, script: &str, lab: &Lab) -> Outcome {
    run_with(Confinement::prepare(policy).unwrap(), script, lab)
}

pub fn require_kernel() {
    let support = Support::detect();
    assert!(
        support.landlock_abi.is_some(),
        "needs Landlock: {support:?}"
    );
    assert!(support.seccomp, "needs seccomp: {support:?}");
    assert!(
        support.network_namespace,
        "needs user and network namespaces: {support:?}"
    );
    assert!(
        Command::new("/usr/bin/python3")
            .arg("--version")
            .output()
            .is_ok()
    );
    assert!(Command::new("curl").arg("--version").output().is_ok());
}

/// A python one-liner that sends `request` to the proxy and prints the status line it gets.
pub fn raw_request(request: &str) -> String {
    format!(
        "python3 -c \"import socket,os;s=socket.create_connection(('127.0.0.1',3128),5);\
         s.sendall(b'{request}');print(s.recv(4096).decode().splitlines()[0])\""
    )
}
