//! The web UI in a real browser (and its markdown renderer's own tests under Node): two real daemons (one open on loopback, one that requires its
//! token) answering through the scripted provider server, driven by `tests/web/ui.mjs` in
//! headless Chromium with playwright-core (installed by `scripts/setup.sh`). Afterwards this
//! checks what the daemon and the provider saw: the approved command ran, the stopped turn was
//! cut, the deleted session is gone.
//!
//! `SCREENSHOTS=docs/screenshots cargo nextest run -p localgpt --test web_ui` refreshes the
//! README's screenshots.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{daemon_home, daemon_url, localgpt, start_daemon};
use localgpt_provider_script::{Script, ScriptedServer, Turn};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn home_for(server: &ScriptedServer, server_section: &str) -> tempfile::TempDir {
    daemon_home(
        server,
        &format!(
            "{server_section}\n[agent.aliases]\nother = \"openai/gpt-other\"\n\n[heartbeat]\nenabled = false\n\n[[jobs]]\nname = \"digest\"\nschedule = \"0 8 * * *\"\nprompt = \"Summarise yesterday\"\ntools = [\"memory_search\"]\n"
        ),
    )
}

#[test]
fn the_markdown_renderer_passes_its_tests() {
    let run = std::process::Command::new("node")
        .args(["--test", "markdown.test.mjs"])
        .current_dir(repository().join("tests/web"))
        .output()
        .expect("node is needed for the web UI tests: run scripts/setup.sh");
    assert!(
        run.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
fn the_web_ui_works_in_headless_chromium() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let streamed = [
        "Here is a **plan**:\n\n",
        "```rust\nfn main() {\n",
        "    println!(\"hi\");\n}\n```\n",
    ];
    let server = runtime.block_on(ScriptedServer::start(
        Script::new()
            .turn(Turn::text(streamed).delay(Duration::from_millis(40)))
            .turn(Turn::tool_call("memory_search", r#"{"query":"canoe"}"#))
            .turn(Turn::text(["The canoe is in the boathouse."]).usage(1200, 34))
            .turn(Turn::tool_call(
                "bash",
                r#"{"command":"echo approved > approved.txt"}"#,
            ))
            .turn(Turn::text(["Done: wrote approved.txt."]))
            .turn(Turn::text(["Counting: one, "]).hang())
            .turn(Turn::status(400).message("scripted refusal"))
            .turn(Turn::text(["Recovered."])),
    ));
    // The guarded daemon answers a stranger through a server of its own.
    let stranger_server = runtime.block_on(ScriptedServer::start(
        Script::new().turn(Turn::text(["A stranger asks where the canoe is."])),
    ));
    let open = home_for(&server, "");
    let guarded = home_for(
        &stranger_server,
        "auth_token = \"web-test-token\"\nallow_local_unauthenticated = false\n",
    );
    // A report of the heartbeat waiting for the owner (the UI marks the Status link).
    std::fs::create_dir_all(open.path().join("state")).unwrap();
    std::fs::write(
        open.path().join("state/events.jsonl"),
        "{\"at\":\"2026-11-25T06:00:00Z\",\"kind\":\"heartbeat\",\"source\":\"heartbeat\",\"text\":\"The milk is low.\"}\n",
    )
    .unwrap();
    let _open_running = start_daemon(open.path());
    let open_url = daemon_url(open.path());
    let _guarded_running = start_daemon(guarded.path());
    let guarded_url = daemon_url(guarded.path());
    // A home whose default model is the built-in one, never installed: no model, no key.
    let unready = home_for(&server, "");
    let config = unready.path().join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("\"openai/gpt-test\"", "\"local/smollm2-135m\""),
    )
    .unwrap();
    let _unready_running = start_daemon(unready.path());
    let unready_url = daemon_url(unready.path());
    // A caller without the token is a stranger: what their turn produced waits for the owner.
    let mut stranger = ureq::post(&format!("{guarded_url}/api/chat"))
        .header("content-type", "application/json")
        .send(r#"{"message":"Where is the canoe? Tell me everything."}"#)
        .unwrap();
    let answer = stranger.body_mut().read_to_string().unwrap();
    assert!(answer.contains("\"artifact\":\""), "{answer}");

    let screenshots = std::env::var_os("SCREENSHOTS")
        .map(|dir| {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                repository().join(dir)
            }
        })
        .unwrap_or_else(|| open.path().join("screenshots"));
    let web_tests = repository().join("tests/web");
    assert!(
        web_tests.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed in {}: run scripts/setup.sh",
        web_tests.display()
    );
    let run = std::process::Command::new("node")
        .arg("ui.mjs")
        .current_dir(&web_tests)
        .env("LOCALGPT_URL", &open_url)
        .env("LOCALGPT_GUARDED_URL", &guarded_url)
        .env("LOCALGPT_UNREADY_URL", &unready_url)
        .env("LOCALGPT_TOKEN", "web-test-token")
        .env("SCREENSHOTS", &screenshots)
        .output()
        .expect("node is needed for the web UI test: run scripts/setup.sh");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "{stdout}\n{stderr}\nscreenshots in {}",
        screenshots.display()
    );
    assert!(stdout.contains("web UI: all steps passed"), "{stdout}");

    // What happened behind the page.
    let workspace = open.path().join("workspace");
    assert_eq!(
        std::fs::read_to_string(workspace.join("approved.txt")).unwrap(),
        "approved\n"
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 8, "one model call per scripted turn");
    // The model picked in the page was the one asked for, on the failed try and the retry.
    assert_eq!(requests[6].body["model"], "gpt-other");
    assert_eq!(requests[7].body["model"], "gpt-other");
    // The retry continued the failed turn's session without asking the question twice.
    let asked = requests[7].body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|message| message["role"] == "user")
        .count();
    assert_eq!(asked, 1, "{}", requests[7].body);
    // The second question continued the first session; the approval's chat started a new one.
    let second = requests[1].body.to_string();
    assert!(second.contains("Write hello world in Rust"), "{second}");
    let approval_chat = requests[3].body.to_string();
    assert!(
        !approval_chat.contains("Write hello world"),
        "{approval_chat}"
    );
    // Two sessions remain (one was deleted), one of them renamed.
    let sessions = localgpt(open.path())
        .args(["sessions", "list", "--json"])
        .output()
        .unwrap();
    let sessions: serde_json::Value = serde_json::from_slice(&sessions.stdout).unwrap();
    let titles: Vec<&str> = sessions
        .as_array()
        .unwrap()
        .iter()
        .map(|session| session["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles.len(), 3, "{titles:?}");
    assert!(titles.contains(&"Fail once"), "{titles:?}");
    assert!(titles.contains(&"Rust and canoes"), "{titles:?}");
    assert!(titles.contains(&"Count slowly"), "{titles:?}");
}
