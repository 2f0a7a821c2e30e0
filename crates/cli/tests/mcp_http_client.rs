//! LocalGPT's agent calling the tools of an MCP server over Streamable HTTP (`[[mcp.servers]]`
//! with `url` and `headers`), end to end: the real binary, the scripted model, and a server built
//! with the official MCP Python SDK (tests/mcp/tool_server.py `--http`) that answers 401 without
//! the right bearer token. The token comes from `${VAR}` in `headers`, reaches the server, and
//! never reaches the model or the logs; a wrong token, a URL nobody answers and a non-HTTP URL
//! are reported by `mcp list` without hiding the working server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Child, Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use common::{localgpt, run_ok};
use localgpt_provider_script::{Script, ScriptedServer, Turn};
use serde_json::{Value, json};

const TOKEN: &str = "mcp-bearer-planted-5521";

/// The test server over HTTP on a free port; killed when dropped.
struct HttpServer {
    child: Child,
    port: u16,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server() -> HttpServer {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/mcp/tool_server.py");
    let child = StdCommand::new("python3")
        .arg(script)
        .args(["--http", &port.to_string()])
        .env("MCP_TEST_TOKEN", TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 with the mcp package (scripts/setup.sh installs it)");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the HTTP MCP server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    HttpServer { child, port }
}

fn home_with(model: &ScriptedServer, servers: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        format!(
            "[agent]\ndefault_model = \"openai/gpt-test\"\n\n[providers.openai]\nbase_url = \"{}\"\napi_key = \"sk-test\"\n\n[memory]\nembedding = \"none\"\n{servers}",
            model.url("v1")
        ),
    )
    .unwrap();
    std::fs::create_dir_all(home.path().join("workspace")).unwrap();
    home
}

fn entry(name: &str, url: &str, header: &str) -> String {
    format!(
        "\n[[mcp.servers]]\nname = \"{name}\"\nurl = \"{url}\"\ntimeout = \"20s\"\nheaders = {{ Authorization = \"{header}\" }}\n"
    )
}

#[test]
fn a_url_server_with_a_token_from_the_environment_serves_the_agent() {
    let http = start_server();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let model = runtime.block_on(ScriptedServer::start(
        Script::new()
            .turn(Turn::reply().and_tool_call_pieces(
                Some("call_0"),
                "web__add",
                [json!({"a": 2, "b": 40}).to_string()],
            ))
            .turn(Turn::text(["It is 42."])),
    ));
    let url = format!("http://127.0.0.1:{}/mcp", http.port);
    let servers = format!(
        "{}{}{}{}",
        entry("web", &url, "Bearer ${MCP_TOKEN}"),
        entry("wrong", &url, "Bearer not-the-token"),
        entry("nobody", "http://127.0.0.1:9/mcp", "Bearer x"),
        entry("files", "file:///etc/passwd", "Bearer x"),
    );
    let home = home_with(&model, &servers);

    let listed = run_ok(
        localgpt(home.path())
            .env("MCP_TOKEN", TOKEN)
            .args(["mcp", "list", "--json"]),
    );
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let names: Vec<&str> = listed[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|tool| tool["name"].as_str())
        .collect();
    assert!(names.contains(&"web__add"), "{listed}");
    assert!(
        listed[1]["error"].as_str().unwrap().contains("401"),
        "{listed}"
    );
    assert!(listed[2]["error"].is_string(), "{listed}");
    assert!(
        listed[3]["error"]
            .as_str()
            .unwrap()
            .contains("http or https"),
        "{listed}"
    );

    let output = run_ok(localgpt(home.path()).env("MCP_TOKEN", TOKEN).args([
        "ask",
        "--json",
        "What is 2 + 40?",
    ]));
    let reply: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(reply["answer"], "It is 42.", "{reply}");
    let requests = model.requests();
    let last = requests.last().unwrap().body.to_string();
    assert!(last.contains("the sum is 42"), "{last}");
    for request in &requests {
        assert!(
            !request.body.to_string().contains(TOKEN),
            "the token reached the model"
        );
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains(TOKEN), "{stderr}");
    for entry in walk(home.path()) {
        let text = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&text).contains(TOKEN),
            "the token was written to {}",
            entry.display()
        );
    }
}

fn walk(root: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}
