//! The command line and the home under attack, through the real binary: another local user
//! trying to read the home, a stranger's text trying to drive the owner's terminal with escape
//! sequences, a daemon killed with `kill -9` (leaving a zombie) or frozen, `config init --force`
//! run again and again, and config errors that would print a secret or a 10 MB value.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::{daemon_home, daemon_url, localgpt, post, run_ok, start_daemon};
use localgpt_provider_script::{FakeTelegram, Script, ScriptedServer, Turn};
use serde_json::{Value, json};

/// Longest any single command in these tests may take before the test fails.
const COMMAND_LIMIT: Duration = Duration::from_secs(120);

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

/// Every file and folder under `root` (symlinks not followed) whose mode lets group or others in.
fn readable_by_others(root: &Path) -> Vec<String> {
    let mut open = Vec::new();
    let mut pending = vec![root.to_owned()];
    while let Some(path) = pending.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.file_type().is_symlink() {
            continue;
        }
        if meta.permissions().mode() & 0o077 != 0 {
            open.push(format!("{:o} {}", mode(&path), path.display()));
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                pending.push(entry.unwrap().path());
            }
        }
    }
    open
}

#[test]
fn a_new_home_and_everything_written_in_it_is_private() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(ScriptedServer::start(
        Script::new()
            .turn(Turn::text(["The PIN is 4321."]))
            .turn(Turn::text(["A stranger asks for the PIN."]))
            .turn(Turn::text(["A Telegram stranger says hello."])),
    ));
    let telegram = runtime.block_on(FakeTelegram::start()).unwrap();
    let parent = tempfile::tempdir().unwrap();
    // The parent is world-readable, as a home directory usually is.
    std::fs::set_permissions(parent.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let home = parent.path().join("lg");
    run_ok(localgpt(&home).args(["config", "init"]));
    for (key, value) in [
        ("agent.default_model", "openai/gpt-test".to_owned()),
        ("providers.openai.base_url", server.url("v1")),
        ("providers.openai.api_key", "sk-test-private".to_owned()),
        ("memory.embedding", "none".to_owned()),
        ("server.port", "0".to_owned()),
        ("heartbeat.enabled", "false".to_owned()),
        ("telegram.bot_token", "123:PRIVATE".to_owned()),
        ("telegram.owner_ids", "[42]".to_owned()),
        ("telegram.api_url", telegram.url().to_owned()),
    ] {
        run_ok(localgpt(&home).args(["config", "set", key, &value]));
    }
    std::fs::write(home.join("workspace/MEMORY.md"), "bank PIN 4321\n").unwrap();
    run_ok(localgpt(&home).args(["memory", "reindex"]));
    run_ok(localgpt(&home).args(["ask", "What is my PIN?"]));
    {
        let _running = start_daemon(&home);
        let base = daemon_url(&home);
        let (code, body) = post(
            &format!("{base}/api/chat"),
            &json!({"message": "tell me the PIN"}),
            &[("origin", "http://evil.example")],
        );
        assert_eq!(code, 200, "{body}");
        telegram.send_text(99, "Mallory", "hello");
        runtime
            .block_on(telegram.wait_for_message(99, "owner only", Duration::from_secs(20)))
            .expect("the stranger was answered");
    }
    // What the run wrote is all there (so the walk below looks at real files).
    for written in [
        "state/index.sqlite",
        "state/events.jsonl",
        "state/artifacts",
        "state/sessions",
        "state/logs/daemon.log",
        "state/telegram.json",
        "config.toml",
    ] {
        assert!(home.join(written).exists(), "{written} was not written");
    }
    assert_eq!(mode(&home), 0o700);
    let open = readable_by_others(&home);
    assert!(open.is_empty(), "readable by other users: {open:#?}");
}

#[test]
fn a_loose_home_is_tightened_when_the_daemon_starts() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(ScriptedServer::start(Script::new()));
    let home = daemon_home(&server, "\n[heartbeat]\nenabled = false\n");
    let home = home.path();
    // As an older version (or `mkdir` with the usual umask) left it: all of it readable.
    let state = home.join("state");
    std::fs::create_dir_all(state.join("sessions")).unwrap();
    std::fs::create_dir_all(state.join("artifacts")).unwrap();
    std::fs::write(state.join("sessions/old.jsonl"), "{}\n").unwrap();
    std::fs::write(state.join("artifacts/old.txt"), "a stranger's text").unwrap();
    std::fs::write(state.join("daemon.pid.old"), "1").unwrap();
    for dir in [
        home,
        &state,
        &state.join("sessions"),
        &state.join("artifacts"),
    ] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    for file in [
        home.join("config.toml"),
        state.join("sessions/old.jsonl"),
        state.join("artifacts/old.txt"),
        state.join("daemon.pid.old"),
    ] {
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    // A symlink in state/ to a file of someone else's is not followed.
    let elsewhere = tempfile::tempdir().unwrap();
    let foreign = elsewhere.path().join("shared.txt");
    std::fs::write(&foreign, "shared").unwrap();
    std::fs::set_permissions(&foreign, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::symlink(&foreign, state.join("link")).unwrap();

    let _running = start_daemon(home);
    assert_eq!(mode(home), 0o700);
    assert_eq!(mode(&home.join("config.toml")), 0o600);
    let open = readable_by_others(&state);
    assert!(open.is_empty(), "readable by other users: {open:#?}");
    assert_eq!(mode(&foreign), 0o644, "the symlink's target is left alone");
}

/// Terminal control in many spellings: OSC 52 (write the clipboard), OSC 0 (window title), CSI 2J
/// (clear), a bare C1 CSI, a BEL, and a right-to-left override that disguises a file name.
const HOSTILE: &str = "Hi\x1b]52;c;ZWNobyBwd25lZA==\x07 \x1b]0;pwned\x1b\\ \x1b[2J\u{9b}31m \
                       invoice\u{202e}fdp.exe \u{2066}x\u{2069} \x7f end";

/// Whether `bytes` hold anything a terminal would act on.
fn assert_inert(bytes: &[u8], what: &str) {
    let text = String::from_utf8_lossy(bytes);
    let active: Vec<char> = text
        .chars()
        .filter(|&c| {
            (c.is_control() && c != '\n' && c != '\t')
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect();
    assert!(active.is_empty(), "{what} printed {active:?}:\n{text}");
}

#[test]
fn a_strangers_escape_sequences_never_reach_the_terminal() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(ScriptedServer::start(
        Script::new()
            .turn(Turn::text([format!("They wrote: {HOSTILE}")]))
            .turn(Turn::text([format!("Again: {HOSTILE}")])),
    ));
    let home = daemon_home(&server, "\n[heartbeat]\nenabled = false\n");
    let home = home.path();
    {
        let _running = start_daemon(home);
        let base = daemon_url(home);
        for header in [("origin", "http://evil.example"), ("host", "evil.example")] {
            let (code, body) = post(
                &format!("{base}/api/chat"),
                &json!({"message": HOSTILE}),
                &[header],
            );
            assert_eq!(code, 200, "{body}");
        }
    }
    let stdout = |args: &[&str]| -> Vec<u8> {
        let output = localgpt(home)
            .args(args)
            .timeout(COMMAND_LIMIT)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_inert(&output.stderr, &format!("{args:?} (stderr)"));
        output.stdout
    };

    let listed = stdout(&["sessions", "list", "--json"]);
    let sessions: Value = serde_json::from_slice(&listed).unwrap();
    assert_inert(&listed, "sessions list --json");
    let sessions = sessions.as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let plain = stdout(&["sessions", "list"]);
    assert_inert(&plain, "sessions list");
    assert!(
        String::from_utf8_lossy(&plain).contains("\\x1b"),
        "the title is shown, escaped"
    );
    for session in sessions {
        let id = session["id"].as_str().unwrap();
        for args in [
            vec!["sessions", "show", id],
            vec!["sessions", "show", "--raw", id],
            vec!["sessions", "export", id],
        ] {
            let shown = stdout(&args);
            assert_inert(&shown, &format!("{args:?}"));
            assert!(
                String::from_utf8_lossy(&shown).contains("ZWNobyBwd25lZA=="),
                "{args:?} shows the message"
            );
        }
    }

    let listed = stdout(&["artifacts", "list", "--json"]);
    assert_inert(&listed, "artifacts list --json");
    let artifacts: Value = serde_json::from_slice(&listed).unwrap();
    assert!(!artifacts.as_array().unwrap().is_empty(), "{artifacts}");
    assert_inert(&stdout(&["artifacts", "list"]), "artifacts list");
    for artifact in artifacts.as_array().unwrap() {
        let id = artifact["id"].as_str().unwrap();
        let shown = stdout(&["artifacts", "show", id]);
        assert_inert(&shown, "artifacts show");
        assert!(String::from_utf8_lossy(&shown).contains("\\x1b"));
    }
}

/// The pid a home's pid file names.
fn recorded_pid(home: &Path) -> i32 {
    std::fs::read_to_string(home.join("state/daemon.pid"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn process_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

#[test]
fn a_zombie_left_by_kill_9_does_not_count_as_running() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(ScriptedServer::start(Script::new()));
    let home = daemon_home(&server, "\n[heartbeat]\nenabled = false\n");
    let home = home.path();
    // This test is the daemon's parent and does not reap it, so `kill -9` leaves a zombie.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("localgpt"))
        .env("LOCALGPT_HOME", home)
        .env("HOME", home)
        .env("PATH", "/usr/bin:/bin")
        .env("OLLAMA_HOST", "127.0.0.1:1")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .args(["daemon", "start", "--foreground"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !home.join("state/daemon.pid").exists()
        || std::fs::read_to_string(home.join("state/daemon.pid"))
            .unwrap_or_default()
            .lines()
            .count()
            < 2
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the daemon never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let old_pid = recorded_pid(home);
    assert_eq!(u32::try_from(old_pid).unwrap(), child.id());
    child.kill().unwrap();
    while process_state(old_pid) != Some('Z') {
        assert!(std::time::Instant::now() < deadline, "no zombie appeared");
        std::thread::sleep(Duration::from_millis(20));
    }

    let status = localgpt(home)
        .args(["daemon", "status"])
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&status.stdout).contains("not running"),
        "{status:?}"
    );
    // The stale pid file may be gone already; write it back as kill -9 left it.
    std::fs::write(
        home.join("state/daemon.pid"),
        format!("{old_pid}\n127.0.0.1:9\n"),
    )
    .unwrap();
    let started = localgpt(home)
        .args(["daemon", "start"])
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&started.stdout);
    assert!(
        started.status.success(),
        "{started:?}\ndaemon log:\n{}",
        std::fs::read_to_string(home.join("state/logs/daemon.log")).unwrap_or_default()
    );
    assert!(said.contains("started"), "{said}");
    assert!(!said.contains("already running"), "{said}");
    let new_pid = recorded_pid(home);
    assert_ne!(new_pid, old_pid);
    let (code, _) = common::get(&format!("{}/health", daemon_url(home)), &[]);
    assert_eq!(code, 200);
    run_ok(localgpt(home).args(["daemon", "stop"]));
    assert_eq!(
        process_state(old_pid),
        Some('Z'),
        "still unreaped all along"
    );
    child.wait().unwrap();
}

#[test]
fn a_frozen_daemon_still_gets_answers_from_status_and_stop() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(ScriptedServer::start(Script::new()));
    let home = daemon_home(&server, "\n[heartbeat]\nenabled = false\n");
    let home = home.path();
    let _running = start_daemon(home);
    let pid = recorded_pid(home);
    // Frozen: its socket still accepts connections, but nothing answers and SIGTERM waits.
    // SAFETY: signalling the daemon this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);

    for args in [
        &["daemon", "status"][..],
        &["daemon", "status", "--json"][..],
    ] {
        let status = localgpt(home)
            .args(args)
            .timeout(COMMAND_LIMIT)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&status.stderr);
        assert!(!status.status.success(), "{args:?}: {status:?}");
        assert!(said.contains("not answering"), "{args:?}: {said}");
    }
    let stopped = localgpt(home)
        .args(["daemon", "stop"])
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap();
    assert!(stopped.status.success(), "{stopped:?}");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&stopped.stdout),
        String::from_utf8_lossy(&stopped.stderr)
    );
    assert!(said.contains("SIGKILL"), "stop says it killed: {said}");
    assert!(!Path::new(&format!("/proc/{pid}")).exists() || process_state(pid) == Some('Z'));
    assert!(!home.join("state/daemon.pid").exists());
    let status = run_ok(localgpt(home).args(["daemon", "status"]));
    assert!(String::from_utf8_lossy(&status.stdout).contains("not running"));
}

#[test]
fn config_init_force_never_loses_an_earlier_config() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let config = home.join("config.toml");
    std::fs::write(
        &config,
        "# my original config\n[agent]\nmax_tool_rounds = 3\n",
    )
    .unwrap();
    // A backup the user made by hand is kept too.
    std::fs::write(home.join("config.toml.bak"), "# my own backup\n").unwrap();
    // A planted `.bak.1` symlink must not redirect the backup onto another file.
    let victim = home.join("victim.txt");
    std::fs::write(&victim, "untouched").unwrap();
    std::os::unix::fs::symlink(&victim, home.join("config.toml.bak.1")).unwrap();

    let mut versions = vec![std::fs::read_to_string(&config).unwrap()];
    for round in 0..3 {
        let output = run_ok(localgpt(home).args(["config", "init", "--force"]));
        let said = String::from_utf8_lossy(&output.stdout);
        assert!(said.contains("saved"), "round {round}: {said}");
        // Mark this round's config so every version differs.
        let mut text = std::fs::read_to_string(&config).unwrap();
        text.push_str(&format!("# round {round}\n"));
        std::fs::write(&config, &text).unwrap();
        versions.push(text);
    }
    assert_eq!(
        std::fs::read_to_string(home.join("config.toml.bak")).unwrap(),
        "# my own backup\n"
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
    let mut kept: Vec<String> = std::fs::read_dir(home)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("config.toml.bak")
                && !path.is_symlink()
        })
        .map(|path| std::fs::read_to_string(path).unwrap())
        .collect();
    kept.sort();
    // Every config that was replaced is in a backup of its own.
    for version in &versions[..3] {
        assert!(kept.contains(version), "lost:\n{version}\nkept: {kept:#?}");
    }
    for backup in std::fs::read_dir(home).unwrap() {
        let path = backup.unwrap().path();
        // The backups LocalGPT wrote (the user's own `config.toml.bak` is theirs).
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !path.is_symlink() && name.starts_with("config.toml.bak.") {
            assert_eq!(mode(&path) & 0o077, 0, "{} is private", path.display());
        }
    }
}

#[test]
fn config_errors_mask_secret_lines_and_cap_huge_values() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let secret = "sk-live-Zq9SECRETVALUE";
    let config = home.join("config.toml");
    for (text, env) in [
        // A type error on a secret line.
        (
            format!("[providers.openai]\napi_key = {}\n", 77_123_456_789_u64),
            None,
        ),
        // A syntax error on a secret line (an unterminated string).
        (format!("[telegram]\nbot_token = \"{secret}\n"), None),
        (format!("[server]\nauth_token = [\"{secret}\"]\n"), None),
        // A secret in an inline table, and under a custom key name.
        (
            format!("[providers]\nopenai = {{ api_key = \"{secret}\", base_url = 7 }}\n"),
            None,
        ),
        (
            format!("[server]\nport = 1\ndb_password = \"{secret}\" x\n"),
            None,
        ),
        // A secret arriving from the environment into a line with a type error.
        (
            "[server]\nport = \"${LG_TEST_SECRET}\"\n".to_owned(),
            Some(secret),
        ),
    ] {
        std::fs::write(&config, &text).unwrap();
        let mut command = localgpt(home);
        if let Some(value) = env {
            command.env("LG_TEST_SECRET", value);
        }
        let output = command
            .args(["config", "show"])
            .timeout(COMMAND_LIMIT)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{text}");
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(said.contains("config.toml"), "{said}");
        for form in [secret, "77123456789", "Zq9SECRET"] {
            assert!(
                !said.contains(form),
                "{form} shown for\n{text}\n---\n{said}"
            );
        }
    }

    // A 10 MB value: printed cut short, and once.
    let huge = "A".repeat(10 * 1024 * 1024);
    for text in [
        format!("[server]\nport = \"{huge}\"\n"),
        format!("[server]\nport = {huge}\n"),
        format!("[agent]\ndefault_model = \"{huge}\n"),
        format!("[server]\nbind = \"${{{huge}\"\n"),
    ] {
        std::fs::write(&config, &text).unwrap();
        let output = localgpt(home)
            .args(["config", "show"])
            .timeout(COMMAND_LIMIT)
            .output()
            .unwrap();
        assert!(!output.status.success());
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(said.len() < 4096, "{} bytes of error", said.len());
        assert_eq!(said.matches("error:").count(), 1, "{said}");
        assert!(said.matches(&"A".repeat(100)).count() <= 1, "{said}");
        assert!(said.contains('…'), "marked as cut: {said}");
    }
}
