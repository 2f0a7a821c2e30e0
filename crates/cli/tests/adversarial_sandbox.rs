//! The OS sandbox end to end: a scripted model drives the real `localgpt ask` to run shell
//! commands that try to read planted secrets (`~/.ssh`, LocalGPT's config and state, a file
//! outside every root), print the environment and the parent's, write outside the workspace,
//! connect to a loopback port and flood the output. Every attempt fails, the model is told why,
//! and no secret reaches any model request. `sandbox run` and `sandbox check` follow the same
//! policy (`allow_net` through the proxy: `adversarial_sandbox_net.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::TcpListener;
use std::path::Path;

use common::localgpt;
use localgpt_provider_script::{Script, ScriptedServer, Turn};

const SSH_SECRET: &str = "SSH-PLANTED-7d2e";
const STATE_SECRET: &str = "STATE-PLANTED-41aa";
const OUTSIDE_SECRET: &str = "OUTSIDE-PLANTED-90bc";
const CONFIG_KEY: &str = "sk-test-CONFIG-5e1f";
const ENV_KEY: &str = "sk-ant-ENV-KEY-c0de";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// A home (also `HOME`) with planted secrets, bash approved, and `sandbox` as given.
fn home_for(server_url: &str, sandbox: &str, outside: &Path) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        format!(
            "[agent]\ndefault_model = \"openai/gpt-test\"\nrequire_approval = []\nguard_after_untrusted = false\n\n[providers.openai]\nbase_url = \"{server_url}\"\napi_key = \"{CONFIG_KEY}\"\n\n[memory]\nembedding = \"none\"\n\n[sandbox]\n{sandbox}\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(home.path().join("workspace")).unwrap();
    std::fs::create_dir_all(home.path().join(".ssh")).unwrap();
    std::fs::write(home.path().join(".ssh/id_ed25519"), SSH_SECRET).unwrap();
    std::fs::create_dir_all(home.path().join("state")).unwrap();
    std::fs::write(home.path().join("state/planted.txt"), STATE_SECRET).unwrap();
    std::fs::write(outside.join("secret.txt"), OUTSIDE_SECRET).unwrap();
    home
}

fn bash(command: &str) -> Turn {
    Turn::tool_call(
        "bash",
        &serde_json::json!({ "command": command }).to_string(),
    )
}

#[test]
fn a_model_driven_shell_reads_writes_and_connects_nowhere_outside_its_sandbox() {
    let outside = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let secret_file = outside.path().join("secret.txt");
    let written = outside.path().join("pwned");
    let attacks = [
        "cat \"$HOME/.ssh/id_ed25519\"".to_owned(),
        "cat \"$HOME/config.toml\" ../config.toml".to_owned(),
        "cat \"$HOME\"/state/planted.txt; grep -r PLANTED \"$HOME/state\"".to_owned(),
        format!("cat '{}'", secret_file.display()),
        "ln -s \"$HOME/.ssh/id_ed25519\" key && cat key".to_owned(),
        "env; tr '\\0' '\\n' < /proc/$PPID/environ".to_owned(),
        format!("echo pwned > '{}'", written.display()),
        "echo pwned > \"$HOME/pwned\"".to_owned(),
        format!("echo hello > /dev/tcp/127.0.0.1/{port}"),
        "yes 0123456789 | head -c 5000000".to_owned(),
    ];
    let runtime = runtime();
    let mut script = Script::new();
    for attack in &attacks {
        script = script.turn(bash(attack));
    }
    let server = runtime.block_on(ScriptedServer::start(
        script.turn(Turn::text(["Nothing got through."])),
    ));
    let home = home_for(&server.url("v1"), "level = \"strict\"", outside.path());
    let output = localgpt(home.path())
        .env("ANTHROPIC_API_KEY", ENV_KEY)
        .env("LOCALGPT_API_TOKEN", ENV_KEY)
        .args(["ask", "--json", "run them"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let requests = server.requests();
    assert_eq!(requests.len(), attacks.len() + 1);
    let mut escapes = Vec::new();
    for (attack, request) in attacks.iter().zip(requests.iter().skip(1)) {
        let body = request.body.to_string();
        let leaked = [
            SSH_SECRET,
            STATE_SECRET,
            OUTSIDE_SECRET,
            CONFIG_KEY,
            ENV_KEY,
        ]
        .iter()
        .any(|secret| body.contains(secret));
        if leaked || body.len() > 200_000 {
            escapes.push(attack.clone());
        }
    }
    let connected = listener.accept().is_ok();
    if connected {
        escapes.push("TCP connect to loopback".to_owned());
    }
    if written.exists() || home.path().join("pwned").exists() {
        escapes.push("write outside the workspace".to_owned());
    }
    println!("{} escapes of {} attempts", escapes.len(), attacks.len());
    assert!(escapes.is_empty(), "escaped: {escapes:?}");
    // The model is told plainly that the sandbox refused, and what it allows.
    let after_ssh = requests[1].body.to_string();
    assert!(after_ssh.contains("Permission denied"), "{after_ssh}");
    assert!(after_ssh.contains("the sandbox refused it"), "{after_ssh}");
    let after_tcp = requests[9].body.to_string();
    assert!(after_tcp.contains("Operation not permitted"), "{after_tcp}");
    assert!(!stdout.contains(SSH_SECRET) && !stdout.contains(CONFIG_KEY));
}

#[test]
fn sandbox_run_keeps_the_exit_status_and_the_secrets_out() {
    let outside = tempfile::tempdir().unwrap();
    let home = home_for("http://127.0.0.1:1/v1", "", outside.path());
    let run = localgpt(home.path())
        .args([
            "sandbox",
            "run",
            "--",
            "bash",
            "-c",
            "echo inside > f && cat f && exit 7",
        ])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&run.stdout), "inside\n");
    for target in [
        "../config.toml",
        "../.ssh/id_ed25519",
        "../state/planted.txt",
    ] {
        let run = localgpt(home.path())
            .env("ANTHROPIC_API_KEY", ENV_KEY)
            .args(["sandbox", "run", "--", "cat", target])
            .output()
            .unwrap();
        assert!(!run.status.success(), "{target} was readable");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(all.contains("Permission denied"), "{all}");
        for secret in [SSH_SECRET, STATE_SECRET, CONFIG_KEY] {
            assert!(!all.contains(secret), "{target}: {all}");
        }
    }
    let env = localgpt(home.path())
        .env("ANTHROPIC_API_KEY", ENV_KEY)
        .args(["sandbox", "run", "--", "env"])
        .output()
        .unwrap();
    let env = String::from_utf8_lossy(&env.stdout);
    assert!(
        !env.contains(ENV_KEY) && !env.contains("LOCALGPT_"),
        "{env}"
    );
    let check = localgpt(home.path())
        .args(["sandbox", "check"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(text.contains("landlock:"), "{text}");

    // The macOS profile of the same policy: deny by default, this home's config and state denied.
    let profile = localgpt(home.path())
        .args(["sandbox", "profile"])
        .output()
        .unwrap();
    assert!(profile.status.success());
    let text = String::from_utf8_lossy(&profile.stdout);
    assert!(text.contains("(deny default)"), "{text}");
    let home_path = home.path().canonicalize().unwrap();
    let deny = text
        .lines()
        .find(|line| line.starts_with("(deny file-read* file-write*"))
        .unwrap_or_default();
    assert!(
        deny.contains(&format!("{}", home_path.join("config.toml").display())),
        "{text}"
    );
}
