//! The daemon end to end: the real binary started in the background on a free port, in a temp
//! home, answering through the scripted provider server: health, status, chat as JSON and as
//! server-sent events (closing the stream stops the turn), memory search, sessions, one daemon per
//! home, graceful stop, and a restart after kill -9.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{
    Running, agent, daemon_home as home_for, daemon_url, get, localgpt, post, start_daemon,
};
use localgpt_provider_script::{Script, ScriptedServer, Turn};
use serde_json::{Value, json};

#[test]
fn the_daemon_serves_chat_search_and_sessions_and_stops_cleanly() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(ScriptedServer::start(
        Script::new()
            .turn(Turn::tool_call("memory_search", r#"{"query":"canoe"}"#))
            .turn(Turn::text(["In the ", "boathouse."]).usage(30, 4))
            .turn(Turn::text(["Streaming ", "works."])),
    ));
    let home = home_for(&server, "");
    let _running = start_daemon(home.path());
    let base = daemon_url(home.path());
    assert!(daemon_url(home.path()).starts_with("http://127.0.0.1:"));

    assert_eq!(get(&format!("{base}/health"), &[]).0, 200);
    let status = localgpt(home.path())
        .args(["daemon", "status", "--json"])
        .output()
        .unwrap();
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["running"], true);
    assert_eq!(status["model"], "openai/gpt-test");
    // The sandbox's level and what this kernel does not enforce (this CI kernel has Landlock
    // and seccomp, so every gap named is one a user must see).
    assert_eq!(status["sandbox"]["level"], "auto", "{status}");
    assert_eq!(status["sandbox"]["commands_run"], true, "{status}");
    assert!(status["sandbox"]["not_enforced"].is_array(), "{status}");
    let text = localgpt(home.path())
        .args(["daemon", "status"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("sandbox: auto"),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );

    // A second daemon on the same home is refused.
    let second = localgpt(home.path())
        .args(["daemon", "start", "--foreground"])
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("another LocalGPT daemon"));

    // Chat as JSON, with a tool round through the control plane.
    let (code, body) = post(
        &format!("{base}/api/chat"),
        &json!({"message": "Where is the canoe?"}),
        &[],
    );
    assert_eq!(code, 200, "{body}");
    let reply: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(reply["reply"], "In the boathouse.");
    assert_eq!(reply["tool_calls"][0]["name"], "memory_search");
    assert_eq!(reply["tool_calls"][0]["is_error"], false);
    let session = reply["session_id"].as_str().unwrap().to_owned();

    // Chat as server-sent events, continuing the session.
    let (code, body) = post(
        &format!("{base}/api/chat"),
        &json!({"message": "And streaming?", "session_id": session}),
        &[("accept", "text/event-stream")],
    );
    assert_eq!(code, 200);
    assert!(
        body.contains("event: delta\ndata: {\"text\":\"Streaming \"}"),
        "{body}"
    );
    assert!(body.contains("event: done"), "{body}");
    assert!(body.contains("Streaming works."), "{body}");
    // The second request carried the first turn: the session was resumed.
    let last = server.requests().last().unwrap().body.to_string();
    assert!(last.contains("Where is the canoe?"), "{last}");

    // Memory search and sessions.
    let (code, results) = get(
        &format!("{base}/api/memory/search?q=canoe&mode=keyword"),
        &[],
    );
    assert_eq!(code, 200);
    assert_eq!(results["results"][0]["path"], "MEMORY.md");
    // The daemon's watcher indexes new files while it runs.
    std::fs::write(
        home.path().join("workspace/kayak.md"),
        "# Kayak\n\nThe kayak paddles hang in the garage.\n",
    )
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (_, found) = get(
            &format!("{base}/api/memory/search?q=paddles&mode=keyword"),
            &[],
        );
        if found["results"][0]["path"] == "kayak.md" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the new file was not indexed: {found}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let (_, sessions) = get(&format!("{base}/api/sessions"), &[]);
    assert_eq!(sessions.as_array().unwrap().len(), 1);
    assert_eq!(sessions[0]["id"], session.as_str());
    let (code, _) = get(&format!("{base}/api/sessions/..%2F..%2Fconfig.toml"), &[]);
    assert!(code == 400 || code == 404, "{code}");
    // Errors are JSON with a code.
    let (code, body) = post(&format!("{base}/api/chat"), &json!({"message": " "}), &[]);
    assert_eq!(code, 400);
    assert!(body.contains("\"code\":\"bad_request\""), "{body}");

    let stopped = localgpt(home.path())
        .args(["daemon", "stop"])
        .output()
        .unwrap();
    assert!(stopped.status.success());
    assert!(String::from_utf8_lossy(&stopped.stdout).contains("stopped"));
    assert!(!home.path().join("state/daemon.pid").exists());
    let status = localgpt(home.path())
        .args(["daemon", "status"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&status.stdout).contains("not running"));
}

#[test]
fn stopping_lets_a_turn_in_flight_finish_and_its_session_is_kept() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(ScriptedServer::start(Script::new().turn(
        Turn::text(["Slow ", "but complete."]).delay(std::time::Duration::from_millis(300)),
    )));
    let home = home_for(&server, "[heartbeat]\nenabled = false\n");
    let started = localgpt(home.path())
        .args(["daemon", "start"])
        .output()
        .unwrap();
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let base = daemon_url(home.path());
    let chat = std::thread::spawn(move || {
        post(
            &format!("{base}/api/chat"),
            &json!({"message": "take your time"}),
            &[],
        )
    });
    // Stop while the model is still answering.
    std::thread::sleep(std::time::Duration::from_millis(400));
    let stopped = localgpt(home.path())
        .args(["daemon", "stop"])
        .output()
        .unwrap();
    assert!(
        stopped.status.success(),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    let (code, body) = chat.join().unwrap();
    assert_eq!(code, 200, "{body}");
    let reply: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(reply["reply"], "Slow but complete.");
    // The transcript holds the whole turn.
    let id = reply["session_id"].as_str().unwrap();
    let transcript =
        std::fs::read_to_string(home.path().join(format!("state/sessions/{id}.jsonl"))).unwrap();
    assert!(transcript.contains("Slow but complete."));
    assert!(!home.path().join("state/daemon.pid").exists());
}

#[test]
fn after_kill_9_the_daemon_restarts_with_sessions_and_index_intact() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(ScriptedServer::start(
        Script::new()
            .turn(Turn::text(["First answer."]))
            .turn(Turn::text(["Second answer."])),
    ));
    let home = home_for(&server, "[heartbeat]\nenabled = false\n");
    assert!(
        localgpt(home.path())
            .args(["daemon", "start"])
            .output()
            .unwrap()
            .status
            .success()
    );
    let base = daemon_url(home.path());
    let (_, body) = post(&format!("{base}/api/chat"), &json!({"message": "one"}), &[]);
    let session = serde_json::from_str::<Value>(&body).unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let pid = std::fs::read_to_string(home.path().join("state/daemon.pid")).unwrap();
    let pid = pid.lines().next().unwrap().to_owned();
    assert!(
        std::process::Command::new("kill")
            .args(["-9", &pid])
            .status()
            .unwrap()
            .success()
    );
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    // The stale pid file is noticed and a new daemon starts on the same home.
    let restarted = localgpt(home.path())
        .args(["daemon", "start"])
        .output()
        .unwrap();
    assert!(
        restarted.status.success(),
        "{}",
        String::from_utf8_lossy(&restarted.stderr)
    );
    assert!(String::from_utf8_lossy(&restarted.stderr).contains("stale pid file"));
    let _running = Running(home.path());
    let base = daemon_url(home.path());
    let (code, body) = post(
        &format!("{base}/api/chat"),
        &json!({"message": "two", "session_id": session}),
        &[],
    );
    assert_eq!(code, 200, "{body}");
    // The session kept every line and continued; the index still answers.
    let transcript =
        std::fs::read_to_string(home.path().join(format!("state/sessions/{session}.jsonl")))
            .unwrap();
    assert!(transcript.contains("First answer.") && transcript.contains("Second answer."));
    assert!(
        transcript
            .lines()
            .all(|line| serde_json::from_str::<Value>(line).is_ok())
    );
    let (code, found) = get(
        &format!("{base}/api/memory/search?q=canoe&mode=keyword"),
        &[],
    );
    assert_eq!(code, 200);
    assert_eq!(found["results"][0]["path"], "MEMORY.md");
}

#[test]
fn closing_the_event_stream_stops_the_turn() {
    use std::io::BufRead;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(ScriptedServer::start(
        Script::new()
            .turn(Turn::text(["Counting: one, "]).hang())
            .turn(Turn::text(["Next."])),
    ));
    let home = home_for(&server, "");
    let _running = start_daemon(home.path());
    let base = daemon_url(home.path());

    let mut response = agent()
        .post(&format!("{base}/api/chat"))
        .header("content-type", "application/json")
        .header("accept", "text/event-stream")
        .send(json!({"message": "Count forever"}).to_string())
        .unwrap();
    let mut lines = std::io::BufReader::new(response.body_mut().as_reader()).lines();
    let first_delta = lines
        .by_ref()
        .map(Result::unwrap)
        .find(|line| line.starts_with("data: {\"text\""))
        .unwrap();
    assert!(first_delta.contains("Counting"), "{first_delta}");
    drop(lines);
    drop(response);

    // The turn ends as cancelled, its partial answer kept in the session.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let session = loop {
        let (_, sessions) = get(&format!("{base}/api/sessions"), &[]);
        if let Some(id) = sessions[0]["id"].as_str() {
            let (_, transcript) = get(&format!("{base}/api/sessions/{id}"), &[]);
            let text = transcript.to_string();
            if text.contains("aborted") {
                assert!(text.contains("Counting: one"), "{text}");
                break id.to_owned();
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the turn was not stopped"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    // The session is free for the next turn.
    let (code, body) = post(
        &format!("{base}/api/chat"),
        &json!({"message": "Go on", "session_id": session}),
        &[],
    );
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("Next."), "{body}");
}
