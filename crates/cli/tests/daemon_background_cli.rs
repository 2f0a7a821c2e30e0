//! The daemon's background work, end to end: the heartbeat (no model call when nothing is due,
//! tool scope, reports delivered to the event log and Telegram once) and scheduled jobs with only
//! their declared tools.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{daemon_home as home_for, daemon_url, get, localgpt, start_daemon};
use localgpt_provider_script::{FakeTelegram, Script, ScriptedServer, Turn};
use serde_json::Value;

#[test]
fn a_heartbeat_works_open_tasks_and_costs_nothing_when_none_are_due() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(ScriptedServer::start(
        Script::new()
            .turn(Turn::tool_call(
                "edit_file",
                r#"{"path":"HEARTBEAT.md","old_text":"- [ ] Water the plants","new_text":"- [x] Water the plants"}"#,
            ))
            .turn(Turn::text(["HEARTBEAT_OK"]).usage(200, 3))
            .turn(Turn::tool_call("bash", r#"{"command":"touch hacked"}"#))
            .turn(Turn::text(["The backup task needs you: I may not run commands."]))
            .turn(Turn::text(["The backup task needs you: I may not run commands."])),
    ));
    let telegram = runtime.block_on(FakeTelegram::start()).unwrap();
    let home = home_for(
        &server,
        &format!(
            "\n[telegram]\nbot_token = \"123:SECRET\"\nowner_ids = [42]\napi_url = \"{}\"\n",
            telegram.url()
        ),
    );
    let heartbeat_file = home.path().join("workspace/HEARTBEAT.md");

    // Nothing due: no model call at all.
    std::fs::write(&heartbeat_file, "# Heartbeat\n\n- [x] Done long ago\n").unwrap();
    let out = localgpt(home.path())
        .args(["daemon", "heartbeat"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("skipped"));
    assert_eq!(server.request_count(), 0);

    // An open task is worked and ticked; HEARTBEAT_OK is not delivered.
    std::fs::write(&heartbeat_file, "# Heartbeat\n\n- [ ] Water the plants\n").unwrap();
    let out = localgpt(home.path())
        .args(["daemon", "heartbeat", "--json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["outcome"]["kind"], "ok", "{report}");
    assert!(report["tokens"].as_u64().unwrap() >= 203);
    assert!(
        std::fs::read_to_string(&heartbeat_file)
            .unwrap()
            .contains("- [x] Water the plants")
    );
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(home.path().join("state/heartbeat.json")).unwrap(),
    )
    .unwrap();
    assert!(state["total_tokens"].as_u64().unwrap() >= 203);

    // A tool outside the heartbeat's scope is refused; the report is delivered once.
    std::fs::write(&heartbeat_file, "# Heartbeat\n\n- [ ] Check the backup\n").unwrap();
    let out = localgpt(home.path())
        .args(["daemon", "heartbeat"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("The backup task needs you"));
    assert!(!home.path().join("workspace/hacked").exists());
    let requests = server.requests();
    let offered: Vec<String> = requests[2].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["function"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(!offered.contains(&"bash".to_owned()), "{offered:?}");
    assert!(requests[3].body.to_string().contains("not available"));
    // Delivered to the owner's Telegram chat, and kept in the event log.
    let sent = telegram.calls();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].method, "sendMessage");
    assert_eq!(sent[0].token, "123:SECRET");
    assert_eq!(sent[0].body["chat_id"], 42);
    assert!(
        sent[0].body["text"]
            .as_str()
            .unwrap()
            .contains("The backup task needs you"),
        "{sent:?}"
    );
    let events = std::fs::read_to_string(home.path().join("state/events.jsonl")).unwrap();
    assert_eq!(events.lines().count(), 1);
    let again = localgpt(home.path())
        .args(["daemon", "heartbeat"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("already reported"));
    assert_eq!(telegram.count("sendMessage"), 1);

    // The daemon serves the log.
    let _running = start_daemon(home.path());
    let (code, events) = get(&format!("{}/api/events", daemon_url(home.path())), &[]);
    assert_eq!(code, 200);
    assert_eq!(events[0]["kind"], "heartbeat");
    assert_eq!(events[0]["source"], "heartbeat");
    assert!(
        events[0]["text"]
            .as_str()
            .unwrap()
            .contains("The backup task needs you")
    );
    let log = std::fs::read_to_string(home.path().join("state/logs/daemon.log")).unwrap();
    assert!(!log.contains("SECRET"), "{log}");
}

#[test]
fn jobs_list_and_run_with_only_their_declared_tools() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(ScriptedServer::start(
        Script::new()
            .turn(Turn::tool_call(
                "write_file",
                r#"{"path":"job-wrote.md","content":"x"}"#,
            ))
            .turn(Turn::text(["Digest ready."])),
    ));
    let home = home_for(
        &server,
        "\n[[jobs]]\nname = \"digest\"\nschedule = \"0 8 * * *\"\nprompt = \"Summarise yesterday\"\ntools = [\"memory_search\"]\n",
    );
    let list = localgpt(home.path())
        .args(["jobs", "list", "--json"])
        .output()
        .unwrap();
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    let jobs: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(jobs[0]["name"], "digest");
    assert!(jobs[0]["next_run"].as_str().unwrap().contains("T"));
    assert!(jobs[0]["last_run"].is_null());

    let run = localgpt(home.path())
        .args(["jobs", "run", "digest"])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "Digest ready.");
    assert!(!home.path().join("workspace/job-wrote.md").exists());
    let offered = server.requests()[0].body["tools"].clone();
    assert_eq!(offered.as_array().unwrap().len(), 1);
    assert_eq!(offered[0]["function"]["name"], "memory_search");
    let list = localgpt(home.path())
        .args(["jobs", "list", "--json"])
        .output()
        .unwrap();
    let jobs: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(jobs[0]["last_outcome"], "ok");

    let missing = localgpt(home.path())
        .args(["jobs", "run", "nosuch"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("configured: digest"));
}
