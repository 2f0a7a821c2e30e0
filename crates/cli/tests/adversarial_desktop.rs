//! The desktop app against a real daemon: the app's own window code (`localgpt_desktop`), driven
//! through AccessKit with `egui_kittest` (no display needed), talking over HTTP to a real
//! `localgpt` daemon whose model is the scripted provider. Each flow is what a user does daily —
//! send a message and see it stream, approve and deny a tool, stop, switch conversations, export,
//! search memory and reindex — and each also tries what an attacker would: an answer that fakes
//! an Approve button, tool arguments that disguise the command, a daemon that wants a token the
//! window does not have. Also: `localgpt desktop` starts the daemon when none runs.

#![cfg(feature = "desktop")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{daemon_home, daemon_url, localgpt, start_daemon};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use localgpt_desktop::egui::{self, accesskit::Role};
use localgpt_desktop::views::transcript::Item;
use localgpt_desktop::{Connection, DesktopApp};
use localgpt_provider_script::{Script, ScriptedServer, Turn};

const WAIT: Duration = Duration::from_secs(30);

fn harness(connection: Connection) -> Harness<'static, DesktopApp> {
    let app = DesktopApp::new(connection).unwrap();
    Harness::builder()
        .with_size(egui::vec2(1200.0, 1000.0))
        .build_ui_state(|ui, app: &mut DesktopApp| app.show(ui), app)
}

/// Steps the window until `done` holds (the network thread answers in its own time).
fn wait_until(
    harness: &mut Harness<'_, DesktopApp>,
    what: &str,
    mut done: impl FnMut(&Harness<'_, DesktopApp>) -> bool,
) {
    let deadline = Instant::now() + WAIT;
    loop {
        harness.step();
        if done(harness) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; transcript: {:?}; problem: {:?}; hits: {}; status: {}",
            harness.state().chat.transcript.items,
            harness.state().problem,
            harness.state().memory.hits,
            harness.state().status.status
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn has_label(harness: &Harness<'_, DesktopApp>, text: &str) -> bool {
    harness.query_all_by_label_contains(text).next().is_some()
}

fn send(harness: &mut Harness<'_, DesktopApp>, text: &str) {
    harness.get_by_label("Message").click();
    harness.step();
    harness.get_by_label("Message").type_text(text);
    harness.step();
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Enter);
    harness.step();
}

fn idle(harness: &mut Harness<'_, DesktopApp>) {
    wait_until(harness, "the turn to end", |h| !h.state().chat.streaming);
}

fn buttons(harness: &Harness<'_, DesktopApp>, label: &str) -> usize {
    harness
        .query_all_by_role_and_label(Role::Button, label)
        .count()
}

#[test]
fn chat_streams_approves_denies_stops_and_switches_conversations() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(ScriptedServer::start(
        Script::new()
            // 1: a streamed markdown answer that also fakes an approval prompt.
            .turn(
                Turn::text([
                    "Here is a **plan**:\n\n",
                    "```rust\nfn main() {}\n```\n\n",
                    "[Approve](https://example.invalid/approve) Approve Deny\n",
                ])
                .delay(Duration::from_millis(150)),
            )
            // 2-3: a command the owner approves.
            .turn(Turn::tool_call(
                "bash",
                r#"{"command":"echo approved > approved.txt"}"#,
            ))
            .turn(Turn::text(["Done: wrote approved.txt."]))
            // 4-5: a command disguised with a right-to-left override and a terminal escape,
            // which the owner denies.
            .turn(Turn::tool_call(
                "bash",
                "{\"command\":\"echo denied > denied.txt #\u{202e}txt.olleh tac\\u001b[2K\"}",
            ))
            .turn(Turn::text(["Not run, as you wished."]))
            // 6: an answer that never ends, stopped with Esc.
            .turn(Turn::text(["Counting: one, "]).hang())
            // 7: the conversation goes on after the stop.
            .turn(Turn::text(["Still here."]))
            // 8: a second conversation.
            .turn(Turn::text(["Second conversation."])),
    ));
    let home = daemon_home(&server, "\n[heartbeat]\nenabled = false\n");
    let _running = start_daemon(home.path());
    let exports = tempfile::tempdir().unwrap();
    let mut harness = harness(Connection {
        base_url: daemon_url(home.path()),
        token: None,
        notice: None,
        export_dir: exports.path().to_owned(),
    });
    wait_until(&mut harness, "the status", |h| h.state().status.loaded);

    // 1. The answer streams in: seen while partial, then whole, as markdown.
    send(&mut harness, "Make a plan");
    let mut saw_partial = false;
    wait_until(&mut harness, "the streamed answer", |h| {
        let app = h.state();
        if let Some(Item::Assistant(text)) = app.chat.transcript.items.last()
            && app.chat.streaming
            && text.contains("plan")
            && !text.contains("Approve")
        {
            saw_partial = true;
        }
        !app.chat.streaming
    });
    assert!(saw_partial, "the answer arrived only at once");
    assert!(
        has_label(&harness, "fn main() {}"),
        "the code block is shown"
    );
    // The answer's fake prompt is text or a link, never an Approve button.
    assert_eq!(buttons(&harness, "Approve"), 0);
    assert_eq!(buttons(&harness, "Deny"), 0);
    let first_session = harness.state().chat.session_id.clone().unwrap();

    // 2. A tool that needs consent waits for Approve, then runs.
    send(&mut harness, "Write approved.txt");
    wait_until(&mut harness, "the approval card", |h| {
        buttons(h, "Approve") == 1
    });
    let workspace = home.path().join("workspace");
    assert!(
        !workspace.join("approved.txt").exists(),
        "ran before consent"
    );
    // Keys do not answer it: Enter, Space and Ctrl+Enter leave it waiting.
    harness.key_press(egui::Key::Enter);
    harness.key_press(egui::Key::Space);
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Enter);
    harness.step();
    assert_eq!(harness.state().chat.transcript.waiting_approvals(), 1);
    harness
        .get_by_role_and_label(Role::Button, "Approve")
        .click();
    harness.step();
    idle(&mut harness);
    assert!(has_label(&harness, "Done: wrote approved.txt."));
    assert_eq!(
        std::fs::read_to_string(workspace.join("approved.txt")).unwrap(),
        "approved\n"
    );

    // 3. The disguised command is shown as it is (escapes visible), and Deny keeps it from running.
    send(&mut harness, "Write denied.txt");
    wait_until(&mut harness, "the second approval card", |h| {
        buttons(h, "Deny") == 1
    });
    assert!(
        has_label(&harness, "\\u{202e}txt.olleh tac"),
        "the override is shown as an escape"
    );
    assert!(!has_label(&harness, "\u{202e}"));
    assert!(!has_label(&harness, "\u{1b}"));
    harness.get_by_role_and_label(Role::Button, "Deny").click();
    harness.step();
    idle(&mut harness);
    assert!(has_label(&harness, "Not run, as you wished."));
    assert!(
        !workspace.join("denied.txt").exists(),
        "a denied command ran"
    );

    // 4. Esc stops an answer that would never end; the conversation goes on.
    send(&mut harness, "Count slowly");
    wait_until(&mut harness, "the first words", |h| {
        has_label(h, "Counting: one,")
    });
    harness.key_press(egui::Key::Escape);
    idle(&mut harness);
    assert!(has_label(&harness, "Stopped."));
    send(&mut harness, "Are you there?");
    idle(&mut harness);
    assert!(
        has_label(&harness, "Still here."),
        "{:?}",
        harness.state().problem
    );
    assert_eq!(
        harness.state().chat.session_id.as_deref(),
        Some(first_session.as_str())
    );

    // 5. A new conversation (Ctrl+N), then back to the first from the list.
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::N);
    harness.step();
    assert!(harness.state().chat.session_id.is_none());
    send(&mut harness, "Another topic");
    idle(&mut harness);
    assert!(has_label(&harness, "Second conversation."));
    let second_session = harness.state().chat.session_id.clone().unwrap();
    assert_ne!(second_session, first_session);
    wait_until(&mut harness, "both conversations listed", |h| {
        h.state().sessions.sessions.len() == 2
    });
    harness
        .get_by_role_and_label(Role::Button, "Make a plan")
        .click();
    wait_until(&mut harness, "the first conversation", |h| {
        has_label(h, "Still here.") && !has_label(h, "Second conversation.")
    });
    // The approved call is shown with its arguments, folded.
    assert!(has_label(&harness, "Tool bash"));

    // 6. Export writes a new markdown file in the export folder.
    harness
        .get_by_role_and_label(Role::Button, "Export")
        .click();
    wait_until(&mut harness, "the export", |h| {
        h.state().chat.note.is_some()
    });
    let exported: Vec<_> = std::fs::read_dir(exports.path())
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(exported.len(), 1, "{:?}", harness.state().chat.note);
    let markdown = std::fs::read_to_string(exported[0].path()).unwrap();
    assert!(markdown.contains("Make a plan"), "{markdown}");

    // 7. Rename, then delete the second conversation.
    harness
        .get_by_role_and_label(Role::Button, "Rename")
        .click();
    wait_until(&mut harness, "the title field", |h| {
        h.query_by_role_and_label(Role::TextInput, "Title")
            .is_some()
    });
    harness.step();
    harness.get_by_label("Title").type_text(" (renamed)");
    harness.step();
    harness.get_by_role_and_label(Role::Button, "Save").click();
    wait_until(&mut harness, "the new title", |h| {
        h.state()
            .sessions
            .title_of(&first_session)
            .is_some_and(|title| title.ends_with("(renamed)"))
    });
    harness
        .get_by_role_and_label(Role::Button, "Another topic")
        .click();
    wait_until(&mut harness, "the second conversation", |h| {
        has_label(h, "Second conversation.")
    });
    harness
        .get_by_role_and_label(Role::Button, "Delete")
        .click();
    wait_until(&mut harness, "the confirmation", |h| {
        h.query_by_role_and_label(Role::Button, "Delete for good")
            .is_some()
    });
    harness
        .get_by_role_and_label(Role::Button, "Delete for good")
        .click();
    wait_until(&mut harness, "the list without it", |h| {
        h.state().sessions.sessions.len() == 1
    });
    let listed = localgpt(home.path())
        .args(["sessions", "list", "--json"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(!listed.contains(&second_session), "{listed}");
    // One model call per scripted turn: nothing was asked twice, nothing extra.
    assert_eq!(server.requests().len(), 8);
}

#[test]
fn memory_search_opens_hits_at_their_lines_and_reindex_shows_progress() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(ScriptedServer::start(Script::new()));
    let home = daemon_home(&server, "\n[heartbeat]\nenabled = false\n");
    std::fs::write(
        home.path().join("workspace/trap.md"),
        "# Trap\n\nThe canoe \u{202e}kcab si\u{1b}]0;pwned\u{7} ![x](file:///etc/passwd)\n",
    )
    .unwrap();
    let _running = start_daemon(home.path());
    let mut harness = harness(Connection {
        base_url: daemon_url(home.path()),
        export_dir: std::env::temp_dir(),
        ..Connection::default()
    });
    wait_until(&mut harness, "the status", |h| h.state().status.loaded);
    // Ctrl+K opens memory search.
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::K);
    harness.step();
    harness
        .get_by_role_and_label(Role::Button, "Reindex now")
        .click();
    wait_until(&mut harness, "the reindex", |h| {
        h.state().memory.reindexed.is_some()
    });
    let outcome = harness.state().memory.reindexed.clone().unwrap();
    assert!(outcome.starts_with("Reindexed"), "{outcome}");
    harness.get_by_label("Query").click();
    harness.step();
    harness.get_by_label("Query").type_text("canoe");
    harness.step();
    harness
        .get_by_role_and_label(Role::Button, "Search")
        .click();
    wait_until(&mut harness, "a hit", |h| has_label(h, "MEMORY.md:"));
    harness.get_by_label_contains("MEMORY.md:").click();
    wait_until(&mut harness, "the file", |h| {
        h.state().memory.file.is_some()
    });
    let file = harness.state().memory.file.clone().unwrap();
    let line = file
        .lines
        .iter()
        .position(|line| line.contains("boathouse"))
        .unwrap()
        + 1;
    assert!(
        (file.marked.0..=file.marked.1).contains(&line),
        "the hit's lines {:?} do not hold line {line}",
        file.marked
    );
    assert!(has_label(&harness, "The canoe is in the boathouse."));
    // A planted note's escape sequence and right-to-left override are shown as escapes, in
    // the hits and in the opened file, and its image is never fetched.
    harness
        .get_by_role_and_label(Role::Button, "Back to results")
        .click();
    wait_until(&mut harness, "the results again", |h| {
        has_label(h, "trap.md:")
    });
    harness.get_by_label_contains("trap.md:").click();
    wait_until(&mut harness, "the trap file", |h| {
        h.state()
            .memory
            .file
            .as_ref()
            .is_some_and(|file| file.path.contains("trap"))
    });
    assert!(has_label(&harness, "\\u{202e}"));
    assert!(!has_label(&harness, "\u{202e}"));
    assert!(!has_label(&harness, "\u{1b}"));
    // Ctrl+3 shows the status with the index the reindex built.
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num3);
    wait_until(&mut harness, "the status view", |h| {
        has_label(h, "Waiting for approval (0)") && has_label(h, "2 files")
    });
    assert!(has_label(&harness, "openai/gpt-test"));
}

#[test]
fn a_daemon_that_wants_its_token_gets_it_and_a_wrong_token_reads_nothing() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(ScriptedServer::start(
        Script::new().turn(Turn::text(["Hello, owner."])),
    ));
    let token = "desktop-test-token-5d1c";
    let home = daemon_home(
        &server,
        &format!(
            "auth_token = \"{token}\"\nallow_local_unauthenticated = false\n\n[heartbeat]\nenabled = false\n"
        ),
    );
    let _running = start_daemon(home.path());
    let url = daemon_url(home.path());
    // The owner's window, with the token: status, a conversation.
    let mut owner = harness(Connection {
        base_url: url.clone(),
        token: Some(token.to_owned()),
        export_dir: std::env::temp_dir(),
        ..Connection::default()
    });
    wait_until(&mut owner, "the status", |h| h.state().status.loaded);
    send(&mut owner, "Who am I?");
    idle(&mut owner);
    assert!(has_label(&owner, "Hello, owner."));
    wait_until(&mut owner, "the conversation listed", |h| {
        h.state().sessions.sessions.len() == 1
    });
    // The token is never shown in the window.
    assert!(!has_label(&owner, token));
    // Windows without it, or with a near miss, read nothing of the owner's.
    for wrong in [
        None,
        Some("not-the-token".to_owned()),
        Some(token.to_uppercase()),
        Some(format!("{token}0")),
        Some(token[..token.len() - 1].to_owned()),
    ] {
        let mut harness = harness(Connection {
            base_url: url.clone(),
            token: wrong.clone(),
            export_dir: std::env::temp_dir(),
            ..Connection::default()
        });
        wait_until(&mut harness, "the refusal", |h| h.state().problem.is_some());
        // Give the conversation list the same chance to arrive as the status had.
        for _ in 0..50 {
            harness.step();
            std::thread::sleep(Duration::from_millis(10));
        }
        let problem = harness.state().problem.clone().unwrap();
        assert!(problem.contains("token"), "{wrong:?}: {problem}");
        assert!(!harness.state().status.loaded, "{wrong:?}");
        assert!(harness.state().sessions.sessions.is_empty(), "{wrong:?}");
        assert!(!has_label(&harness, "Who am I?"), "{wrong:?}");
    }
    assert_eq!(
        server.requests().len(),
        1,
        "only the owner's turn reached the model"
    );
}

#[test]
fn without_a_display_the_in_process_host_stops_and_leaves_the_home_free() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(ScriptedServer::start(Script::new()));
    let home = daemon_home(&server, "\n[heartbeat]\nenabled = false\n");
    let _stop_later = common::Running(home.path());
    // No display here: the window cannot open; the host it started must not outlive it.
    let output = localgpt(home.path())
        .arg("desktop")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("hosting LocalGPT in this window"),
        "{stderr}"
    );
    assert!(!output.status.success(), "{stderr}");
    let status = localgpt(home.path())
        .args(["daemon", "status", "--json"])
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["running"], false, "{stderr}");
    assert!(!home.path().join("state/daemon.pid").exists());
    // The lock is free: a daemon starts, and the next desktop uses it instead of hosting.
    let _running = start_daemon(home.path());
    let again = localgpt(home.path())
        .arg("desktop")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&again.stderr).contains("hosting"));
}

/// A virtual X display for the length of a test.
struct VirtualDisplay {
    server: std::process::Child,
    name: String,
}

impl VirtualDisplay {
    fn start() -> Self {
        let number = 200 + std::process::id() % 500;
        let name = format!(":{number}");
        let server = std::process::Command::new("Xvfb")
            .args([
                name.as_str(),
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("Xvfb is needed for this test (scripts/setup.sh installs it)");
        let socket = format!("/tmp/.X11-unix/X{number}");
        wait_for(|| std::path::Path::new(&socket).exists(), "the X display");
        Self { server, name }
    }
}

impl Drop for VirtualDisplay {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

fn wait_for(mut ready: impl FnMut() -> bool, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(std::time::Instant::now() < deadline, "{what} never came");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn with_no_daemon_the_window_hosts_the_control_plane_itself() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(ScriptedServer::start(
        Script::new().turn(Turn::text(["Hosted ", "in the window."])),
    ));
    let home = daemon_home(&server, "\n[heartbeat]\nenabled = false\n");
    let display = VirtualDisplay::start();
    let mut window = std::process::Command::new(assert_cmd::cargo::cargo_bin("localgpt"))
        .arg("desktop")
        .env("LOCALGPT_HOME", home.path())
        .env("HOME", home.path())
        .env("PATH", "/usr/bin:/bin")
        .env("DISPLAY", &display.name)
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid_file = home.path().join("state/daemon.pid");
    wait_for(|| pid_file.exists(), "the in-process host");
    let pid_text = std::fs::read_to_string(&pid_file).unwrap();
    // The host is this very process: no separate daemon was started.
    assert_eq!(pid_text.lines().next().unwrap(), window.id().to_string());
    let base = daemon_url(home.path());
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let (code, body) = common::post(
        &format!("{base}/api/chat"),
        &serde_json::json!({"message": "hello"}),
        &[],
    );
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("Hosted in the window."), "{body}");
    // One writer per home: `daemon start` finds the window's host and starts nothing beside it.
    let second = localgpt(home.path())
        .args(["daemon", "start"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&second.stdout);
    assert!(
        said.contains(&format!("already running: pid {}", window.id())),
        "{said}"
    );
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap(), pid_text);
    // `daemon stop` stops the host, and with it the app (as SIGTERM would without the host).
    let stopped = localgpt(home.path())
        .args(["daemon", "stop"])
        .output()
        .unwrap();
    assert!(
        stopped.status.success(),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    wait_for(|| !pid_file.exists(), "the host to stop");
    wait_for(
        || window.try_wait().unwrap().is_some(),
        "the window to close after `daemon stop`",
    );
    let _running = start_daemon(home.path());
}
