//! Trying to freeze the daemon through its tools, end to end: a real daemon whose (scripted)
//! model asks `read_file` for named pipes, a unix socket and `/dev/zero` (through a symlink and
//! directly, with `/dev` inside the tools' roots) from several chats at once. A read that blocked
//! an async worker would stall every request; instead each call must fail at once with a message
//! that says why, while `/health` and `daemon status` keep answering and `daemon stop` works.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{daemon_home, daemon_url, localgpt, start_daemon};
use localgpt_provider_script::{Script, ScriptedServer, Turn};
use serde_json::{Value, json};

/// An HTTP client that gives up after `seconds` (a frozen daemon fails the test, not hangs it).
fn client(seconds: u64) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(seconds)))
        .build()
        .new_agent()
}

/// If something is still blocked reading the FIFO at `path` after a minute, a writer opens it so
/// the read ends and the test can report the failure instead of hanging.
fn unstick_later(path: PathBuf) {
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(60));
        let _ = std::fs::OpenOptions::new().write(true).open(&path);
    });
}

/// What each chat's model asks to read, and the refusal it must be told.
const TARGETS: &[(&str, &str)] = &[
    ("pipe-a.txt", "pipe-a.txt is a named pipe"),
    ("pipe-b.txt", "pipe-b.txt is a named pipe"),
    ("notes/pipe-c.md", "notes/pipe-c.md is a named pipe"),
    ("socket.txt", "socket.txt is a socket"),
    // The symlink is followed and named by what it reaches.
    ("zero.txt", "/dev/zero is a device"),
    ("/dev/zero", "/dev/zero is a device"),
];

#[test]
fn special_files_cannot_freeze_the_daemon() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut script = Script::new();
    for (path, _) in TARGETS {
        script = script.turn(Turn::tool_call(
            "read_file",
            &json!({ "path": path }).to_string(),
        ));
    }
    // The answers after the tool calls take a moment, so the chats are still running while the
    // daemon is probed.
    for _ in TARGETS {
        script = script.turn(Turn::text(["Could not read it."]).delay(Duration::from_secs(2)));
    }
    let server = runtime.block_on(ScriptedServer::start(script));
    let home = daemon_home(&server, "\n[sandbox]\nallow_write = [\"/dev\"]\n");
    let workspace = home.path().join("workspace");
    std::fs::create_dir_all(workspace.join("notes")).unwrap();
    for pipe in ["pipe-a.txt", "pipe-b.txt", "notes/pipe-c.md"] {
        let path = workspace.join(pipe);
        let made = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(made.success());
        unstick_later(path);
    }
    let _socket = std::os::unix::net::UnixListener::bind(workspace.join("socket.txt")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", workspace.join("zero.txt")).unwrap();

    let running = start_daemon(home.path());
    let base = daemon_url(home.path());

    let chats: Vec<_> = (0..TARGETS.len())
        .map(|number| {
            let url = format!("{base}/api/chat");
            std::thread::spawn(move || {
                let mut response = client(120)
                    .post(&url)
                    .header("content-type", "application/json")
                    .send(json!({ "message": format!("Read file {number}") }).to_string())
                    .unwrap();
                let status = response.status().as_u16();
                (status, response.body_mut().read_to_string().unwrap())
            })
        })
        .collect();

    // Wait until every tool call has been handed to the daemon.
    let handed_out = runtime.block_on(async {
        for _ in 0..600 {
            if server.request_count() >= TARGETS.len() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    });
    assert!(handed_out, "the chats never reached the model");

    // The daemon answers while the chats run.
    for _ in 0..3 {
        let health = client(10)
            .get(&format!("{base}/health"))
            .call()
            .expect("/health must answer while tools run");
        assert_eq!(health.status().as_u16(), 200);
        let status = localgpt(home.path())
            .args(["daemon", "status", "--json"])
            .timeout(Duration::from_secs(20))
            .output()
            .unwrap();
        let status: Value = serde_json::from_slice(&status.stdout)
            .unwrap_or_else(|_| panic!("status: {}", String::from_utf8_lossy(&status.stderr)));
        assert_eq!(status["running"], true);
    }

    let mut calls = 0;
    for chat in chats {
        let (status, body) = chat.join().unwrap();
        assert_eq!(status, 200, "{body}");
        let reply: Value = serde_json::from_str(&body).unwrap();
        for call in reply["tool_calls"].as_array().unwrap() {
            assert_eq!(call["name"], "read_file", "{body}");
            assert_eq!(call["is_error"], true, "{body}");
            calls += 1;
        }
    }
    assert_eq!(calls, TARGETS.len());

    // The model was told, for each file, what it is and that only regular files are read.
    let told: Vec<String> = server
        .requests()
        .iter()
        .map(|request| request.body.to_string())
        .collect();
    for (path, refusal) in TARGETS {
        assert!(
            told.iter().any(|body| body.contains(refusal)
                && body.contains("file tools only open regular files")),
            "no clear refusal for {path} in {told:#?}"
        );
    }

    // And the daemon stops when asked.
    let stopped = localgpt(home.path())
        .args(["daemon", "stop"])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert!(
        stopped.status.success(),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    let status = localgpt(home.path())
        .args(["daemon", "status", "--json"])
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["running"], false);
    drop(running);
}
