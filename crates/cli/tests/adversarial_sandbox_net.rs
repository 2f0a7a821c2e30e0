//! `[sandbox] allow_net` end to end: a scripted model drives the real `localgpt ask` (level
//! `strict`) to run curl against a listed HTTP server on 127.0.0.1 — reached through the
//! filtering proxy — and against an unlisted port, the listed server without the proxy and the
//! metadata address, which all fail with the proxy's or the kernel's reason in the tool result.
//! Neither server sees a key; `sandbox check` and `sandbox run` say the same.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::localgpt;
use localgpt_provider_script::{Script, ScriptedServer, Turn};

const CONFIG_KEY: &str = "sk-test-CONFIG-NET-5e1f";
const ENV_KEY: &str = "sk-ant-ENV-NET-c0de";

/// A real HTTP server on 127.0.0.1 that keeps every request head and answers `BODY PATH`.
struct Server {
    port: u16,
    connections: Arc<AtomicUsize>,
    heads: Arc<Mutex<Vec<String>>>,
}

fn server(body: &'static str) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let heads = Arc::new(Mutex::new(Vec::new()));
    let (count, seen) = (Arc::clone(&connections), Arc::clone(&heads));
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            count.fetch_add(1, Ordering::SeqCst);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let mut head = Vec::new();
            let mut byte = [0u8];
            while !head.ends_with(b"\r\n\r\n") && matches!(stream.read(&mut byte), Ok(1)) {
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let path = head.split(' ').nth(1).unwrap_or("").to_owned();
            seen.lock().unwrap().push(head);
            let text = format!("{body} {path}\n");
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    Server {
        port,
        connections,
        heads,
    }
}

fn home_for(server_url: &str, sandbox: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        format!(
            "[agent]\ndefault_model = \"openai/gpt-test\"\nrequire_approval = []\nguard_after_untrusted = false\n\n[providers.openai]\nbase_url = \"{server_url}\"\napi_key = \"{CONFIG_KEY}\"\n\n[memory]\nembedding = \"none\"\n\n[sandbox]\n{sandbox}\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(home.path().join("workspace")).unwrap();
    home
}

fn bash(command: &str) -> Turn {
    Turn::tool_call(
        "bash",
        &serde_json::json!({ "command": command }).to_string(),
    )
}

fn check_json(home: &Path) -> serde_json::Value {
    let check = localgpt(home)
        .args(["sandbox", "check", "--json"])
        .output()
        .unwrap();
    serde_json::from_slice(&check.stdout).unwrap()
}

#[test]
fn a_model_driven_shell_reaches_only_the_listed_server_and_only_through_the_proxy() {
    let listed = server("LISTED-OK");
    let unlisted = server("UNLISTED-LEAK");
    let (port, other) = (listed.port, unlisted.port);
    let commands = [
        format!("curl -sS --max-time 20 http://127.0.0.1:{port}/plain"),
        format!("curl -sS --max-time 20 -p http://127.0.0.1:{port}/tunnel"),
        format!("curl -sS --max-time 20 http://127.0.0.1:{other}/unlisted"),
        format!("curl -sS --max-time 10 --noproxy '*' http://127.0.0.1:{port}/direct"),
        "curl -sS --max-time 10 http://169.254.169.254/latest/meta-data/".to_owned(),
        format!(
            "curl -sS --max-time 20 -H \"X-Key: $ANTHROPIC_API_KEY$OPENAI_API_KEY\" \
             http://127.0.0.1:{port}/env"
        ),
    ];
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut script = Script::new();
    for command in &commands {
        script = script.turn(bash(command));
    }
    let model = runtime.block_on(ScriptedServer::start(script.turn(Turn::text(["Done."]))));
    let home = home_for(
        &model.url("v1"),
        &format!("level = \"strict\"\nallow_net = [\"127.0.0.1:{port}\"]"),
    );
    let output = localgpt(home.path())
        .env("ANTHROPIC_API_KEY", ENV_KEY)
        .args(["ask", "--json", "fetch them"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let requests = model.requests();
    assert_eq!(requests.len(), commands.len() + 1);
    // What each command's tool result told the model (the last message of the next request).
    let told: Vec<String> = requests[1..]
        .iter()
        .map(|request| {
            let messages = request.body["messages"].as_array().unwrap();
            messages.last().unwrap()["content"].to_string()
        })
        .collect();
    assert!(told[0].contains("LISTED-OK /plain"), "{}", told[0]);
    assert!(told[1].contains("LISTED-OK /tunnel"), "{}", told[1]);
    assert!(
        told[2].contains(&format!(
            "localgpt sandbox: port {other} of 127.0.0.1 is not allowed by [sandbox] allow_net"
        )),
        "{}",
        told[2]
    );
    assert!(!told[3].contains("LISTED-OK"), "{}", told[3]);
    assert!(told[3].contains("exit code 7"), "{}", told[3]);
    assert!(
        told[4].contains("localgpt sandbox: 169.254.169.254 is not in [sandbox] allow_net"),
        "{}",
        told[4]
    );
    assert!(told[5].contains("LISTED-OK /env"), "{}", told[5]);
    assert_eq!(unlisted.connections.load(Ordering::SeqCst), 0);
    let heads = listed.heads.lock().unwrap().join("\n");
    for path in ["/plain", "/tunnel", "/env"] {
        assert!(heads.contains(path), "{heads}");
    }
    assert!(
        !heads.contains("/direct") && !heads.contains("/unlisted"),
        "{heads}"
    );
    assert!(
        !heads.contains(ENV_KEY) && !heads.contains(CONFIG_KEY),
        "{heads}"
    );
    for request in &requests {
        let body = request.body.to_string();
        assert!(!body.contains(ENV_KEY) && !body.contains(CONFIG_KEY));
    }
    assert_eq!(listed.connections.load(Ordering::SeqCst), 3);

    // `sandbox check` says the proxy is used, and `sandbox run` gets it too.
    let report = check_json(home.path());
    assert_eq!(report["commands_run"], true, "{report}");
    assert_eq!(report["allow_net_proxy"], true, "{report}");
    assert_eq!(report["support"]["network_namespace"], true, "{report}");
    let check = localgpt(home.path())
        .args(["sandbox", "check"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(text.contains("only through the filtering proxy"), "{text}");
    let run = localgpt(home.path())
        .args([
            "sandbox",
            "run",
            "--",
            "curl",
            "-sS",
            "--max-time",
            "20",
            &format!("http://127.0.0.1:{port}/run"),
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&run.stdout).contains("LISTED-OK /run"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
fn without_allow_net_commands_have_no_network_and_no_proxy() {
    let listed = server("LISTED-OK");
    let home = home_for("http://127.0.0.1:1/v1", "level = \"strict\"");
    let run = localgpt(home.path())
        .args([
            "sandbox",
            "run",
            "--",
            "bash",
            "-c",
            &format!(
                "env | grep -i proxy; curl -sS --max-time 10 -x http://127.0.0.1:3128 \
                 http://127.0.0.1:{}/x",
                listed.port
            ),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(!run.status.success());
    assert!(
        !stdout.contains("LISTED-OK") && !stdout.contains("PROXY"),
        "{stdout}"
    );
    assert_eq!(listed.connections.load(Ordering::SeqCst), 0);
    let report = check_json(home.path());
    assert_eq!(report["allow_net_proxy"], false, "{report}");
    let check = localgpt(home.path())
        .args(["sandbox", "check"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(text.contains("none (commands have no network)"), "{text}");
}
