//! The network escape suite: a confined shell with `allow_net` listing one real HTTP server on
//! 127.0.0.1 reaches it through LocalGPT's filtering proxy (curl, python, CONNECT and absolute
//! URIs), and every other way out fails — an unlisted loopback port, the listed server without
//! the proxy, any direct TCP, CONNECT to the metadata address, to `::1`, to a listed name that
//! resolves to loopback, to the listed host on another port, UDP — each with a clear message.
//! Prints "0 escapes of N attempts". (What happens around the command — the proxy's end, no
//! namespaces, bad entries, the process limit — is in `escape_net_lifecycle.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used)]
mod support;

use localgpt_core::config::SandboxLevel;

use support::net::{Server, lab, policy, raw_request, require_kernel, run};

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
