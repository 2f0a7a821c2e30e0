//! Attacks on the memory commands through the real `localgpt` binary: a damaged `index.sqlite`
//! (garbage, truncated, broken schema, smashed header, empty) must never stop `memory search`,
//! `memory reindex --force`, `memory stats` or `ask`; symlinks planted in the workspace that lead
//! into `~/.ssh`, `~/.aws` or LocalGPT's own config must never put their text in any output or
//! any model request; odd file names print escaped on one line; the index file is private.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use common::{localgpt, run_ok};
use localgpt_provider_script::{Script, ScriptedServer, Turn};

const PROVIDER_KEY: &str = "sk-adversarial-key-4321";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// A home (also `$HOME`) whose model is `openai/gpt-test` on `server` (or nowhere), keyword-only
/// memory, and notes that know where the spare key is.
fn home_with_notes(server: Option<&ScriptedServer>) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let url = server.map_or("http://127.0.0.1:1/v1".to_owned(), |s| s.url("v1"));
    std::fs::write(
        home.path().join("config.toml"),
        format!(
            "[agent]\ndefault_model = \"openai/gpt-test\"\n\n[providers.openai]\nbase_url = \"{url}\"\napi_key = \"{PROVIDER_KEY}\"\n\n[memory]\nembedding = \"none\"\n"
        ),
    )
    .unwrap();
    let ws = home.path().join("workspace");
    std::fs::create_dir_all(ws.join("memory")).unwrap();
    std::fs::write(
        ws.join("MEMORY.md"),
        "# Home\n\nThe spare house key is under the blue flowerpot.\n",
    )
    .unwrap();
    for n in 0..40 {
        std::fs::write(
            ws.join(format!("memory/2026-01-{:02}.md", n % 28 + 1)),
            format!(
                "# Day {n}\n\n{}\n",
                "Walked the dog along the river. ".repeat(30)
            ),
        )
        .unwrap();
    }
    home
}

fn index_file(home: &Path) -> std::path::PathBuf {
    home.join("state/index.sqlite")
}

fn damage(kind: &str, index: &Path) {
    let bytes = std::fs::read(index).unwrap();
    let damaged = match kind {
        "garbage" => b"not a database at all\n".repeat(500),
        "truncated" => bytes[..bytes.len() / 3].to_vec(),
        "zero-length" => Vec::new(),
        "header-smashed" => {
            let mut out = bytes.clone();
            out[..16].copy_from_slice(b"Totally NotSQL!\0");
            out
        }
        "schema-renamed" => {
            // The `files` table renamed in the schema text: the file opens, the schema is wrong.
            let needle = b"CREATE TABLE files";
            let at = bytes
                .windows(needle.len())
                .position(|window| window == needle)
                .expect("schema text");
            let mut out = bytes.clone();
            out[at + needle.len() - 1] = b'z';
            out
        }
        "pages-smashed" => {
            let mut out = bytes.clone();
            let from = (bytes.len() / 2) & !4095;
            for byte in &mut out[from..] {
                *byte = 0xee;
            }
            out
        }
        other => panic!("unknown damage {other}"),
    };
    std::fs::write(index, damaged).unwrap();
    for suffix in ["-wal", "-shm"] {
        let mut name = index.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(name);
    }
}

const DAMAGE: &[&str] = &[
    "garbage",
    "truncated",
    "zero-length",
    "header-smashed",
    "schema-renamed",
    "pages-smashed",
];

fn fresh_index(home: &Path) {
    run_ok(localgpt(home).args(["memory", "reindex", "--force"]));
    // One more run folds the log into the file, so damage to the file is damage to the index.
    run_ok(localgpt(home).args(["memory", "stats"]));
}

#[test]
fn memory_commands_heal_a_damaged_index() {
    for kind in DAMAGE {
        let home = home_with_notes(None);
        let home = home.path();

        fresh_index(home);
        damage(kind, &index_file(home));
        let output = run_ok(localgpt(home).args(["memory", "search", "spare key", "--json"]));
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(json["results"][0]["path"], "MEMORY.md", "{kind}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        if *kind != "zero-length" {
            assert!(
                stderr.contains("index.sqlite.corrupt-"),
                "{kind}: the warning does not name where the file went: {stderr}"
            );
        }

        fresh_index(home);
        damage(kind, &index_file(home));
        let output = run_ok(localgpt(home).args(["memory", "reindex", "--force", "--json"]));
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert!(report["files_indexed"].as_u64().unwrap() >= 29, "{kind}");

        fresh_index(home);
        damage(kind, &index_file(home));
        let output = run_ok(localgpt(home).args(["memory", "stats", "--json"]));
        let stats: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert!(stats["files"].as_u64().unwrap() >= 29, "{kind}: {stats}");

        let moved = std::fs::read_dir(home.join("state"))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.to_string_lossy().contains("index.sqlite.corrupt-"))
            .filter(|path| !path.to_string_lossy().ends_with("-wal"))
            .filter(|path| !path.to_string_lossy().ends_with("-shm"))
            .count();
        match *kind {
            "zero-length" => assert_eq!(moved, 0, "an empty file is a valid empty index"),
            // `stats` reads only intact pages there, so it answers without needing a rebuild.
            "pages-smashed" => assert!(moved >= 2, "{kind}: {moved}"),
            _ => assert_eq!(moved, 3, "{kind}: each damaged file is kept aside"),
        }
    }
}

#[test]
fn ask_works_on_a_damaged_index_and_finds_the_notes() {
    for kind in ["garbage", "truncated", "schema-renamed", "pages-smashed"] {
        let runtime = runtime();
        let server = runtime.block_on(ScriptedServer::start(
            Script::new()
                .turn(Turn::tool_call("memory_search", r#"{"query":"spare key"}"#))
                .turn(Turn::text(["Under the flowerpot."])),
        ));
        let home = home_with_notes(Some(&server));
        fresh_index(home.path());
        damage(kind, &index_file(home.path()));
        let output = run_ok(localgpt(home.path()).args(["ask", "Where is the spare key?"]));
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "Under the flowerpot.\n",
            "{kind}"
        );
        let requests = server.requests();
        assert_eq!(requests.len(), 2, "{kind}");
        let second = requests[1].body.to_string();
        assert!(second.contains("blue flowerpot"), "{kind}: {second}");
    }
}

/// Plants links from the workspace into the credential folders of `$HOME` and LocalGPT's own
/// config; returns the secrets they lead to.
fn plant_links(home: &Path) -> Vec<&'static str> {
    let ws = home.join("workspace");
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    std::fs::write(
        home.join(".ssh/id_rsa"),
        "-----BEGIN OPENSSH PRIVATE KEY-----\nsshkeymaterialquebec\n",
    )
    .unwrap();
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    std::fs::write(
        home.join(".aws/credentials.md"),
        "# aws\n\naws_secret_access_key = awskeymaterialpapa\n",
    )
    .unwrap();
    std::fs::create_dir_all(home.join("elsewhere")).unwrap();
    std::fs::write(
        home.join("elsewhere/hop.md"),
        "# hop\n\nsshkeymaterialquebec never here\n",
    )
    .unwrap();
    symlink(home.join(".ssh/id_rsa"), ws.join("notes.md")).unwrap();
    symlink(home.join(".aws"), ws.join("cloud")).unwrap();
    symlink(home.join("config.toml"), ws.join("settings.md")).unwrap();
    symlink("../.ssh/id_rsa", ws.join("relative.md")).unwrap();
    symlink(home.join("state"), ws.join("state-notes")).unwrap();
    vec!["sshkeymaterialquebec", "awskeymaterialpapa", PROVIDER_KEY]
}

#[test]
fn symlinked_secrets_never_reach_search_output_or_the_model() {
    let runtime = runtime();
    let server = runtime.block_on(ScriptedServer::start(
        Script::new()
            .turn(Turn::tool_call(
                "memory_search",
                r#"{"query":"aws_secret_access_key api_key providers openai BEGIN OPENSSH PRIVATE KEY hop"}"#,
            ))
            .turn(Turn::text(["Nothing found."])),
    ));
    let home = home_with_notes(Some(&server));
    let secrets = plant_links(home.path());
    let reindex = run_ok(localgpt(home.path()).args(["memory", "reindex"]));
    let warnings = String::from_utf8_lossy(&reindex.stderr);
    for link in ["notes.md", "cloud", "settings.md", "relative.md"] {
        assert!(
            warnings.contains(&format!("workspace/{link}")),
            "{link} not named: {warnings}"
        );
    }
    let mut seen = String::from_utf8_lossy(&reindex.stdout).into_owned() + &warnings;
    // The queries name the words around each secret, never the secret itself.
    for query in [
        "aws_secret_access_key",
        "api_key providers openai",
        "OPENSSH PRIVATE KEY",
        "hop never here",
    ] {
        for args in [
            vec!["memory", "search", query],
            vec!["memory", "search", query, "--json"],
        ] {
            let output = run_ok(localgpt(home.path()).args(&args));
            seen += &String::from_utf8_lossy(&output.stdout);
            seen += &String::from_utf8_lossy(&output.stderr);
        }
    }
    let output = run_ok(localgpt(home.path()).args(["ask", "what is in my notes?"]));
    seen += &String::from_utf8_lossy(&output.stdout);
    let requests: Vec<String> = server
        .requests()
        .iter()
        .map(|request| request.body.to_string())
        .collect();
    assert_eq!(requests.len(), 2);
    seen += &requests.join("\n");
    for secret in &secrets {
        assert!(!seen.contains(secret), "{secret} leaked");
    }
    let index = std::fs::read(index_file(home.path())).unwrap();
    for secret in &secrets {
        assert!(
            !index.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} reached the index"
        );
    }
}

#[test]
fn odd_file_names_print_escaped_on_one_line() {
    let home = home_with_notes(None);
    let ws = home.path().join("workspace");
    let name = |bytes: &[u8]| ws.join(OsStr::from_bytes(bytes));
    std::fs::write(name(b"bad\xffname.md"), "# Bad\n\nfalcon one\n").unwrap();
    std::fs::write(name(b"line\nbreak.md"), "# Two\n\nfalcon two\n").unwrap();
    std::fs::write(
        name(b"esc\x1b]52;c;cHduZWQ=\x07\x1b[2J.md"),
        "# Esc\n\nfalcon three\n",
    )
    .unwrap();
    std::fs::write(
        ws.join("heading.md"),
        "# Title \x1b]0;pwned\x07\n\nfalcon four \x1b[2J\n",
    )
    .unwrap();
    let output = run_ok(localgpt(home.path()).args(["memory", "search", "falcon"]));
    // stdout carries no escape at all; stderr's log lines may be coloured, but none of the
    // planted sequences gets through.
    assert!(!output.stdout.contains(&0x1b));
    for stream in [&output.stdout, &output.stderr] {
        for planted in [&b"\x1b]52"[..], b"\x1b[2J", b"\x1b]0;", b"\x07", b"\xff"] {
            assert!(
                !stream.windows(planted.len()).any(|w| w == planted),
                "{}",
                String::from_utf8_lossy(stream)
            );
        }
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stdout.contains("line\\nbreak.md:"), "{stdout}");
    assert!(
        stdout.contains("esc\\x1b]52;c;cHduZWQ=\\x07\\x1b[2J.md:"),
        "{stdout}"
    );
    // Every result line starts with its rank: no name or text forged a line of its own.
    let results: Vec<&str> = stdout
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with("   "))
        .collect();
    assert_eq!(results.len(), 3, "{stdout}");
    assert!(
        results
            .iter()
            .all(|line| line.as_bytes()[0].is_ascii_digit())
    );
    // The name that is not UTF-8 is skipped, and named escaped.
    assert!(stderr.contains("bad\\xffname.md"), "{stderr}");
    assert!(!stdout.contains('\u{fffd}'));

    // The JSON names open the very files.
    let output = run_ok(localgpt(home.path()).args(["memory", "search", "falcon", "--json"]));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    for hit in json["results"].as_array().unwrap() {
        let path = hit["path"].as_str().unwrap();
        assert!(ws.join(path).is_file(), "{path:?} does not open");
    }
}

#[test]
fn the_index_is_private() {
    let home = home_with_notes(None);
    let index = index_file(home.path());
    std::fs::create_dir_all(index.parent().unwrap()).unwrap();
    run_ok(localgpt(home.path()).args(["memory", "reindex"]));
    for suffix in ["", "-wal", "-shm"] {
        let mut name = index.as_os_str().to_owned();
        name.push(suffix);
        if let Ok(meta) = std::fs::metadata(&name) {
            assert_eq!(
                meta.permissions().mode() & 0o077,
                0,
                "{} is readable by others",
                Path::new(&name).display()
            );
        }
    }
    // One left readable by an older version is tightened.
    std::fs::set_permissions(&index, std::fs::Permissions::from_mode(0o644)).unwrap();
    run_ok(localgpt(home.path()).args(["memory", "stats"]));
    assert_eq!(
        std::fs::metadata(&index).unwrap().permissions().mode() & 0o777,
        0o600
    );
}
