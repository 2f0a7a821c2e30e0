//! A fake `claude` command: a shell script, written at test time, that records its arguments,
//! standard input and pid, prints scripted `--output-format stream-json` lines, and then exits,
//! fails or hangs as asked.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// Builder of the fake command's output.
#[derive(Debug, Clone, Default)]
pub struct FakeClaude {
    lines: Vec<String>,
    stderr: String,
    exit_code: i32,
    hang: bool,
}

const SESSION: &str = "00000000-0000-4000-8000-000000000000";

impl FakeClaude {
    /// Starts with the `system`/`init` line the real command prints first.
    pub fn new() -> Self {
        Self::default().line(
            json!({"type": "system", "subtype": "init", "session_id": SESSION,
            "model": "claude-scripted", "tools": ["Bash", "Read"], "cwd": "/"}),
        )
    }

    /// Adds a raw output line.
    pub fn line(mut self, value: Value) -> Self {
        self.lines.push(value.to_string());
        self
    }

    /// Adds a line that is not JSON.
    pub fn raw_line(mut self, text: &str) -> Self {
        self.lines.push(text.to_owned());
        self
    }

    /// An `assistant` message with one text block.
    pub fn text(self, text: &str) -> Self {
        self.line(
            json!({"type": "assistant", "session_id": SESSION, "message": {
            "id": "msg_fake", "type": "message", "role": "assistant", "model": "claude-scripted",
            "content": [{"type": "text", "text": text}], "stop_reason": null,
            "usage": {"input_tokens": 1, "output_tokens": 1}}}),
        )
    }

    /// Claude Code running one of its own tools: the `tool_use` message and the `user` result.
    pub fn own_tool(self, name: &str, input: Value, output: &str) -> Self {
        self.line(json!({"type": "assistant", "session_id": SESSION, "message": {
            "id": "msg_fake_tool", "type": "message", "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_fake", "name": name, "input": input}]}}))
            .line(json!({"type": "user", "session_id": SESSION, "message": {"role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_fake", "content": output}]}}))
    }

    /// The final `result` line of a success.
    pub fn result(self, text: &str, input_tokens: u64, output_tokens: u64) -> Self {
        self.line(
            json!({"type": "result", "subtype": "success", "is_error": false,
            "duration_ms": 10, "num_turns": 1, "result": text, "session_id": SESSION,
            "total_cost_usd": 0.0,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens,
                      "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}}),
        )
    }

    /// The final `result` line of a failure.
    pub fn error_result(self, message: &str) -> Self {
        self.line(
            json!({"type": "result", "subtype": "success", "is_error": true,
            "result": message, "session_id": SESSION}),
        )
    }

    /// Text written to standard error.
    pub fn stderr(mut self, text: &str) -> Self {
        self.stderr = text.to_owned();
        self
    }

    /// The exit status (default 0).
    pub fn exit_code(mut self, code: i32) -> Self {
        self.exit_code = code;
        self
    }

    /// After printing, sleep instead of exiting (same pid, so the test can see it killed).
    pub fn hang(mut self) -> Self {
        self.hang = true;
        self
    }

    /// Writes the script and its data into `dir`.
    pub fn install(&self, dir: &Path) -> std::io::Result<InstalledFakeClaude> {
        fs::create_dir_all(dir)?;
        fs::write(dir.join("out.jsonl"), self.lines.join("\n") + "\n")?;
        fs::write(dir.join("err.txt"), &self.stderr)?;
        let quoted = shell_quote(&dir.to_string_lossy());
        let ending = if self.hang {
            "exec sleep 60".to_owned()
        } else {
            format!("exit {}", self.exit_code)
        };
        let script = format!(
            "#!/bin/sh\ndir={quoted}\necho $$ > \"$dir/pid\"\n\
             for arg in \"$@\"; do printf '%s\\0' \"$arg\"; done > \"$dir/args\"\n\
             cat > \"$dir/stdin\"\ncat \"$dir/out.jsonl\"\ncat \"$dir/err.txt\" >&2\n{ending}\n"
        );
        // The executable is written by a `cp` child, never opened for writing here: a writable
        // descriptor inherited by a process another test thread is forking would make running
        // the script fail with "Text file busy".
        let source = dir.join("claude.sh");
        fs::write(&source, script)?;
        let command = dir.join("claude");
        let copied = std::process::Command::new("cp")
            .arg(&source)
            .arg(&command)
            .status()?;
        if !copied.success() {
            return Err(std::io::Error::other(format!("cp failed: {copied}")));
        }
        fs::set_permissions(&command, fs::Permissions::from_mode(0o755))?;
        Ok(InstalledFakeClaude {
            dir: dir.to_owned(),
            command,
        })
    }
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// A fake `claude` on disk, and what its last run recorded.
#[derive(Debug, Clone)]
pub struct InstalledFakeClaude {
    dir: PathBuf,
    command: PathBuf,
}

impl InstalledFakeClaude {
    /// The executable to configure as `providers.claude_cli.command`.
    pub fn command(&self) -> &Path {
        &self.command
    }

    /// The arguments of the last run.
    pub fn args(&self) -> Vec<String> {
        fs::read(self.dir.join("args"))
            .map(|bytes| {
                String::from_utf8_lossy(&bytes)
                    .split('\0')
                    .filter(|arg| !arg.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// What the last run read on standard input.
    pub fn stdin(&self) -> String {
        fs::read_to_string(self.dir.join("stdin")).unwrap_or_default()
    }

    /// The pid of the last run.
    pub fn pid(&self) -> Option<u32> {
        fs::read_to_string(self.dir.join("pid"))
            .ok()
            .and_then(|text| text.trim().parse().ok())
    }
}

impl InstalledFakeClaude {
    /// Whether the last run's process is still alive (a zombie counts as dead).
    pub fn is_running(&self) -> bool {
        let Some(pid) = self.pid() else { return false };
        match fs::read_to_string(format!("/proc/{pid}/stat")) {
            // The state follows the parenthesised command name.
            Ok(stat) => stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
            Err(_) if Path::new("/proc/self").exists() => false,
            Err(_) => std::process::Command::new("kill")
                .args(["-0", &pid.to_string()])
                .status()
                .is_ok_and(|status| status.success()),
        }
    }
}
