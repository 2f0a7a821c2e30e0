//! End-to-end tests of `localgpt config …` and the global options, running the real binary in a
//! temporary LocalGPT home.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;

use common::localgpt;
use predicates::prelude::*;

fn init(home: &Path) {
    localgpt(home).args(["config", "init"]).assert().success();
}

#[test]
fn version_and_help_work_for_every_command() {
    let home = tempfile::tempdir().unwrap();
    localgpt(home.path())
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("localgpt "));
    for args in [
        vec!["--help"],
        vec!["config", "--help"],
        vec!["config", "init", "--help"],
        vec!["config", "show", "--help"],
        vec!["config", "path", "--help"],
        vec!["config", "get", "--help"],
        vec!["config", "set", "--help"],
        vec!["completion", "--help"],
    ] {
        localgpt(home.path())
            .args(&args)
            .assert()
            .success()
            .stdout(predicate::str::contains("Usage:"));
    }
    localgpt(home.path())
        .args(["completion", "bash"])
        .assert()
        .success()
        .stdout(predicate::str::contains("localgpt"));
}

#[test]
fn init_on_empty_home_creates_config_and_workspace() {
    let home = tempfile::tempdir().unwrap();
    localgpt(home.path())
        .args(["config", "init"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "default model: local/smollm2-135m",
        ))
        .stdout(predicate::str::contains("no key or network needed"));
    let config = std::fs::read_to_string(home.path().join("config.toml")).unwrap();
    for section in [
        "[agent]",
        "[providers.anthropic]",
        "[providers.local]",
        "[heartbeat]",
        "[memory]",
        "[server]",
        "[telegram]",
        "[sandbox]",
        "# [[jobs]]",
    ] {
        assert!(config.contains(section), "config lacks {section}");
    }
    let workspace = home.path().join("workspace");
    for file in [
        "SOUL.md",
        "MEMORY.md",
        "HEARTBEAT.md",
        "AGENTS.md",
        "USER.md",
        "IDENTITY.md",
        "TOOLS.md",
    ] {
        assert!(workspace.join(file).is_file(), "{file} missing");
    }
    for dir in ["memory", "knowledge", "skills", "tools"] {
        assert!(workspace.join(dir).is_dir(), "{dir}/ missing");
    }
    assert!(home.path().join("state").is_dir());
    assert!(home.path().join("models").is_dir());
}

#[test]
fn init_on_existing_workspace_overwrites_nothing() {
    let home = tempfile::tempdir().unwrap();
    let workspace = home.path().join("workspace");
    std::fs::create_dir_all(&workspace).unwrap();
    std::fs::write(workspace.join("MEMORY.md"), "my memories").unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        "[agent]\ndefault_model = \"openai/gpt-4o\"\n",
    )
    .unwrap();
    localgpt(home.path())
        .args(["config", "init"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("kept     ")
                .and(predicate::str::contains("config.toml (exists")),
        )
        .stdout(predicate::str::contains("MEMORY.md (exists)"))
        .stdout(predicate::str::contains("created  ").and(predicate::str::contains("SOUL.md")));
    assert_eq!(
        std::fs::read_to_string(workspace.join("MEMORY.md")).unwrap(),
        "my memories"
    );
    assert_eq!(
        std::fs::read_to_string(home.path().join("config.toml")).unwrap(),
        "[agent]\ndefault_model = \"openai/gpt-4o\"\n"
    );
}

#[test]
fn init_force_rewrites_config_only_and_keeps_a_backup() {
    let home = tempfile::tempdir().unwrap();
    init(home.path());
    std::fs::write(home.path().join("workspace/SOUL.md"), "custom soul").unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        "[agent]\nmax_tool_rounds = 3\n",
    )
    .unwrap();
    localgpt(home.path())
        .args(["config", "init", "--force"])
        .assert()
        .success()
        .stdout(predicate::str::contains("rewrote"))
        .stdout(predicate::str::contains("config.toml.bak"));
    assert_eq!(
        std::fs::read_to_string(home.path().join("config.toml.bak")).unwrap(),
        "[agent]\nmax_tool_rounds = 3\n"
    );
    assert!(
        std::fs::read_to_string(home.path().join("config.toml"))
            .unwrap()
            .contains("# LocalGPT configuration.")
    );
    assert_eq!(
        std::fs::read_to_string(home.path().join("workspace/SOUL.md")).unwrap(),
        "custom soul"
    );
}

#[test]
fn syntax_error_shows_file_line_column_and_the_line() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        "[agent]\nmax_tool_rounds 12\n",
    )
    .unwrap();
    localgpt(home.path())
        .args(["config", "show"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("config.toml:2:17: invalid TOML"))
        .stderr(predicate::str::contains("2 | max_tool_rounds 12"))
        .stderr(predicate::str::contains("hint: edit"));
}

#[test]
fn type_error_names_the_key_and_expected_form() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        "[server]\nport = \"lots\"\n",
    )
    .unwrap();
    localgpt(home.path())
        .args(["config", "show"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("config.toml:2: `server.port`"))
        .stderr(predicate::str::contains(
            "expected a whole number from 0 to 65535",
        ));
}

#[test]
fn bad_duration_time_and_enum_are_explained() {
    let home = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[heartbeat]\ninterval = \"30\"\n",
            "heartbeat.interval",
            "without a unit",
        ),
        (
            "[heartbeat]\nactive_hours = { start = \"9am\", end = \"22:00\" }\n",
            "heartbeat.active_hours.start",
            "HH:MM",
        ),
        (
            "[heartbeat]\nactive_hours = { start = \"22:00\", end = \"22:00\" }\n",
            "heartbeat.active_hours",
            "remove active_hours",
        ),
        (
            "[memory]\nembedding = \"magic\"\n",
            "memory.embedding",
            "local",
        ),
        (
            "[memory]\nchunk_tokens = 100\nchunk_overlap = 100\n",
            "memory.chunk_overlap",
            "must be smaller",
        ),
    ];
    for (text, key, hint) in cases {
        std::fs::write(home.path().join("config.toml"), text).unwrap();
        localgpt(home.path())
            .args(["config", "show"])
            .assert()
            .failure()
            .stderr(predicate::str::contains(format!("`{key}`")))
            .stderr(predicate::str::contains(hint));
    }
}

#[test]
fn overnight_active_hours_are_accepted() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        "[heartbeat]\nactive_hours = { start = \"22:00\", end = \"06:00\" }\n",
    )
    .unwrap();
    localgpt(home.path())
        .args(["config", "get", "heartbeat.active_hours"])
        .assert()
        .success()
        .stdout(predicate::str::contains("start = \"22:00\""));
}

#[test]
fn unknown_key_is_a_warning_with_a_suggestion() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        "[agent]\ndefualt_model = \"x/y\"\n",
    )
    .unwrap();
    localgpt(home.path())
        .args(["config", "get", "agent.default_model"])
        .assert()
        .success()
        .stdout("local/smollm2-135m\n")
        .stderr(predicate::str::contains(
            "unknown key `agent.defualt_model`",
        ))
        .stderr(predicate::str::contains(
            "did you mean `agent.default_model`?",
        ));
}

#[test]
fn env_vars_expand_and_missing_ones_are_named() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        "[providers.ollama]\nendpoint = \"http://${OLLAMA_TEST_HOST}:11434\"\n",
    )
    .unwrap();
    localgpt(home.path())
        .env("OLLAMA_TEST_HOST", "gpu-box")
        .args(["config", "get", "providers.ollama.endpoint"])
        .assert()
        .success()
        .stdout("http://gpu-box:11434\n");
    // Unset: the key is left unset with one warning, and commands that do not need it work.
    let shown = localgpt(home.path())
        .env_remove("OLLAMA_TEST_HOST")
        .args(["config", "show"])
        .output()
        .unwrap();
    assert!(shown.status.success());
    let stderr = String::from_utf8_lossy(&shown.stderr);
    assert!(
        stderr.contains("`providers.ollama.endpoint` uses ${OLLAMA_TEST_HOST}, which is not set"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("which is not set").count(), 1, "{stderr}");
    let stdout = String::from_utf8_lossy(&shown.stdout);
    assert!(stdout.contains("http://localhost:11434"), "{stdout}");
    assert!(
        !stdout.contains("OLLAMA_TEST_HOST"),
        "warnings stay off stdout: {stdout}"
    );
}

#[test]
fn an_unset_secret_variable_breaks_only_the_command_that_needs_it() {
    let home = tempfile::tempdir().unwrap();
    localgpt(home.path())
        .args(["config", "init"])
        .assert()
        .success();
    let config = home.path().join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replacen(
            "[providers.openai]\n",
            "[providers.openai]\napi_key = \"${LOCALGPT_TEST_UNSET_KEY}\"\n",
            1,
        ),
    )
    .unwrap();
    // Unrelated commands work, warning once on stderr.
    for args in [
        vec!["config", "set", "heartbeat.interval", "2h"],
        vec!["memory", "search", "anything"],
        vec!["sessions", "list"],
        vec!["config", "get", "heartbeat.interval"],
    ] {
        let output = localgpt(home.path())
            .env_remove("LOCALGPT_TEST_UNSET_KEY")
            .env_remove("OPENAI_API_KEY")
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{args:?}: {stderr}");
        assert_eq!(
            stderr
                .matches("${LOCALGPT_TEST_UNSET_KEY}, which is not set")
                .count(),
            1,
            "{args:?}: {stderr}"
        );
    }
    // The command that needs the key fails once, naming what to set.
    let output = localgpt(home.path())
        .env_remove("LOCALGPT_TEST_UNSET_KEY")
        .env_remove("OPENAI_API_KEY")
        .args(["ask", "--model", "openai/gpt-4.1", "hi"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("OPENAI_API_KEY"), "{stderr}");
    assert_eq!(stderr.matches("error:").count(), 1, "{stderr}");
}

#[test]
fn show_masks_secrets() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        "[providers.anthropic]\napi_key = \"${ANTHROPIC_API_KEY}\"\n",
    )
    .unwrap();
    for json in [false, true] {
        let mut command = localgpt(home.path());
        command
            .env("ANTHROPIC_API_KEY", "sk-ant-api03-secretsecretsecret-ABCD")
            .args(["config", "show"]);
        if json {
            command.arg("--json");
        }
        command
            .assert()
            .success()
            .stdout(predicate::str::contains("****ABCD"))
            .stdout(predicate::str::contains("secretsecret").not());
    }
}

#[test]
fn config_flag_is_honoured_everywhere() {
    let home = tempfile::tempdir().unwrap();
    let other = home.path().join("elsewhere/custom.toml");
    localgpt(home.path())
        .args(["--config", other.to_str().unwrap(), "config", "init"])
        .assert()
        .success();
    assert!(other.is_file());
    assert!(!home.path().join("config.toml").exists());
    localgpt(home.path())
        .args(["config", "path", "--config", other.to_str().unwrap()])
        .assert()
        .success()
        .stdout(format!("{}\n", other.display()));
    localgpt(home.path())
        .args([
            "--config",
            other.to_str().unwrap(),
            "config",
            "set",
            "server.port",
            "4000",
        ])
        .assert()
        .success();
    localgpt(home.path())
        .args([
            "--config",
            other.to_str().unwrap(),
            "config",
            "get",
            "server.port",
        ])
        .assert()
        .success()
        .stdout("4000\n");
    localgpt(home.path())
        .args(["config", "get", "server.port"])
        .assert()
        .success()
        .stdout("31327\n");
}

#[test]
fn localgpt_home_moves_everything() {
    let home = tempfile::tempdir().unwrap();
    let moved = home.path().join("moved-home");
    localgpt(home.path())
        .env("LOCALGPT_HOME", &moved)
        .args(["config", "init"])
        .assert()
        .success();
    assert!(moved.join("config.toml").is_file());
    assert!(moved.join("workspace/MEMORY.md").is_file());
    localgpt(home.path())
        .env("LOCALGPT_HOME", &moved)
        .args(["config", "path"])
        .assert()
        .success()
        .stdout(format!("{}\n", moved.join("config.toml").display()));
}

#[test]
fn set_keeps_comments_and_refuses_bad_values() {
    let home = tempfile::tempdir().unwrap();
    init(home.path());
    let config_file = home.path().join("config.toml");
    localgpt(home.path())
        .args(["config", "set", "heartbeat.interval", "1h30m"])
        .assert()
        .success()
        .stdout("heartbeat.interval = 1h30m\n");
    let text = std::fs::read_to_string(&config_file).unwrap();
    assert!(text.contains("\ninterval = \"1h30m\""), "{text}");
    assert!(text.contains("# LocalGPT configuration."));
    let before = std::fs::read_to_string(&config_file).unwrap();
    localgpt(home.path())
        .args(["config", "set", "heartbeat.interval", "often"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("heartbeat.interval"));
    localgpt(home.path())
        .args(["config", "set", "heartbeat.intervl", "1h"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "did you mean `heartbeat.interval`?",
        ));
    assert_eq!(
        std::fs::read_to_string(&config_file).unwrap(),
        before,
        "a refused set must not change the file"
    );
}

#[test]
fn init_picks_anthropic_when_its_key_is_set() {
    let home = tempfile::tempdir().unwrap();
    localgpt(home.path())
        .env("ANTHROPIC_API_KEY", "sk-ant-test")
        .args(["config", "init"])
        .assert()
        .success()
        .stdout(predicate::str::contains("default model: anthropic/"))
        .stdout(predicate::str::contains("ANTHROPIC_API_KEY is set"));
}

#[test]
fn init_picks_claude_cli_when_on_path() {
    let home = tempfile::tempdir().unwrap();
    let bin = home.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let claude = bin.join("claude");
    std::fs::write(&claude, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&claude, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    localgpt(home.path())
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .args(["config", "init"])
        .assert()
        .success()
        .stdout(predicate::str::contains("default model: claude-cli/opus"));
}

#[test]
fn init_picks_an_ollama_model_when_a_server_answers() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buffer = [0u8; 1024];
        let read = stream.read(&mut buffer).unwrap();
        assert!(String::from_utf8_lossy(&buffer[..read]).starts_with("GET /api/tags "));
        let body = r#"{"models":[{"name":"llama3.2:3b"},{"name":"qwen2.5:7b"}]}"#;
        write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    });
    let home = tempfile::tempdir().unwrap();
    localgpt(home.path())
        .env("OLLAMA_HOST", address.to_string())
        .args(["config", "init"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "default model: ollama/llama3.2:3b",
        ));
    server.join().unwrap();
    localgpt(home.path())
        .args(["config", "get", "providers.ollama.endpoint"])
        .assert()
        .success()
        .stdout(format!("http://{address}\n"));
}

#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    use std::io::{BufRead, BufReader};
    let home = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("localgpt"))
        .args(["completion", "bash"])
        .env("LOCALGPT_HOME", home.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is gone: the rest of the script meets a closed pipe.
    let output = child.wait_with_output().unwrap();
    assert!(first.contains("localgpt"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn log_lines_are_plain_when_stderr_is_not_a_terminal() {
    let home = tempfile::tempdir().unwrap();
    localgpt(home.path())
        .args(["config", "init"])
        .assert()
        .success();
    // A warning is logged (the unknown key) and, with -v, info lines too: all without colour.
    let config = home.path().join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replacen("[memory]\n", "[memory]\nchunk_tokenz = 3\n", 1),
    )
    .unwrap();
    for args in [
        vec!["-v", "memory", "reindex"],
        vec!["memory", "search", "anything"],
    ] {
        let output = localgpt(home.path()).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.is_empty(), "{args:?} logged nothing");
        assert!(
            !stderr.contains('\x1b'),
            "{args:?}: colour codes in {stderr:?}"
        );
    }
}
