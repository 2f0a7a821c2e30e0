//! A confined command started from a terminal (LocalGPT run interactively) must not reach that
//! terminal: opening `/dev/tty` to read keystrokes or write to the screen, and pushing input into
//! it with `TIOCSTI`, all fail. The suite runs itself again under `script`, which gives it a
//! pseudo-terminal as controlling terminal; an unconfined command there reaches the terminal, so
//! the test can tell.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};

use localgpt_core::config::{SandboxConfig, SandboxLevel};
use localgpt_sandbox::{Confinement, Policy};

/// Set in the run under `script`.
const UNDER_SCRIPT: &str = "LOCALGPT_SANDBOX_TEST_UNDER_SCRIPT";

const PROBE: &str = "(echo -n > /dev/tty && echo TTY-OPENED) 2>/dev/null; \
    python3 -c \"import fcntl,termios,os\n\
try:\n  fd=os.open('/dev/tty',os.O_RDWR)\nexcept OSError:\n  fd=0\n\
try:\n  fcntl.ioctl(fd,termios.TIOCSTI,b'x'); print('INJECTED')\n\
except OSError as e: print('refused',e)\"";

fn in_terminal() {
    let workspace = tempfile::tempdir().unwrap();
    let config = SandboxConfig {
        level: SandboxLevel::Strict,
        ..SandboxConfig::default()
    };
    let policy = Policy::from_config(&config, workspace.path(), None, &[], |path| {
        std::path::PathBuf::from(path)
    });
    // Unconfined, the terminal is there.
    let plain = Command::new("bash")
        .args(["-c", "(echo -n > /dev/tty && echo TTY-OPENED) 2>/dev/null"])
        .output()
        .unwrap();
    println!(
        "unconfined: {}",
        String::from_utf8_lossy(&plain.stdout).trim()
    );
    // Confined, with the terminal as its standard input (as `sandbox run` gives it).
    let mut confinement = Confinement::prepare(&policy).unwrap();
    let mut command = Command::new("bash");
    command
        .args(["-c", PROBE])
        .current_dir(workspace.path())
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    confinement.apply(&mut command);
    command.env("PATH", "/usr/bin:/bin");
    let outcome = command.output().unwrap();
    drop(confinement);
    let stdout = String::from_utf8_lossy(&outcome.stdout);
    println!("confined: {}", stdout.trim().replace('\n', " "));
}

#[test]
fn a_confined_command_cannot_reach_the_terminal() {
    if std::env::var_os(UNDER_SCRIPT).is_some() {
        in_terminal();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let inner = format!(
        "'{}' --exact a_confined_command_cannot_reach_the_terminal --nocapture",
        exe.display()
    );
    let output = Command::new("script")
        .args(["-qec", &inner, "/dev/null"])
        .env(UNDER_SCRIPT, "1")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).replace('\r', "");
    println!("{text}");
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("unconfined: TTY-OPENED"),
        "no controlling terminal to test with: {text}"
    );
    let confined = text
        .lines()
        .find(|line| line.starts_with("confined:"))
        .unwrap_or_else(|| panic!("no confined run: {text}"));
    assert!(!confined.contains("TTY-OPENED"), "{confined}");
    assert!(!confined.contains("INJECTED"), "{confined}");
    assert!(confined.contains("refused"), "{confined}");
}
