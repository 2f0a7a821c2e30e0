//! The official `openai` Python SDK against the daemon's OpenAI-compatible endpoints, unchanged:
//! models list, a completion, and a streamed completion. Skips with a message when the SDK is not
//! installed (`scripts/setup.sh` installs it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::localgpt;
use localgpt_provider_script::{Script, ScriptedServer, Turn};

const CLIENT: &str = r#"
import sys, openai
client = openai.OpenAI(base_url=sys.argv[1] + "/v1", api_key="unused-on-loopback")
print("models:", [m.id for m in client.models.list().data])
reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Say hello"}])
print("reply:", reply.choices[0].message.content, reply.usage.total_tokens)
stream = client.chat.completions.create(model="gpt-4o", stream=True,
    messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Count"}])
print("stream:", "|".join(c.choices[0].delta.content or "" for c in stream if c.choices))
"#;

#[test]
fn the_openai_python_sdk_works_against_the_daemon() {
    let sdk = Command::new("python3")
        .args(["-c", "import openai"])
        .status();
    assert!(
        sdk.is_ok_and(|status| status.success()),
        "the openai Python package is not installed: scripts/setup.sh installs it"
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(ScriptedServer::start(
        Script::new()
            .turn(Turn::text(["Hello ", "there."]).usage(11, 2))
            .turn(Turn::text(["one ", "two ", "three"])),
    ));
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        format!(
            "[agent]\ndefault_model = \"openai/gpt-test\"\n[providers.openai]\nbase_url = \"{}\"\napi_key = \"sk-test\"\n[memory]\nembedding = \"none\"\n[server]\nport = 0\n[heartbeat]\nenabled = false\n",
            server.url("v1")
        ),
    )
    .unwrap();
    let started = localgpt(home.path())
        .args(["daemon", "start"])
        .output()
        .unwrap();
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let pid_file = std::fs::read_to_string(home.path().join("state/daemon.pid")).unwrap();
    let base = format!("http://{}", pid_file.lines().nth(1).unwrap());
    let output = Command::new("python3")
        .args(["-c", CLIENT, &base])
        .output()
        .unwrap();
    let _ = localgpt(home.path()).args(["daemon", "stop"]).output();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("models: ['openai/gpt-test']"), "{stdout}");
    assert!(stdout.contains("reply: Hello there. 13"), "{stdout}");
    assert!(stdout.contains("stream: |one |two |three|"), "{stdout}");
    // The system message and the question reached the model as the turn's input.
    let last = server.requests().last().unwrap().body.to_string();
    assert!(
        last.contains("Be brief.") && last.contains("Count"),
        "{last}"
    );
}
