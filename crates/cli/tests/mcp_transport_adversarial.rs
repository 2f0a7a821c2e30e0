//! The MCP transports under misuse, without an SDK: `localgpt mcp-server` keeps answering after
//! garbage, batches, oversized lines, calls before `initialize` and unknown methods; the daemon's
//! `/mcp` with the default config (the local user is the owner, no token) refuses a web page on
//! another origin and a rebound host name, and its sessions can be neither skipped, forged nor
//! used after they end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::process::Stdio;

use common::raw_http::{Answer, SAFETY, read_answer};
use common::{daemon_home, daemon_url, start_daemon};
use localgpt_provider_script::{Script, ScriptedServer};
use serde_json::{Value, json};

fn home() -> tempfile::TempDir {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(ScriptedServer::start(Script::new()));
    daemon_home(&server, "[heartbeat]\nenabled = false\n")
}

#[test]
fn the_stdio_server_survives_malformed_input_and_answers_in_order() {
    let home = home();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_localgpt"))
        .arg("mcp-server")
        .env("LOCALGPT_HOME", home.path())
        .env("HOME", home.path())
        .env("OLLAMA_HOST", "127.0.0.1:1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let huge = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":99,\"method\":\"ping\",\"params\":{{\"x\":\"{}\"}}}}",
        "a".repeat(5 * 1024 * 1024)
    );
    let lines = [
        "{".to_owned(),
        r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":3,"method":"initialize","params":{"protocolVersion":"1999-01-01","clientInfo":{"name":"raw"}}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_owned(),
        huge,
        r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"bash","arguments":{"command":"id"}}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"memory_get","arguments":"MEMORY.md"}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":6,"method":"shell/exec"}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"memory_get","arguments":{"path":"MEMORY.md"}}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":8,"method":"ping"}"#.to_owned(),
    ];
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        for line in lines {
            stdin.write_all(line.as_bytes()).unwrap();
            stdin.write_all(b"\n").unwrap();
        }
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let answers: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(
        answers.len(),
        10,
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let code = |n: usize| answers[n]["error"]["code"].as_i64();
    assert_eq!(code(0), Some(-32700), "garbage: {}", answers[0]);
    assert_eq!(code(1), Some(-32600), "batch: {}", answers[1]);
    assert_eq!(code(2), Some(-32600), "before initialize: {}", answers[2]);
    assert_eq!(answers[3]["result"]["protocolVersion"], "2025-11-25");
    assert_eq!(code(4), Some(-32600), "oversized: {}", answers[4]);
    assert_eq!(
        (answers[5]["id"].clone(), code(5)),
        (json!(4), Some(-32602))
    );
    assert_eq!(
        (answers[6]["id"].clone(), code(6)),
        (json!(5), Some(-32602))
    );
    assert_eq!(
        (answers[7]["id"].clone(), code(7)),
        (json!(6), Some(-32601))
    );
    assert_eq!(answers[8]["id"], 7);
    let text = answers[8]["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("The canoe is in the boathouse"), "{text}");
    assert_eq!(answers[9], json!({"jsonrpc": "2.0", "id": 8, "result": {}}));
}

/// Sends a raw HTTP request to `address` with `headers` (one per line) and `body`.
fn raw(address: &str, method: &str, headers: &str, body: &str) -> Answer {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(SAFETY)).unwrap();
    let request = format!(
        "{method} /mcp HTTP/1.1\r\n{headers}content-type: application/json\r\naccept: application/json, text/event-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    read_answer(stream)
}

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"page"}}}"#;
const READ_MEMORY: &str = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"memory_get","arguments":{"path":"MEMORY.md"}}}"#;

#[test]
fn the_daemons_mcp_refuses_other_origins_and_forged_or_ended_sessions() {
    let home = home();
    let _daemon = start_daemon(home.path());
    let base = daemon_url(home.path());
    let address = base.trim_start_matches("http://").to_owned();
    let own_host = format!("host: {address}\r\n");

    // A page elsewhere, a rebound DNS name, or a look-alike of the daemon's own origin.
    for headers in [
        format!("{own_host}origin: http://evil.example\r\n"),
        format!("{own_host}origin: null\r\n"),
        format!("{own_host}origin: https://{address}\r\n"),
        "host: evil.example\r\n".to_owned(),
        format!(
            "host: localhost.evil.example:{}\r\n",
            address.rsplit(':').next().unwrap()
        ),
    ] {
        for body in [INITIALIZE, READ_MEMORY] {
            let answer = raw(&address, "POST", &headers, body);
            assert_eq!(answer.status, 401, "{headers:?}: {answer:?}");
            assert!(!answer.body.contains("canoe"), "{answer:?}");
        }
    }

    // The local user (the daemon's own origin, or no page at all) is the owner.
    let opened = raw(&address, "POST", &own_host, INITIALIZE);
    assert_eq!(opened.status, 200, "{opened:?}");
    let session = opened.header("mcp-session-id").unwrap().to_owned();
    let with_session = format!("{own_host}mcp-session-id: {session}\r\n");
    let note = raw(
        &address,
        "POST",
        &with_session,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    );
    assert_eq!(note.status, 202, "{note:?}");
    let read = raw(&address, "POST", &with_session, READ_MEMORY);
    assert_eq!(read.status, 200, "{read:?}");
    assert!(
        read.body.contains("The canoe is in the boathouse"),
        "{read:?}"
    );

    // No session, a forged one, one with a different case or padding: refused, nothing read.
    for headers in [
        own_host.clone(),
        format!("{own_host}mcp-session-id: {}\r\n", "0".repeat(32)),
        format!("{own_host}mcp-session-id: {}\r\n", session.to_uppercase()),
        format!("{own_host}mcp-session-id: {session}x\r\n"),
    ] {
        let answer = raw(&address, "POST", &headers, READ_MEMORY);
        assert!(
            matches!(answer.status, 400 | 404),
            "{headers:?}: {answer:?}"
        );
        assert!(!answer.body.contains("canoe"), "{answer:?}");
    }
    // No server-to-client stream is offered.
    let stream = raw(&address, "GET", &with_session, "");
    assert_eq!(stream.status, 405, "{stream:?}");
    // A page elsewhere cannot end the owner's session; the owner can, and then it is gone.
    let foreign = raw(
        &address,
        "DELETE",
        &format!("{with_session}origin: http://evil.example\r\n"),
        "",
    );
    assert_eq!(foreign.status, 401, "{foreign:?}");
    let ended = raw(&address, "DELETE", &with_session, "");
    assert_eq!(ended.status, 204, "{ended:?}");
    let after = raw(&address, "POST", &with_session, READ_MEMORY);
    assert_eq!(after.status, 404, "{after:?}");
    assert!(!after.body.contains("canoe"), "{after:?}");
}
