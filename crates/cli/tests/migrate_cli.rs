//! `localgpt migrate openclaw` on an OpenClaw home laid out as OpenClaw writes it: the workspace
//! seeded from the templates in OpenClaw's own npm package, one of its bundled skills, a Pi v3
//! session transcript (and the archive of a reset one), and a JSON5 `openclaw.json`. The source
//! must come out byte for byte unchanged and nothing LocalGPT has may be overwritten.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{localgpt, run_ok};
use serde_json::Value;

const SESSION_ID: &str = "0b1c2d3e-aaaa-bbbb-cccc-000000000001";

fn openclaw_package() -> PathBuf {
    std::env::var_os("LOCALGPT_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::home_dir()
                .unwrap()
                .join(".cache/localgpt/test-data")
        })
        .join("openclaw/package")
}

/// An OpenClaw home: workspace from the package's templates, a skill, sessions, config.
fn openclaw_home(root: &Path) {
    let package = openclaw_package();
    assert!(
        package.join("package.json").exists(),
        "OpenClaw's npm package is missing at {}: run scripts/setup.sh",
        package.display()
    );
    let workspace = root.join("workspace");
    std::fs::create_dir_all(workspace.join("memory")).unwrap();
    for name in [
        "AGENTS.md",
        "SOUL.md",
        "TOOLS.md",
        "IDENTITY.md",
        "HEARTBEAT.md",
    ] {
        std::fs::copy(
            package.join("docs/reference/templates").join(name),
            workspace.join(name),
        )
        .unwrap();
    }
    std::fs::write(
        workspace.join("MEMORY.md"),
        "# Memory\n\nThe boat is blue.\n",
    )
    .unwrap();
    std::fs::write(
        workspace.join("memory/2026-01-18.md"),
        "# 2026-01-18\n\n- Bought rope.\n",
    )
    .unwrap();
    std::fs::create_dir_all(workspace.join(".openclaw")).unwrap();
    std::fs::write(
        workspace.join(".openclaw/workspace-state.json"),
        r#"{"version":1}"#,
    )
    .unwrap();
    let skill = root.join("skills/weather");
    std::fs::create_dir_all(&skill).unwrap();
    std::fs::copy(
        package.join("skills/weather/SKILL.md"),
        skill.join("SKILL.md"),
    )
    .unwrap();
    let sessions = root.join("agents/main/sessions");
    std::fs::create_dir_all(&sessions).unwrap();
    let transcript = concat!(
        r#"{"type":"session","version":3,"id":"0b1c2d3e-aaaa-bbbb-cccc-000000000001","timestamp":"2026-01-18T00:19:00.000Z","cwd":"/home/me/.openclaw/workspace"}"#,
        "\n",
        r#"{"type":"message","id":"a1","parentId":null,"timestamp":"2026-01-18T00:19:01.000Z","message":{"role":"user","content":[{"type":"text","text":"Which rope did I buy?"}],"timestamp":1}}"#,
        "\n",
        r#"{"type":"message","id":"a2","parentId":"a1","timestamp":"2026-01-18T00:19:02.000Z","message":{"role":"assistant","content":[{"type":"text","text":"Climbing rope."}],"timestamp":2}}"#,
        "\n",
    );
    std::fs::write(sessions.join(format!("{SESSION_ID}.jsonl")), transcript).unwrap();
    std::fs::write(
        sessions.join(format!("{SESSION_ID}.jsonl.reset.2026-01-17T00-00-00Z")),
        transcript,
    )
    .unwrap();
    std::fs::write(
        sessions.join("sessions.json"),
        r#"{"agent:main:main":{"sessionId":"0b1c2d3e-aaaa-bbbb-cccc-000000000001"}}"#,
    )
    .unwrap();
    std::fs::create_dir_all(root.join("cron")).unwrap();
    std::fs::write(
        root.join("cron/jobs.json"),
        r#"{"version": 1, "jobs": [
  {"id": "j1", "name": "digest", "enabled": true, "createdAtMs": 1, "updatedAtMs": 1,
   "schedule": {"kind": "cron", "expr": "0 8 * * *", "tz": "Europe/Berlin"},
   "sessionTarget": "isolated", "wakeMode": "now",
   "payload": {"kind": "agentTurn", "message": "Summarise yesterday.", "toolsAllow": ["memory_search", "memory_get"], "timeoutSeconds": 300},
   "state": {}},
  {"id": "j2", "name": "reminder", "enabled": true, "schedule": {"kind": "at", "at": "2026-02-01T09:00:00Z"},
   "sessionTarget": "main", "wakeMode": "now", "payload": {"kind": "systemEvent", "text": "Call mum"}, "state": {}},
  {"id": "j3", "name": "old", "enabled": false, "schedule": {"kind": "cron", "expr": "0 9 * * 1"},
   "sessionTarget": "isolated", "wakeMode": "now", "payload": {"kind": "agentTurn", "message": "x"}, "state": {}}
]}"#,
    )
    .unwrap();
    std::fs::write(
        root.join("openclaw.json"),
        r#"{
  // written by `openclaw configure`
  agents: {
    defaults: {
      model: { primary: "anthropic/claude-sonnet-4-6", fallbacks: ["openai/gpt-4.1"] },
      heartbeat: { every: "1h", activeHours: { start: "08:00", end: "22:00", timezone: "Europe/Berlin" } },
    },
  },
  channels: { telegram: { botToken: "${TELEGRAM_BOT_TOKEN}", allowFrom: [123456789], dmPolicy: "allowlist" } },
}"#,
    )
    .unwrap();
}

/// Every file under `root` with its bytes.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

#[test]
fn an_openclaw_home_is_brought_in_without_touching_it_or_overwriting_anything() {
    let source = tempfile::tempdir().unwrap();
    openclaw_home(source.path());
    let before = snapshot(source.path());
    let home = tempfile::tempdir().unwrap();
    run_ok(localgpt(home.path()).args(["config", "init"]));
    // LocalGPT's own MEMORY.md differs from OpenClaw's: it must survive.
    let workspace = home.path().join("workspace");
    std::fs::write(workspace.join("MEMORY.md"), "# Memory\n\nMine.\n").unwrap();
    let source_arg = source.path().to_str().unwrap();

    // A dry run reports and writes nothing.
    let dry = run_ok(localgpt(home.path()).args([
        "migrate",
        "openclaw",
        source_arg,
        "--dry-run",
        "--json",
    ]));
    let planned: Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert!(!workspace.join("memory/2026-01-18.md").exists());
    assert!(
        !home
            .path()
            .join("state/sessions")
            .join(format!("{SESSION_ID}.jsonl"))
            .exists()
    );

    let run = run_ok(localgpt(home.path()).args(["migrate", "openclaw", source_arg, "--json"]));
    let report: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(
        planned["files"], report["files"],
        "the dry run showed what happened"
    );
    let action_of = |suffix: &str| {
        report["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|step| step["to"].as_str().unwrap().ends_with(suffix))
            .map(|step| step["action"].as_str().unwrap().to_owned())
    };
    assert_eq!(action_of("workspace/MEMORY.md").as_deref(), Some("kept"));
    assert_eq!(action_of("memory/2026-01-18.md").as_deref(), Some("copied"));
    assert_eq!(
        action_of("skills/weather/SKILL.md").as_deref(),
        Some("copied")
    );
    assert_eq!(
        action_of(&format!("{SESSION_ID}.jsonl")).as_deref(),
        Some("copied")
    );
    assert_eq!(
        action_of("workspace-state.json"),
        None,
        "OpenClaw's own state stays behind"
    );
    assert_eq!(action_of("sessions.json"), None);
    assert_eq!(
        report["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|step| step["to"].as_str().unwrap().contains(".reset."))
            .count(),
        0,
        "archives of reset sessions stay behind"
    );

    // The files are where LocalGPT reads them.
    assert_eq!(
        std::fs::read_to_string(workspace.join("MEMORY.md")).unwrap(),
        "# Memory\n\nMine.\n"
    );
    assert!(workspace.join("AGENTS.md").exists());
    let sessions = localgpt(home.path())
        .args(["sessions", "show", "0b1c2d3e"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&sessions.stdout).contains("Climbing rope."),
        "{}{}",
        String::from_utf8_lossy(&sessions.stdout),
        String::from_utf8_lossy(&sessions.stderr)
    );
    let skills = localgpt(home.path())
        .args(["skills", "list"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&skills.stdout).contains("weather"));

    // Settings with a LocalGPT equivalent were set; the config still loads. A `${VAR}` that is not
    // set in this shell is written (only the commands that need it fail) and reported.
    let setting = |key: &str| {
        report["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|step| step["key"] == key)
            .unwrap()
            .clone()
    };
    let token = setting("telegram.bot_token");
    assert_eq!(token["action"], "set", "{token}");
    assert!(
        token["reason"]
            .as_str()
            .unwrap()
            .contains("TELEGRAM_BOT_TOKEN"),
        "{token}"
    );
    let get = |key: &str| {
        let out = run_ok(
            localgpt(home.path())
                .args(["config", "get", key])
                .env("TELEGRAM_BOT_TOKEN", "42:secret"),
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    // `config init` chose the built-in model, so that choice stays, with the command to switch.
    assert_eq!(get("agent.default_model"), "local/smollm2-135m");
    let model = setting("agent.default_model");
    assert_eq!(model["action"], "kept");
    assert!(
        model["reason"]
            .as_str()
            .unwrap()
            .contains("localgpt config set agent.default_model 'anthropic/claude-sonnet-4-6'"),
        "{model}"
    );
    assert_eq!(get("heartbeat.interval"), "1h");
    // The recurring agent-turn job came over with its tools; the others are reported.
    let jobs = localgpt(home.path())
        .args(["jobs", "list", "--json"])
        .output()
        .unwrap();
    let jobs: Value = serde_json::from_slice(&jobs.stdout).unwrap();
    assert_eq!(jobs.as_array().unwrap().len(), 1, "{jobs}");
    assert_eq!(jobs[0]["name"], "digest");
    assert_eq!(jobs[0]["schedule"], "0 8 * * *");
    assert_eq!(
        jobs[0]["tools"],
        serde_json::json!(["memory_search", "memory_get"])
    );
    let job_step = |name: &str| setting(&format!("[[jobs]] {name}"));
    assert_eq!(job_step("digest")["action"], "set");
    assert_eq!(job_step("reminder")["action"], "skipped");
    assert!(
        job_step("reminder")["reason"]
            .as_str()
            .unwrap()
            .contains("`at` schedule")
    );
    assert_eq!(job_step("old")["reason"], "disabled in OpenClaw");
    assert_eq!(get("heartbeat.timezone"), "Europe/Berlin");
    assert_eq!(get("telegram.owner_ids"), "[123456789]");

    // Run again where the variable is set: nothing is new, and no file is copied twice.
    let again = localgpt(home.path())
        .args(["migrate", "openclaw", source_arg])
        .env("TELEGRAM_BOT_TOKEN", "42:secret")
        .output()
        .unwrap();
    let again = String::from_utf8_lossy(&again.stdout);
    assert!(again.contains("workspace files: 0 copied"), "{again}");
    assert!(
        again.contains("[[jobs]] digest = 0 8 * * * (kept"),
        "{again}"
    );
    assert!(
        again.contains("heartbeat.interval = 1h (kept: you had set it"),
        "{again}"
    );
    assert!(
        again.contains("telegram.bot_token = ${TELEGRAM_BOT_TOKEN} (kept"),
        "{again}"
    );
    assert!(!again.contains("42:secret"));
    let config = std::fs::read_to_string(home.path().join("config.toml")).unwrap();
    assert!(
        config.contains("bot_token = \"${TELEGRAM_BOT_TOKEN}\""),
        "{config}"
    );

    // The OpenClaw home is exactly as it was.
    assert_eq!(snapshot(source.path()), before);
}

#[test]
fn a_missing_openclaw_home_is_a_clear_error() {
    let home = tempfile::tempdir().unwrap();
    let out = localgpt(home.path())
        .args(["migrate", "openclaw", "/nonexistent/openclaw"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/openclaw is not a folder"));
}

#[test]
fn sessions_kept_in_openclaws_sqlite_database_come_over_and_the_database_is_untouched() {
    let source = tempfile::tempdir().unwrap();
    let agent = source.path().join("agents/main/agent");
    std::fs::create_dir_all(&agent).unwrap();
    let database = agent.join("openclaw-agent.sqlite");
    {
        let connection = rusqlite::Connection::open(&database).unwrap();
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 CREATE TABLE transcript_events (session_id TEXT, seq INTEGER, event_json TEXT, created_at INTEGER);",
            )
            .unwrap();
        let events = [
            (
                2,
                r#"{"type":"message","id":"b2","parentId":"b1","timestamp":"2026-08-02T10:00:02.000Z","message":{"role":"assistant","content":[{"type":"text","text":"Tuesday."}],"timestamp":2}}"#,
            ),
            (
                1,
                r#"{"type":"message","id":"b1","parentId":null,"timestamp":"2026-08-02T10:00:01.000Z","message":{"role":"user","content":[{"type":"text","text":"When is the market?"}],"timestamp":1}}"#,
            ),
        ];
        for (seq, event) in events {
            connection
                .execute(
                    "INSERT INTO transcript_events VALUES ('7f3e0000-1111-2222-3333-444455556666', ?1, ?2, 0)",
                    rusqlite::params![seq, event],
                )
                .unwrap();
        }
    }
    let before = snapshot(source.path());
    let home = tempfile::tempdir().unwrap();
    run_ok(localgpt(home.path()).args(["config", "init"]));
    let run = run_ok(localgpt(home.path()).args([
        "migrate",
        "openclaw",
        source.path().to_str().unwrap(),
    ]));
    assert!(
        String::from_utf8_lossy(&run.stdout).contains("session files: 1 copied"),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
    let shown = localgpt(home.path())
        .args(["sessions", "show", "7f3e0000"])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout);
    // Events in their order, under a session header made for them.
    let question = shown.find("When is the market?").unwrap();
    let answer = shown.find("Tuesday.").unwrap();
    assert!(question < answer, "{shown}");
    assert_eq!(
        snapshot(source.path()),
        before,
        "the database was not touched"
    );
}
