//! Script tools end to end with the real binary: `tools list` shows what each tool may use and
//! what is wrong with the others (file and fix, terminal escapes neutralised), `tools test` runs
//! one under its policy (refusing a read of LocalGPT's config), and a scripted model calls a
//! script tool in an `ask` turn, gets its result, and gets a refusal — never a secret — when it
//! steers the script at the config, the state or `~/.ssh`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::localgpt;
use localgpt_provider_script::{Script, ScriptedServer, Turn};

const CONFIG_KEY: &str = "sk-test-CONFIG-SCRIPT-3b7d";
const STATE_SECRET: &str = "STATE-PLANTED-SCRIPT-8e21";
const SSH_SECRET: &str = "SSH-PLANTED-SCRIPT-11f0";

const READER_JS: &str = r#"
function run(args) {
  const text = fs.read(args.path);
  const words = text.split(/\s+/).filter(w => w.length > 0).length;
  return { path: args.path, words: words };
}
"#;

const READER_TOML: &str = r#"
description = "Counts the words of a note."
[parameters]
type = "object"
required = ["path"]
properties.path = { type = "string", description = "A note under notes/" }
[permissions]
read = ["notes"]
timeout_ms = 2000
"#;

/// A home (also `HOME`) with planted secrets and two script tools, one of them broken.
fn home_for(server_url: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        format!(
            "[agent]\ndefault_model = \"openai/gpt-test\"\nrequire_approval = []\nguard_after_untrusted = false\n\n[providers.openai]\nbase_url = \"{server_url}\"\napi_key = \"{CONFIG_KEY}\"\n\n[memory]\nembedding = \"none\"\n"
        ),
    )
    .unwrap();
    let tools = home.path().join("workspace/tools");
    std::fs::create_dir_all(&tools).unwrap();
    std::fs::create_dir_all(home.path().join("workspace/notes")).unwrap();
    std::fs::write(
        home.path().join("workspace/notes/a.md"),
        "one two three four five",
    )
    .unwrap();
    std::fs::write(tools.join("word_count.js"), READER_JS).unwrap();
    std::fs::write(tools.join("word_count.toml"), READER_TOML).unwrap();
    // A manifest asking for the whole workspace to be writable, with an escape in its name.
    std::fs::write(tools.join("greedy.js"), "function run() { return 1; }").unwrap();
    std::fs::write(
        tools.join("greedy.toml"),
        "description = \"Greedy \\u001b[31mred\"\n[permissions]\nwrite = [\".\"]\n",
    )
    .unwrap();
    std::fs::write(tools.join("orphan.js"), "function run() {}").unwrap();
    // A skill that ships a tool of its own.
    let skill = home.path().join("workspace/skills/journal");
    std::fs::create_dir_all(skill.join("tools")).unwrap();
    std::fs::write(
        skill.join("SKILL.md"),
        "---\nname: journal\ndescription: Keep a journal\n---\nWrite entries.\n",
    )
    .unwrap();
    std::fs::write(
        skill.join("tools/today.js"),
        "function run() { return 'journal tool'; }",
    )
    .unwrap();
    std::fs::write(
        skill.join("tools/today.toml"),
        "description = \"Today's journal page.\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(home.path().join(".ssh")).unwrap();
    std::fs::write(home.path().join(".ssh/id_ed25519"), SSH_SECRET).unwrap();
    std::fs::create_dir_all(home.path().join("state")).unwrap();
    std::fs::write(home.path().join("state/planted.txt"), STATE_SECRET).unwrap();
    home
}

fn links(home: &Path) {
    let notes = home.join("workspace/notes");
    std::os::unix::fs::symlink(home.join("config.toml"), notes.join("config.md")).unwrap();
    std::os::unix::fs::symlink(home.join("state"), notes.join("state")).unwrap();
    std::os::unix::fs::symlink(home.join(".ssh"), notes.join("ssh")).unwrap();
}

fn text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn tools_list_shows_permissions_and_problems_with_their_fix() {
    let home = home_for("http://127.0.0.1:1/v1");
    let output = localgpt(home.path())
        .args(["tools", "list"])
        .output()
        .unwrap();
    let all = text(&output);
    assert!(output.status.success(), "{all}");
    assert!(
        all.contains("js_word_count  Counts the words of a note."),
        "{all}"
    );
    assert!(all.contains("read: notes"), "{all}");
    assert!(all.contains("limits: 2000 ms, 32 MiB"), "{all}");
    assert!(all.contains("greedy.toml"), "{all}");
    assert!(all.contains("tools or skills"), "{all}");
    assert!(all.contains("fix: "), "{all}");
    assert!(all.contains("orphan.js"), "{all}");
    assert!(
        !all.contains('\u{1b}'),
        "a terminal escape was printed: {all:?}"
    );
    assert!(
        !all.contains("js_greedy"),
        "a broken tool is offered: {all}"
    );

    let json = localgpt(home.path())
        .args(["tools", "list", "--json"])
        .output()
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["tools"][0]["name"], "js_word_count");
    assert_eq!(value["tools"][1]["name"], "js_today");
    assert_eq!(value["problems"].as_array().unwrap().len(), 2);
}

#[test]
fn tools_test_runs_under_the_policy() {
    let home = home_for("http://127.0.0.1:1/v1");
    links(home.path());
    let skill_tool = localgpt(home.path())
        .args(["tools", "test", "js_today"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&skill_tool.stdout),
        "journal tool\n"
    );
    let output = localgpt(home.path())
        .args(["tools", "test", "word_count", r#"{"path": "notes/a.md"}"#])
        .output()
        .unwrap();
    let all = text(&output);
    assert!(output.status.success(), "{all}");
    assert!(all.contains(r#""words":5"#), "{all}");

    for path in [
        "../config.toml",
        "notes/config.md",
        "notes/state/planted.txt",
        "notes/ssh/id_ed25519",
        "/etc/passwd",
    ] {
        let args = serde_json::json!({ "path": path }).to_string();
        let output = localgpt(home.path())
            .args(["tools", "test", "js_word_count", &args, "--json"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{path}: {}", text(&output));
        let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(value["ok"], false);
        let error = value["error"].as_str().unwrap();
        assert!(error.contains("refused"), "{path}: {error}");
        for secret in [CONFIG_KEY, STATE_SECRET, SSH_SECRET] {
            assert!(!text(&output).contains(secret), "{path} leaked");
        }
    }
    let missing = localgpt(home.path())
        .args(["tools", "test", "greedy", "{}"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(
        text(&missing).contains("no script tool `greedy`"),
        "{}",
        text(&missing)
    );
}

#[test]
fn a_model_calls_a_script_tool_and_cannot_steer_it_at_secrets() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let call = |path: &str| {
        Turn::tool_call(
            "js_word_count",
            &serde_json::json!({ "path": path }).to_string(),
        )
    };
    let attacks = [
        "../config.toml",
        "notes/config.md",
        "notes/state/planted.txt",
        "notes/ssh/id_ed25519",
    ];
    let mut script = Script::new().turn(call("notes/a.md"));
    for attack in attacks {
        script = script.turn(call(attack));
    }
    let server = runtime.block_on(ScriptedServer::start(
        script.turn(Turn::text(["The note has five words."])),
    ));
    let home = home_for(&server.url("v1"));
    links(home.path());
    let output = localgpt(home.path())
        .args(["ask", "--json", "count the words of notes/a.md"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let requests = server.requests();
    assert_eq!(requests.len(), attacks.len() + 2);
    // The script tool is offered like a built-in one, and its result reaches the model.
    let first = requests[0].body.to_string();
    assert!(first.contains("js_word_count"), "{first}");
    let after_call = requests[1].body.to_string();
    assert!(after_call.contains(r#"\"words\":5"#), "{after_call}");
    let mut escapes = Vec::new();
    for (attack, request) in attacks.iter().zip(requests.iter().skip(2)) {
        let body = request.body.to_string();
        if [CONFIG_KEY, STATE_SECRET, SSH_SECRET]
            .iter()
            .any(|secret| body.contains(secret))
        {
            escapes.push(*attack);
        }
        assert!(
            body.contains("refused"),
            "{attack}: the model was not told why"
        );
    }
    println!("{} escapes of {} attempts", escapes.len(), attacks.len());
    assert!(escapes.is_empty(), "escaped: {escapes:?}");
}
