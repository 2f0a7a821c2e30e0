//! The network escape suite: a confined shell with `allow_net` listing one real HTTP server on
//! 127.0.0.1 reaches it through LocalGPT's filtering proxy (curl, python, CONNECT and absolute
//! URIs), and every other way out fails — an unlisted loopback port, the listed server without
//! the proxy, any direct TCP, CONNECT to the metadata address, to `::1`, to a listed name that
//! resolves to loopback, to the listed host on another port, UDP — each with a clear message.
//! The proxy is gone once the command ends. Prints "0 escapes of N attempts".

#![allow(clippy::unwrap_used, clippy::expect_used)]
mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use localgpt_core::config::{SandboxConfig, SandboxLevel};
use std::ffi::OsStr;

use localgpt_sandbox::{Confinement, Policy, ProcessLimit, SandboxError, Support};
use support::{Outcome, run_to_end};

/// A real HTTP server on 127.0.0.1 that counts connections and answers `BODY PATH`.
struct Server {
    port: u16,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(body: &'static str) -> Self {
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

    fn connections(&self) -> usize {
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

struct Lab {
    _root: tempfile::TempDir,
    home: PathBuf,
    workspace: PathBuf,
}

fn lab() -> Lab {
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

fn policy(lab: &Lab, level: SandboxLevel, allow_net: &[String]) -> Policy {
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
fn run_with(confinement: Confinement, script: &str, lab: &Lab) -> Outcome {
    let mut command = Command::new("bash");
    command.arg("-c").arg(script).current_dir(&lab.workspace);
    let env: [(&str, &OsStr); 2] = [
        ("HOME", lab.home.as_os_str()),
        ("PATH", OsStr::new("/usr/bin:/bin")),
    ];
    run_to_end(confinement, command, &env, Duration::from_secs(60))
}

fn run(policy: &Policy, script: &str, lab: &Lab) -> Outcome {
    run_with(Confinement::prepare(policy).unwrap(), script, lab)
}

fn require_kernel() {
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
fn raw_request(request: &str) -> String {
    format!(
        "python3 -c \"import socket,os;s=socket.create_connection(('127.0.0.1',3128),5);\
         s.sendall(b'{request}');print(s.recv(4096).decode().splitlines()[0])\""
    )
}

#[test]
fn listed_server_is_reached_through_the_proxy_by_curl_python_and_connect() {
    require_kernel();
    let lab = lab();
    let listed = Server::start("LISTED-OK");
    let allow = [format!("127.0.0.1:{}", listed.port)];
    let policy = policy(&lab, SandboxLevel::Strict, &allow);
    let port = listed.port;
    let cases = [
        (
            "curl, absolute URI (http_proxy)",
            format!("curl -sS --max-time 20 http://127.0.0.1:{port}/curl"),
            "/curl",
        ),
        (
            "curl, CONNECT tunnel",
            format!("curl -sS --max-time 20 -p http://127.0.0.1:{port}/tunnel"),
            "/tunnel",
        ),
        (
            "python urllib (HTTP_PROXY)",
            format!(
                "python3 -c \"import urllib.request as u;\
                 print(u.urlopen('http://127.0.0.1:{port}/py',timeout=20).read().decode())\""
            ),
            "/py",
        ),
        (
            "python http.client CONNECT",
            format!(
                "python3 -c \"import http.client as h;c=h.HTTPConnection('127.0.0.1',3128,timeout=20);\
                 c.set_tunnel('127.0.0.1',{port});c.request('GET','/pytunnel');\
                 print(c.getresponse().read().decode())\""
            ),
            "/pytunnel",
        ),
    ];
    for (name, script, path) in cases {
        let outcome = run(&policy, &script, &lab);
        assert!(
            outcome.stdout.contains(&format!("LISTED-OK {path}")),
            "{name}: exit {:?}\n{}",
            outcome.code,
            outcome.text()
        );
    }
    // The command sees the proxy, and the origin never sees proxy credentials.
    let outcome = run(&policy, "env | grep -i _proxy | sort", &lab);
    for line in [
        "HTTP_PROXY=http://127.0.0.1:3128",
        "HTTPS_PROXY=http://127.0.0.1:3128",
        "http_proxy=http://127.0.0.1:3128",
        "https_proxy=http://127.0.0.1:3128",
        "NO_PROXY=",
    ] {
        assert!(
            outcome.stdout.lines().any(|l| l == line),
            "{line}\n{}",
            outcome.stdout
        );
    }
    let outcome = run(
        &policy,
        &format!(
            "curl -sS --max-time 20 -U user:pw --proxy-user u:p http://127.0.0.1:{port}/creds"
        ),
        &lab,
    );
    assert!(
        outcome.stdout.contains("LISTED-OK /creds"),
        "{}",
        outcome.text()
    );
    let requests = listed
        .requests
        .lock()
        .unwrap()
        .join("\n")
        .to_ascii_lowercase();
    assert!(!requests.contains("proxy-authorization"), "{requests}");
    assert!(!requests.contains("proxy-connection"), "{requests}");
}

#[test]
fn no_way_around_the_proxy_or_its_allowlist() {
    require_kernel();
    let lab = lab();
    let listed = Server::start("LISTED-OK");
    let unlisted = Server::start("UNLISTED-LEAK");
    let (port, other) = (listed.port, unlisted.port);
    // `localhost:PORT` is listed too: a name, so it must resolve to a public address.
    let allow = [format!("127.0.0.1:{port}"), format!("localhost:{port}")];
    let policy = policy(&lab, SandboxLevel::Strict, &allow);
    let mut attempts = 0;
    let mut escapes = Vec::new();
    // Through the proxy: each must be refused with the proxy's reason (`needle`).
    let refused = [
        (
            "unlisted loopback port (absolute URI)",
            format!("curl -sS --max-time 20 http://127.0.0.1:{other}/x"),
            "is not allowed by [sandbox] allow_net",
        ),
        (
            "unlisted loopback address (CONNECT)",
            raw_request(&format!("CONNECT 127.0.0.2:{port} HTTP/1.1\\r\\n\\r\\n")),
            "127.0.0.2 is not in [sandbox] allow_net",
        ),
        (
            "CONNECT to the metadata address",
            raw_request("CONNECT 169.254.169.254:80 HTTP/1.1\\r\\n\\r\\n"),
            "169.254.169.254 is not in [sandbox] allow_net",
        ),
        (
            "metadata address as an absolute URI",
            "curl -sS --max-time 20 http://169.254.169.254/latest/meta-data/".to_owned(),
            "not in [sandbox] allow_net",
        ),
        (
            "CONNECT to ::1 on the listed port",
            raw_request(&format!("CONNECT [::1]:{port} HTTP/1.1\\r\\n\\r\\n")),
            "not in [sandbox] allow_net",
        ),
        (
            "CONNECT to a listed name that resolves to loopback",
            raw_request(&format!("CONNECT localhost:{port} HTTP/1.1\\r\\n\\r\\n")),
            "resolves to a private, loopback or link-local address",
        ),
        (
            "listed name that resolves to loopback, via curl",
            format!("curl -sS --max-time 20 http://localhost:{port}/x"),
            "resolves to a private",
        ),
        (
            "listed host on a different port",
            raw_request(&format!("CONNECT 127.0.0.1:{other} HTTP/1.1\\r\\n\\r\\n")),
            &format!("port {other} of 127.0.0.1 is not allowed"),
        ),
        (
            "numeric spelling of the listed address",
            raw_request(&format!("CONNECT 2130706433:{port} HTTP/1.1\\r\\n\\r\\n")),
            "not in [sandbox] allow_net",
        ),
        (
            "IPv4-mapped spelling of the listed address",
            raw_request(&format!(
                "CONNECT [::ffff:127.0.0.1]:{port} HTTP/1.1\\r\\n\\r\\n"
            )),
            "not in [sandbox] allow_net",
        ),
        (
            "credentials in the URL",
            raw_request(&format!(
                "GET http://a:b@127.0.0.1:{port}/x HTTP/1.1\\r\\n\\r\\n"
            )),
            "user name or password",
        ),
        (
            "header injection in the CONNECT target",
            raw_request("CONNECT evil.test\\r\\nX-Y: 1:80 HTTP/1.1\\r\\n\\r\\n"),
            "localgpt sandbox",
        ),
    ];
    for (name, script, needle) in refused {
        let before = (listed.connections(), unlisted.connections());
        let outcome = run(&policy, &script, &lab);
        let text = outcome.text();
        attempts += 1;
        let leaked = text.contains("LISTED-OK")
            || text.contains("UNLISTED-LEAK")
            || (listed.connections(), unlisted.connections()) != before;
        let told = text.contains("localgpt sandbox") && text.contains(needle);
        println!(
            "{} {name}: {}",
            if leaked { "ESCAPED" } else { "blocked" },
            text.trim()
        );
        if leaked {
            escapes.push(name.to_owned());
        }
        // The raw requests print the status line, curl's absolute-URI requests the body:
        // both carry the reason.
        assert!(told, "{name}: no clear reason:\n{text}");
    }

    // Around the proxy: the kernel refuses.
    let direct = [
        (
            "listed server without the proxy (curl --noproxy)",
            format!("curl -sS --max-time 10 --noproxy '*' http://127.0.0.1:{port}/direct"),
        ),
        (
            "listed server without the proxy (bash /dev/tcp)",
            format!("echo hi > /dev/tcp/127.0.0.1/{port}"),
        ),
        (
            "unlisted server without the proxy (python)",
            format!("python3 -c \"import socket;socket.create_connection(('127.0.0.1',{other}),5)\""),
        ),
        (
            "listed server over IPv6-mapped address",
            format!(
                "python3 -c \"import socket;s=socket.socket(socket.AF_INET6);s.settimeout(5);\
                 s.connect(('::ffff:127.0.0.1',{port}))\""
            ),
        ),
        (
            "a public address on the proxy's port",
            "python3 -c \"import socket;socket.create_connection(('1.1.1.1',3128),5)\"".to_owned(),
        ),
        (
            "a private address on the proxy's port",
            "python3 -c \"import socket;socket.create_connection(('10.0.0.1',3128),5)\"".to_owned(),
        ),
        (
            "the metadata address directly",
            "python3 -c \"import socket;socket.create_connection(('169.254.169.254',80),5)\""
                .to_owned(),
        ),
        (
            "UDP datagram to the listed server",
            format!(
                "python3 -c \"import socket;socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\
                 .sendto(b'x',('127.0.0.1',{port}))\" && echo sent-udp"
            ),
        ),
        (
            "UDP DNS query",
            "python3 -c \"import socket;socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\
             .sendto(b'x',('8.8.8.8',53))\" && echo sent-udp"
                .to_owned(),
        ),
        (
            "raw socket",
            "python3 -c \"import socket;socket.socket(socket.AF_INET,socket.SOCK_RAW,1)\" && echo raw-ok"
                .to_owned(),
        ),
        (
            "a listener of its own for others to reach",
            "python3 -c \"import socket;s=socket.socket();s.bind(('0.0.0.0',0));s.listen()\" && echo bound"
                .to_owned(),
        ),
    ];
    for (name, script) in direct {
        let before = (listed.connections(), unlisted.connections());
        let outcome = run(&policy, &script, &lab);
        let text = outcome.text();
        attempts += 1;
        let leaked = text.contains("LISTED-OK")
            || text.contains("sent-udp")
            || text.contains("raw-ok")
            || text.contains("bound")
            || outcome.code == Some(0)
            || (listed.connections(), unlisted.connections()) != before;
        println!(
            "{} {name}: {}",
            if leaked { "ESCAPED" } else { "blocked" },
            text.trim()
        );
        if leaked {
            escapes.push(name.to_owned());
        }
        assert!(
            [
                "Permission denied",
                "Operation not permitted",
                "unreachable",
                "Failed to connect"
            ]
            .iter()
            .any(|words| text.contains(words)),
            "{name}: no clear error:\n{text}"
        );
    }
    println!("{} escapes of {attempts} attempts", escapes.len());
    assert!(escapes.is_empty(), "escaped: {escapes:?}");
}

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
