//! `localgpt chat` in a real terminal: tmux runs the binary, keys are sent with `send-keys` and the
//! screen is read with `capture-pane`. The model is the scripted provider server over loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use localgpt_provider_script::{Script, ScriptedServer, Turn};

/// A tmux server of our own, killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(home: &Path, args: &str) -> Self {
        assert!(
            Command::new("tmux").arg("-V").output().is_ok(),
            "tmux is not installed: scripts/setup.sh installs it"
        );
        let socket = format!("localgpt-test-{}", std::process::id() ^ rand_suffix());
        let binary = assert_cmd::cargo::cargo_bin("localgpt");
        let command = format!(
            "env -i LOCALGPT_HOME={home} HOME={home} PATH=/usr/bin:/bin TERM=xterm-256color OLLAMA_HOST=127.0.0.1:1 {binary} chat {args}; echo CHAT-EXITED-$?; sleep 30",
            home = home.display(),
            binary = binary.display(),
        );
        let status = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "new-session",
                "-d",
                "-x",
                "120",
                "-y",
                "40",
                &command,
            ])
            .status()
            .unwrap();
        assert!(status.success());
        Self { socket }
    }

    fn send(&self, keys: &[&str]) {
        let status = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys"])
            .args(keys)
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn screen(&self) -> String {
        let output = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-S", "-200"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Waits until the screen shows `text` `count` times.
    fn wait_for(&self, text: &str, count: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.screen();
            if screen.matches(text).count() >= count {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {text:?}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}

fn home_for(server: &ScriptedServer) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        format!(
            "[agent]\ndefault_model = \"openai/gpt-test\"\n\n[providers.openai]\nbase_url = \"{}\"\napi_key = \"sk-test\"\n\n[memory]\nembedding = \"none\"\n",
            server.url("v1")
        ),
    )
    .unwrap();
    std::fs::create_dir_all(home.path().join("workspace")).unwrap();
    home
}

#[test]
fn chat_streams_answers_asks_approval_cancels_and_runs_slash_commands() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(ScriptedServer::start(
        Script::new()
            .turn(Turn::text(["Hello ", "from the ", "scripted model."]))
            .turn(Turn::tool_call(
                "bash",
                r#"{"command":"echo approved > ok.txt"}"#,
            ))
            .turn(Turn::text(["Done."]))
            .turn(Turn::text(["This answer ", "never ends"]).hang())
            .turn(Turn::text(["Greeted."])),
    ));
    let home = home_for(&server);
    let tmux = Tmux::start(home.path(), "");
    tmux.wait_for("Type /help", 1);

    tmux.send(&["hi there", "Enter"]);
    tmux.wait_for("Hello from the scripted model.", 1);

    // A tool that needs approval asks on the terminal.
    tmux.send(&["make the file", "Enter"]);
    tmux.wait_for("Run `echo approved > ok.txt`? [y/N]", 1);
    tmux.send(&["y", "Enter"]);
    tmux.wait_for("Done.", 1);
    assert_eq!(
        std::fs::read_to_string(home.path().join("workspace/ok.txt")).unwrap(),
        "approved\n"
    );

    // Ctrl-C stops an answer that is still streaming; the chat goes on.
    tmux.send(&["tell me more", "Enter"]);
    tmux.wait_for("This answer never ends", 1);
    tmux.send(&["C-c"]);
    tmux.wait_for("(stopped)", 1);

    tmux.send(&["/status", "Enter"]);
    let screen = tmux.wait_for("context ", 1);
    assert!(screen.contains("model openai/gpt-test"), "{screen}");
    assert!(screen.contains("messages 8"), "{screen}");

    tmux.send(&["/nosuch", "Enter"]);
    tmux.wait_for("unknown command /nosuch", 1);

    tmux.send(&["C-d"]);
    tmux.wait_for("CHAT-EXITED-0", 1);

    // The conversation was saved as one session.
    let sessions = std::fs::read_dir(home.path().join("state/sessions"))
        .unwrap()
        .count();
    assert_eq!(sessions, 1);
}
