//! Attacks on script tools through their host functions: every attempt must fail with a clear
//! message, and nothing planted outside the tool's allowed folders may come back.

mod common;

use common::{Home, SECRET, Server, permissions, refusal};
use localgpt_scripts::ScriptError;

const READ_NOTES: &str = "read = [\"notes\"]";

#[test]
fn reads_outside_the_allowed_folders_are_refused() {
    let home = Home::new();
    let outside = home.dir.path().join("outside.txt");
    let attempts = [
        "../outside.txt".to_owned(),
        "notes/../../outside.txt".to_owned(),
        "notes/../private/diary.md".to_owned(),
        "private/diary.md".to_owned(),
        outside.display().to_string(),
        "/etc/passwd".to_owned(),
        "~/.ssh/id_ed25519".to_owned(),
        "../config.toml".to_owned(),
        "../state/tokens.json".to_owned(),
        "notes/\u{0}x".to_owned(),
    ];
    for path in attempts {
        let source = format!(
            "function run() {{ return fs.read({}); }}",
            serde_json::json!(path)
        );
        let message = refusal(home.run(&source, permissions(READ_NOTES)));
        assert!(message.contains("refused"), "{path}: {message}");
    }
    // What is allowed still works.
    let output = home
        .run(
            "function run() { return fs.read('notes/hello.md'); }",
            permissions(READ_NOTES),
        )
        .unwrap();
    assert_eq!(output.result, "hello from the notes");
}

#[test]
fn symlinks_out_of_the_allowed_folders_are_refused() {
    let home = Home::new();
    let notes = home.workspace.join("notes");
    let links = [
        ("to_outside.txt", home.dir.path().join("outside.txt")),
        ("to_dir", home.dir.path().to_path_buf()),
        ("to_private", home.workspace.join("private")),
        ("to_ssh", home.home.join(".ssh")),
        ("to_config.toml", home.config.clone()),
        ("to_state", home.state.clone()),
        ("to_proc", "/proc/self/environ".into()),
    ];
    for (name, target) in &links {
        std::os::unix::fs::symlink(target, notes.join(name)).unwrap();
    }
    for path in [
        "notes/to_outside.txt",
        "notes/to_dir/outside.txt",
        "notes/to_private/diary.md",
        "notes/to_ssh/id_ed25519",
        "notes/to_config.toml",
        "notes/to_state/tokens.json",
        "notes/to_proc",
    ] {
        let source = format!("function run() {{ return fs.read('{path}'); }}");
        let message = refusal(home.run(&source, permissions(READ_NOTES)));
        assert!(message.contains("refused"), "{path}: {message}");
    }
    // Listing through a symlinked folder is refused too; listing the notes hides nothing
    // dangerous but returns names only.
    let message = refusal(home.run(
        "function run() { return fs.list('notes/to_dir'); }",
        permissions(READ_NOTES),
    ));
    assert!(message.contains("refused"), "{message}");
}

#[test]
fn writes_through_symlinks_and_outside_are_refused() {
    let home = Home::new();
    let out = home.workspace.join("out");
    std::os::unix::fs::symlink(home.dir.path(), out.join("escape")).unwrap();
    std::os::unix::fs::symlink(home.dir.path().join("outside.txt"), out.join("victim.txt"))
        .unwrap();
    std::os::unix::fs::symlink(&home.config, out.join("config.toml")).unwrap();
    let writable = permissions("write = [\"out\"]");
    for path in [
        "out/escape/planted.txt",
        "out/escape/new/deeper.txt",
        "out/victim.txt",
        "out/config.toml",
        "../planted.txt",
        "notes/planted.txt",
        "tools/evil.js",
        "/tmp/planted.txt",
    ] {
        let source = format!("function run() {{ fs.write('{path}', 'pwned'); return 'wrote'; }}");
        let message = refusal(home.run(&source, writable.clone()));
        assert!(message.contains("refused"), "{path}: {message}");
    }
    assert!(!home.dir.path().join("planted.txt").exists());
    assert!(!home.dir.path().join("new").exists());
    assert_eq!(
        std::fs::read_to_string(home.dir.path().join("outside.txt")).unwrap(),
        SECRET
    );
    assert!(
        std::fs::read_to_string(&home.config)
            .unwrap()
            .contains(SECRET)
    );
    assert!(!home.workspace.join("tools/evil.js").exists());
    // An allowed write lands where it should.
    home.run(
        "function run() { fs.write('out/sub/result.txt', 'done'); return fs.read('out/sub/result.txt'); }",
        writable,
    )
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(home.workspace.join("out/sub/result.txt")).unwrap(),
        "done"
    );
}

#[test]
fn hard_links_to_files_outside_are_refused() {
    let home = Home::new();
    let notes = home.workspace.join("notes");
    // Same file system (all in one temporary folder), as an attacker would arrange.
    std::fs::hard_link(
        home.dir.path().join("outside.txt"),
        notes.join("linked.txt"),
    )
    .unwrap();
    std::fs::hard_link(home.home.join(".ssh/id_ed25519"), notes.join("key.txt")).unwrap();
    std::fs::hard_link(&home.config, home.workspace.join("out/config.toml")).unwrap();
    for path in ["notes/linked.txt", "notes/key.txt"] {
        let source = format!("function run() {{ return fs.read('{path}'); }}");
        let message = refusal(home.run(&source, permissions(READ_NOTES)));
        assert!(message.contains("hard links"), "{path}: {message}");
    }
    let message = refusal(home.run(
        "function run() { fs.write('out/config.toml', 'api_key = \"mine\"'); }",
        permissions("write = [\"out\"]"),
    ));
    assert!(message.contains("hard links"), "{message}");
    assert!(
        std::fs::read_to_string(&home.config)
            .unwrap()
            .contains(SECRET)
    );
}

#[test]
fn credential_folders_inside_allowed_folders_are_refused() {
    let home = Home::new();
    let ssh = home.workspace.join("notes/.ssh");
    std::fs::create_dir_all(&ssh).unwrap();
    std::fs::write(ssh.join("id_rsa"), SECRET).unwrap();
    std::fs::create_dir_all(home.workspace.join("notes/.aws")).unwrap();
    std::fs::write(home.workspace.join("notes/.aws/credentials"), SECRET).unwrap();
    let whole = permissions("read = [\".\"]");
    for path in ["notes/.ssh/id_rsa", "notes/.aws/credentials"] {
        let source = format!("function run() {{ return fs.read('{path}'); }}");
        let message = refusal(home.run(&source, whole.clone()));
        assert!(message.contains("protected"), "{path}: {message}");
    }
    // A listing does not even name them.
    let listing = home
        .run("function run() { return fs.list('notes'); }", whole)
        .unwrap();
    assert!(
        !listing.result.contains(".ssh") && !listing.result.contains(".aws"),
        "{listing:?}"
    );
    assert!(listing.result.contains("hello.md"));
}

#[test]
fn localgpt_config_and_state_are_refused_even_when_the_workspace_holds_them() {
    // A workspace that is LocalGPT's whole folder (a careless setup): config and state still
    // stay out of reach.
    let home = Home::new();
    let root = home.home.join(".localgpt");
    let protected = home.protected();
    let allow = permissions("read = [\".\"]\nwrite = [\"state\"]");
    for source in [
        "function run() { return fs.read('config.toml'); }",
        "function run() { return fs.read('state/tokens.json'); }",
        "function run() { fs.write('state/tokens.json', 'x'); }",
        "function run() { return fs.list('state'); }",
    ] {
        let host = localgpt_scripts::PolicyHost::new(&root, protected.clone(), &allow);
        let tool = localgpt_scripts::ScriptTool::inline("attack", source, allow.clone());
        let result =
            localgpt_scripts::run(&tool, &serde_json::json!({}), std::sync::Arc::new(host));
        let message = refusal(result);
        assert!(message.contains("protected"), "{source}: {message}");
    }
    assert_eq!(
        std::fs::read_to_string(home.state.join("tokens.json")).unwrap(),
        SECRET
    );
}

#[test]
fn special_files_are_not_opened() {
    let home = Home::new();
    let fifo = home.workspace.join("notes/pipe");
    let path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    let message = refusal(home.run(
        "function run() { return fs.read('notes/pipe'); }",
        permissions(READ_NOTES),
    ));
    assert!(message.contains("not a regular file"), "{message}");
    let message = refusal(home.run(
        "function run() { return fs.read('notes'); }",
        permissions(READ_NOTES),
    ));
    assert!(message.contains("not a regular file"), "{message}");
}

#[test]
fn host_functions_not_granted_do_not_exist_whatever_the_trick() {
    let home = Home::new();
    // Only fs.read/list are granted: no write, fetch, memory, require, process, std, os.
    let probe = r#"
function run() {
  const found = [];
  const names = ['fetch', 'memory', 'require', 'process', 'std', 'os', 'Deno', 'Bun',
                 'module', 'exports', '__host', 'XMLHttpRequest', 'WebSocket', 'importScripts'];
  const globals = [globalThis, Function('return this')(), (0, eval)('this'),
                   console.log.constructor('return this')(),
                   fs.read.constructor('return this')(),
                   Object.getPrototypeOf(fs).constructor.constructor('return this')()];
  for (const g of globals) {
    for (const name of names) if (g[name] !== undefined) found.push(name);
    for (const name of Object.getOwnPropertyNames(g))
      if (names.includes(name)) found.push('own:' + name);
  }
  if (fs.write !== undefined) found.push('fs.write');
  if (Object.getPrototypeOf(fs).write !== undefined) found.push('proto.write');
  for (const key of Object.getOwnPropertyNames(fs)) if (!['read', 'list'].includes(key)) found.push('fs.' + key);
  for (const f of [fs.read, fs.list, console.log]) {
    for (const key of Object.getOwnPropertyNames(f))
      if (!['length', 'name', 'prototype'].includes(key)) found.push('fnprop:' + key);
  }
  try { found.push(eval('fe' + 'tch')); } catch (e) {}
  try { found.push(new Function('return f' + 'etch')()); } catch (e) {}
  try { found.push(globalThis['mem' + 'ory'].search('x')); } catch (e) {}
  return JSON.stringify(found);
}"#;
    let output = home.run(probe, permissions(READ_NOTES)).unwrap();
    assert_eq!(
        output.result, "[]",
        "reachable host functions: {}",
        output.result
    );

    // Planting a write function on prototypes does not reach the host: nothing is written.
    let planted = r#"
function run() {
  Object.prototype.write = function (p, t) { return 'js only'; };
  Function.prototype.write = Object.prototype.write;
  let tried = [];
  try { tried.push(fs.write('out/pwned.txt', 'x')); } catch (e) { tried.push(String(e)); }
  try { tried.push(fs.read.write('out/pwned.txt', 'x')); } catch (e) { tried.push(String(e)); }
  try { tried.push(fs.read.call({ write: true }, 'out/pwned.txt')); } catch (e) { tried.push(String(e)); }
  try { tried.push(Reflect.apply(fs.read, null, ['../outside.txt'])); } catch (e) { tried.push(String(e)); }
  try { const p = new Proxy(fs, {}); tried.push(p.read('private/diary.md')); } catch (e) { tried.push(String(e)); }
  return tried.join('\n');
}"#;
    let output = home.run(planted, permissions(READ_NOTES)).unwrap();
    assert!(!home.workspace.join("out/pwned.txt").exists());
    assert!(!output.result.contains(SECRET), "{}", output.result);
    assert!(output.result.contains("refused"), "{}", output.result);
}

#[test]
fn import_and_require_of_host_modules_fail() {
    let home = Home::new();
    for (source, says) in [
        (
            "import * as os from 'os';\nfunction run() { return os.getenv('HOME'); }",
            "SyntaxError",
        ),
        (
            "import { readFileSync } from 'fs';\nfunction run() {}",
            "SyntaxError",
        ),
        (
            "function run() { return require('child_process').execSync('id'); }",
            "require",
        ),
        (
            "function run() { return require('fs').readFileSync('/etc/passwd'); }",
            "require",
        ),
        (
            "async function run() { const m = await import('os'); return m.getenv('HOME'); }",
            "",
        ),
        (
            "async function run() { const m = await import('std'); return m.loadFile('/etc/passwd'); }",
            "",
        ),
        (
            "function run() { return std.loadFile('/etc/passwd'); }",
            "std",
        ),
        ("function run() { return os.exec(['id']); }", "os"),
        ("function run() { return process.env; }", "process"),
    ] {
        let message = refusal(home.run(source, permissions("")));
        assert!(
            matches!(message, ref m if m.contains("the script failed")),
            "{source}: {message}"
        );
        assert!(message.contains(says), "{source}: {message}");
    }
}

#[test]
fn endless_loops_are_interrupted_at_the_time_limit() {
    let home = Home::new();
    let limited = permissions("timeout_ms = 300");
    for source in [
        "function run() { while (true) {} }",
        "function run() { for (;;) { try { throw 1; } catch (e) {} } }",
        "function run() { const f = () => { try { f(); } catch (e) { f(); } }; f(); }",
        "async function run() { while (true) { await null; } }",
        "function run() { while (true) { JSON.parse(JSON.stringify({a: [1, 2, 3]})); } }",
    ] {
        let error = home.run(source, limited.clone()).unwrap_err();
        assert!(
            matches!(error, ScriptError::TimedOut(300)),
            "{source}: {error}"
        );
        assert!(error.to_string().contains("time limit"), "{error}");
    }
}

#[test]
fn memory_bombs_are_stopped_at_the_memory_limit() {
    let home = Home::new();
    let limited = permissions("memory_mb = 16\ntimeout_ms = 10000");
    let mut stopped = 0;
    for source in [
        "function run() { const a = []; while (true) a.push('x'.repeat(1 << 20) + a.length); }",
        "function run() { let s = 'x'; while (true) s = s + s; }",
        "function run() { const a = []; while (true) a.push(new Array(1e5).fill(1.5)); }",
        "function run() { return new ArrayBuffer(64 * 1024 * 1024).byteLength; }",
    ] {
        let error = home.run(source, limited.clone()).unwrap_err();
        let message = error.to_string();
        if matches!(error, ScriptError::OutOfMemory(16)) {
            stopped += 1;
            assert!(message.contains("memory limit of 16 MiB"), "{message}");
        } else {
            // The engine's own size limits may trip first; that is a refusal too.
            assert!(
                message.contains("RangeError") || message.contains("string too long"),
                "{source}: {message}"
            );
        }
    }
    assert!(
        stopped >= 2,
        "the memory limit stopped only {stopped} bombs"
    );
}

#[test]
fn huge_output_is_capped() {
    let home = Home::new();
    let output = home
        .run(
            "function run() { return 'x'.repeat(5000000); }",
            permissions(""),
        )
        .unwrap();
    assert!(output.result.len() < 40_000, "{}", output.result.len());
    assert!(output.result.contains("script output cut"));
    let output = home
        .run(
            "function run() { for (let i = 0; i < 100000; i++) console.log('line ' + i + ' ' + 'y'.repeat(100)); return 'ok'; }",
            permissions("timeout_ms = 10000"),
        )
        .unwrap();
    assert!(output.logs.len() < 40_000, "{}", output.logs.len());
    assert!(output.logs.ends_with("[… console output cut]"));
}

fn fetch_source(url: &str) -> String {
    format!(
        "function run() {{ return fetch({}).body; }}",
        serde_json::json!(url)
    )
}

#[test]
fn fetch_to_loopback_and_metadata_addresses_is_refused() {
    let home = Home::new();
    let server = Server::ok(SECRET);
    let port = server.port;
    // The manifest lists a public name only.
    let public_only = permissions("hosts = [\"example.org\"]");
    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://[::1]:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        format!("http://2130706433:{port}/"),
        format!("http://0x7f.1:{port}/"),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://[fd00::1]/".to_owned(),
        "http://10.0.0.1/".to_owned(),
        "file:///etc/passwd".to_owned(),
        format!("http://user:pass@example.org:{port}/"),
    ] {
        let message = refusal(home.run(&fetch_source(&url), public_only.clone()));
        assert!(message.contains("refused"), "{url}: {message}");
    }
    // Without hosts, there is no fetch at all.
    let message = refusal(home.run(
        &fetch_source(&format!("http://127.0.0.1:{port}/")),
        permissions(""),
    ));
    assert!(message.contains("fetch is not defined"), "{message}");
    assert_eq!(server.hits(), 0, "a refused fetch reached the server");
}

#[test]
fn a_name_that_resolves_to_loopback_is_refused_even_when_listed() {
    let home = Home::new();
    let server = Server::ok(SECRET);
    let listed = permissions(&format!("hosts = [\"localhost:{}\"]", server.port));
    let message = refusal(home.run(
        &fetch_source(&format!("http://localhost:{}/", server.port)),
        listed,
    ));
    assert!(
        message.contains("resolves to a private, loopback"),
        "{message}"
    );
    assert_eq!(server.hits(), 0);
}

#[test]
fn a_listed_loopback_address_is_reached_and_redirects_are_decided_again() {
    let home = Home::new();
    let target = Server::ok(SECRET);
    let allowed = Server::ok("allowed body");
    let to_unlisted = Server::redirect(&format!("http://127.0.0.1:{}/", target.port));
    let to_metadata = Server::redirect("http://169.254.169.254/latest/meta-data/");
    let to_localhost = Server::redirect(&format!("http://localhost:{}/", target.port));
    let to_file = Server::redirect("file:///etc/passwd");
    let hosts: Vec<String> = [
        &allowed,
        &to_unlisted,
        &to_metadata,
        &to_localhost,
        &to_file,
    ]
    .iter()
    .map(|server| format!("\"127.0.0.1:{}\"", server.port))
    .collect();
    let listed = permissions(&format!("hosts = [{}]", hosts.join(", ")));
    let output = home
        .run(
            &fetch_source(&format!("http://127.0.0.1:{}/x", allowed.port)),
            listed.clone(),
        )
        .unwrap();
    assert_eq!(output.result, "allowed body");
    for server in [&to_unlisted, &to_metadata, &to_localhost, &to_file] {
        let message = refusal(home.run(
            &fetch_source(&format!("http://127.0.0.1:{}/", server.port)),
            listed.clone(),
        ));
        assert!(message.contains("refused"), "{message}");
        assert_eq!(server.hits(), 1, "the redirecting server was asked once");
    }
    assert_eq!(target.hits(), 0, "a redirect reached an unlisted address");
    // A listed address on another port is not the same permission.
    let message = refusal(home.run(
        &fetch_source(&format!("http://127.0.0.1:{}/", target.port)),
        listed.clone(),
    ));
    assert!(message.contains("refused"), "{message}");
    // Nor may a script smuggle another Host header to a listed address.
    let smuggle = format!(
        "function run() {{ return fetch('http://127.0.0.1:{}/', {{ headers: {{ Host: 'metadata.google.internal' }} }}).body; }}",
        allowed.port
    );
    let message = refusal(home.run(&smuggle, listed));
    assert!(message.contains("Host"), "{message}");
    assert_eq!(target.hits(), 0);
}

#[test]
fn memory_search_is_only_there_when_granted() {
    struct Fake;
    impl localgpt_scripts::MemorySearcher for Fake {
        fn search(&self, query: &str, limit: usize) -> Result<serde_json::Value, String> {
            Ok(serde_json::json!([{"path": "notes/a.md", "text": format!("{query} x{limit}")}]))
        }
    }
    let home = Home::new();
    let source = "function run() { return typeof memory === 'undefined' ? 'none' : memory.search('tea', 3)[0].text; }";
    assert_eq!(home.run(source, permissions("")).unwrap().result, "none");
    let granted = permissions("memory = true");
    let host = localgpt_scripts::PolicyHost::new(&home.workspace, home.protected(), &granted)
        .with_memory(std::sync::Arc::new(Fake));
    let tool = localgpt_scripts::ScriptTool::inline("m", source, granted);
    let output =
        localgpt_scripts::run(&tool, &serde_json::json!({}), std::sync::Arc::new(host)).unwrap();
    assert_eq!(output.result, "tea x3");
}

#[test]
fn catastrophic_regex_backtracking_is_interrupted() {
    let home = Home::new();
    let limited = permissions("timeout_ms = 300");
    let started = std::time::Instant::now();
    let error = home
        .run(
            "function run() { return /^(a+)+$/.test('a'.repeat(40) + 'b'); }",
            limited,
        )
        .unwrap_err();
    assert!(matches!(error, ScriptError::TimedOut(300)), "{error}");
    // A safety net, not a timing assertion: an uninterruptible regex would take hours.
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}

#[test]
fn blocking_waits_cannot_outlive_the_time_limit() {
    let home = Home::new();
    let limited = permissions("timeout_ms = 300");
    for source in [
        "function run() { const a = new Int32Array(new SharedArrayBuffer(4)); return Atomics.wait(a, 0, 0); }",
        "function run() { const a = new Int32Array(new SharedArrayBuffer(4)); return Atomics.wait(a, 0, 0, 1e12); }",
    ] {
        let (done, result) = std::sync::mpsc::channel();
        let source = source.to_owned();
        let limited = limited.clone();
        let workspace = home.workspace.clone();
        let protected = home.protected();
        std::thread::spawn(move || {
            let host = localgpt_scripts::PolicyHost::new(&workspace, protected, &limited);
            let tool = localgpt_scripts::ScriptTool::inline("attack", &source, limited);
            let _ = done.send(localgpt_scripts::run(
                &tool,
                &serde_json::json!({}),
                std::sync::Arc::new(host),
            ));
        });
        // A safety net: a wait that blocks the engine's thread never answers.
        let outcome = result
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the script blocked its thread past its time limit");
        let message = refusal(outcome);
        assert!(
            message.contains("the script failed") || message.contains("time limit"),
            "{message}"
        );
    }
}
