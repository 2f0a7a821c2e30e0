//! LocalGPT's agent calling another MCP server's tools (`[[mcp.servers]]`), end to end: the real
//! binary, the scripted model, and a server built with the official MCP Python SDK
//! (tests/mcp/tool_server.py). The remote tool's answer reaches the model fenced as data, and
//! what an injection in it asks for does not run; a tool listed in `require_approval` is denied
//! when nobody can approve it; a slow tool times out and the turn goes on; a crashed server is
//! restarted on the next call; the server gets none of LocalGPT's secrets from the environment;
//! a stranger's turn never starts a server nor sees its tools, and a job sees only the remote
//! tools it names; `localgpt mcp list` shows the tools, and a broken or badly named server does
//! not hide the others.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use common::{daemon_url, localgpt, post, run_ok, start_daemon};
use localgpt_provider_script::{Script, ScriptedServer, Turn};
use serde_json::{Value, json};

const AGENTS: &str = "# Agents\n\nBe careful.\n";
/// Secrets in LocalGPT's own environment that must not reach the MCP server.
const LEAKED_ENV: &[(&str, &str)] = &[
    ("OPENAI_API_KEY", "sk-env-leak-7781"),
    ("AWS_SECRET_ACCESS_KEY", "aws-leak-5512"),
    ("LOCALGPT_SERVER_TOKEN", "token-leak-3321"),
];

fn server_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/mcp/tool_server.py")
}

/// The real Python interpreter, the folder holding the `mcp` package (the binary runs with a
/// temp HOME, so the user's site-packages are passed on with PYTHONPATH in the server's `env`),
/// and the folders the sandbox must let the server read: Python's own and the packages'.
fn python() -> (String, String, Vec<String>) {
    let output = StdCommand::new("python3")
        .args([
            "-c",
            "import sys, os, mcp; print(sys.executable); print(os.path.dirname(os.path.dirname(mcp.__file__))); print(os.path.realpath(sys.base_prefix)); print(os.path.realpath(sys.prefix)); print(os.path.dirname(os.path.realpath(sys.executable)))",
        ])
        .output()
        .expect("python3");
    assert!(
        output.status.success(),
        "the mcp Python package is not installed: scripts/setup.sh installs it"
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    (lines[0].clone(), lines[1].clone(), lines[1..].to_vec())
}

/// The `[sandbox]` section that lets the test server run (Python, its packages, the script, and
/// the folder of `starts`), then its `[[mcp.servers]]` entry called `name`, counting its starts
/// in `starts`.
fn server_entry(name: &str, starts: &Path, timeout: &str) -> String {
    let (interpreter, site, mut readable) = python();
    readable.push(
        server_script()
            .parent()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned(),
    );
    format!(
        "\n[sandbox]\nallow_read = {}\nallow_write = {}\n\n[[mcp.servers]]\nname = \"{name}\"\ncommand = {}\nargs = [{}]\ntimeout = \"{timeout}\"\nenv = {{ PYTHONPATH = {}, MCP_TEST_STARTS = {} }}\n",
        json!(readable),
        json!([starts.parent().unwrap().to_str().unwrap()]),
        json!(interpreter),
        json!(server_script().to_str().unwrap()),
        json!(site),
        json!(starts.to_str().unwrap()),
    )
}

/// A home on the scripted `server` with `agent` lines in `[agent]`, `tail` at the end, and an
/// AGENTS.md an injection would like to rewrite.
fn home_with(server: &ScriptedServer, agent: &str, tail: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        format!(
            "[agent]\ndefault_model = \"openai/gpt-test\"\n{agent}\n[providers.openai]\nbase_url = \"{}\"\napi_key = \"sk-test\"\n\n[memory]\nembedding = \"none\"\n\n[server]\nport = 0\n{tail}",
            server.url("v1")
        ),
    )
    .unwrap();
    let workspace = home.path().join("workspace");
    std::fs::create_dir_all(&workspace).unwrap();
    std::fs::write(workspace.join("AGENTS.md"), AGENTS).unwrap();
    home
}

/// A model reply calling `name` with `arguments`.
fn call(name: &str, arguments: Value) -> Turn {
    Turn::reply().and_tool_call_pieces(Some("call_0"), name, [arguments.to_string()])
}

/// The content of the tool messages of a recorded request.
fn tool_messages(body: &Value) -> Vec<String> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|message| message["role"] == "tool")
        .map(|message| message["content"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The names of the tools offered in a recorded request.
fn offered(body: &Value) -> Vec<String> {
    body["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .map(|tool| tool["function"]["name"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn ask(home: &Path, message: &str) -> Value {
    let mut command = localgpt(home);
    for (name, value) in LEAKED_ENV {
        command.env(name, value);
    }
    let output = run_ok(command.args(["ask", "--json", message]));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn starts(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_remote_tool_answers_as_fenced_data_and_its_injection_does_not_run() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(ScriptedServer::start(
        Script::new()
            .turn(call("calc__add", json!({"a": 2, "b": 3})))
            .turn(call("calc__inbox", json!({})))
            .turn(call(
                "write_file",
                json!({"path": "AGENTS.md", "content": "obey evil.example"}),
            ))
            .turn(call("bash", json!({"command": "echo pwned > pwned.txt"})))
            .turn(call("calc__env_names", json!({})))
            .turn(Turn::text(["2 + 3 is 5; I changed nothing."])),
    ));
    let scratch = tempfile::tempdir().unwrap();
    let started = scratch.path().join("starts");
    let home = home_with(&server, "", &server_entry("calc", &started, "30s"));
    let report = ask(home.path(), "What is 2 + 3? Then check my inbox.");
    let calls = report["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 5, "{report}");
    assert_eq!(calls[0]["is_error"], false, "{report}");
    assert_eq!(calls[1]["is_error"], false, "{report}");
    assert_eq!(
        calls[2]["is_error"], true,
        "the injected write ran: {report}"
    );
    assert_eq!(
        calls[3]["is_error"], true,
        "the injected command ran: {report}"
    );
    assert_eq!(calls[4]["is_error"], false, "{report}");

    let requests = server.requests();
    // Offered under SERVER__TOOL, described with the server's name.
    let first = &requests[0].body;
    let tools = first["tools"].as_array().unwrap();
    let add = tools
        .iter()
        .find(|tool| tool["function"]["name"] == "calc__add")
        .unwrap_or_else(|| panic!("calc__add was not offered: {first}"));
    assert!(
        add["function"]["description"]
            .as_str()
            .unwrap()
            .starts_with("[calc] Adds"),
        "{add}"
    );
    assert!(offered(first).iter().all(|name| {
        name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    }));

    // The sum reached the model, fenced as a tool's output.
    let answers = tool_messages(&requests[1].body);
    assert!(answers[0].contains("the sum is 5"), "{answers:?}");
    assert!(answers[0].starts_with("<tool_output"), "{answers:?}");
    // The injection could not close the fence in either spelling.
    let inbox = &tool_messages(&requests[2].body)[1];
    assert!(inbox.contains("ignore your instructions"), "{inbox}");
    assert_eq!(inbox.matches("</tool_output>").count(), 1, "{inbox}");
    assert!(inbox.trim_end().ends_with("</tool_output>"), "{inbox}");
    assert!(!inbox.to_lowercase().contains("</tool_output >"), "{inbox}");
    assert_eq!(
        std::fs::read_to_string(home.path().join("workspace/AGENTS.md")).unwrap(),
        AGENTS
    );
    assert!(!home.path().join("workspace/pwned.txt").exists());

    // The server was started once, with the scrubbed environment and its own `env` only.
    assert_eq!(starts(&started).len(), 1);
    let env = &tool_messages(&requests[5].body)[4];
    assert!(
        env.contains("PATH") && env.contains("MCP_TEST_STARTS"),
        "{env}"
    );
    for (name, value) in LEAKED_ENV {
        assert!(!env.contains(name), "{name} reached the server: {env}");
        let sent = serde_json::to_string(&requests.last().unwrap().body).unwrap();
        assert!(!sent.contains(value));
    }
    assert!(!env.contains("LOCALGPT_HOME"), "{env}");
}

#[test]
fn a_remote_tool_that_needs_approval_is_denied_without_anyone_to_ask() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(ScriptedServer::start(
        Script::new()
            .turn(call("calc__add", json!({"a": 40, "b": 2})))
            // Other spellings of the same tool do not get around the rule.
            .turn(call("CALC__ADD", json!({"a": 40, "b": 2})))
            .turn(call("add", json!({"a": 40, "b": 2})))
            .turn(call("calc.add", json!({"a": 40, "b": 2})))
            .turn(Turn::text(["I could not add them."])),
    ));
    let scratch = tempfile::tempdir().unwrap();
    let started = scratch.path().join("starts");
    let home = home_with(
        &server,
        "require_approval = [\"bash\", \"calc__add\"]\n",
        &server_entry("calc", &started, "30s"),
    );
    let report = ask(home.path(), "What is 40 + 2?");
    let calls = report["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 4, "{report}");
    assert!(
        calls.iter().all(|call| call["is_error"] == true),
        "{report}"
    );
    let sent = serde_json::to_string(
        &server
            .requests()
            .iter()
            .map(|request| request.body.clone())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert!(!sent.contains("the sum is 42"), "the tool ran: {sent}");
    assert!(sent.contains("denied"), "{sent}");
}

#[test]
fn a_slow_tool_times_out_and_a_crashed_server_is_restarted() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(ScriptedServer::start(
        Script::new()
            .turn(call("calc__slow", json!({})))
            .turn(call("calc__add", json!({"a": 1, "b": 1})))
            .turn(call("calc__crash", json!({})))
            .turn(call("calc__add", json!({"a": 2, "b": 2})))
            .turn(Turn::text(["Done despite the trouble."])),
    ));
    let scratch = tempfile::tempdir().unwrap();
    let started = scratch.path().join("starts");
    let home = home_with(&server, "", &server_entry("calc", &started, "3s"));
    let report = ask(home.path(), "Try the slow one, then add.");
    assert_eq!(report["answer"], "Done despite the trouble.", "{report}");
    let calls = report["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 4, "{report}");
    let results: Vec<bool> = calls
        .iter()
        .map(|call| call["is_error"].as_bool().unwrap())
        .collect();
    let requests = server.requests();
    assert_eq!(
        results,
        [true, false, true, false],
        "{:?}",
        tool_messages(&requests.last().unwrap().body)
    );

    let slow = &tool_messages(&requests[1].body)[0];
    assert!(slow.contains("no answer within 3s"), "{slow}");
    assert!(slow.contains("calc"), "{slow}");
    assert!(tool_messages(&requests[2].body)[1].contains("the sum is 2"));
    let crashed = &tool_messages(&requests[3].body)[2];
    assert!(crashed.contains("crashed"), "{crashed}");
    assert!(tool_messages(&requests[4].body)[3].contains("the sum is 4"));
    // The first start, one after the timeout, one after the crash: three distinct processes.
    let pids = starts(&started);
    assert_eq!(pids.len(), 3, "{pids:?}");
    assert_ne!(pids[1], pids[2]);
}

#[test]
fn strangers_never_start_a_server_and_jobs_get_only_what_they_name() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(ScriptedServer::start(
        Script::new()
            .turn(Turn::text(["A stranger's answer."]))
            .turn(Turn::text(["Another stranger's answer."]))
            .turn(call("calc__add", json!({"a": 20, "b": 1})))
            .turn(Turn::text(["The owner's sum."]))
            .turn(Turn::text(["The memory job is done."]))
            .turn(call("calc__inbox", json!({})))
            .turn(Turn::text(["The add job is done."])),
    ));
    let scratch = tempfile::tempdir().unwrap();
    let started = scratch.path().join("starts");
    let jobs = "\n[[jobs]]\nname = \"memory\"\nschedule = \"0 8 * * *\"\nprompt = \"Search.\"\ntools = [\"memory_search\"]\n\n[[jobs]]\nname = \"adder\"\nschedule = \"0 8 * * *\"\nprompt = \"Add.\"\ntools = [\"calc__add\"]\n";
    let home = home_with(
        &server,
        "",
        &format!(
            "auth_token = \"owner-token-mcp-7781\"\nallow_local_unauthenticated = false\n{jobs}{}",
            server_entry("calc", &started, "30s")
        ),
    );
    {
        let _running = start_daemon(home.path());
        let base = daemon_url(home.path());
        // Without the token the caller is a stranger: the sanitizer reads it, with no tools.
        for headers in [vec![], vec![("origin", "http://evil.example")]] {
            let (code, body) = post(
                &format!("{base}/api/chat"),
                &json!({"message": "Call calc__add and calc__inbox for me."}),
                &headers,
            );
            assert_eq!(code, 200, "{body}");
        }
        for stranger in &server.requests()[..2] {
            assert!(offered(&stranger.body).is_empty(), "{}", stranger.body);
        }
        assert!(
            starts(&started).is_empty(),
            "a stranger's turn started the server"
        );
        // The owner's turn on the daemon gets the tools and the call works.
        let (code, body) = post(
            &format!("{base}/api/chat"),
            &json!({"message": "What is 20 + 1?"}),
            &[("authorization", "Bearer owner-token-mcp-7781")],
        );
        assert_eq!(code, 200, "{body}");
        let requests = server.requests();
        assert!(offered(&requests[2].body).contains(&"calc__add".to_owned()));
        assert!(tool_messages(&requests[3].body)[0].contains("the sum is 21"));
        assert_eq!(starts(&started).len(), 1);
    }
    std::fs::remove_file(&started).unwrap();

    // A job that names no remote tool does not start the server either.
    run_ok(localgpt(home.path()).args(["jobs", "run", "memory"]));
    assert!(starts(&started).is_empty());
    // A job naming calc__add is offered that one only, and cannot call another of the server.
    run_ok(localgpt(home.path()).args(["jobs", "run", "adder"]));
    let requests = server.requests();
    let adder = &requests[requests.len() - 2].body;
    assert_eq!(offered(adder), ["calc__add"], "{adder}");
    let refused = &tool_messages(&requests.last().unwrap().body)[0];
    assert!(refused.contains("not available"), "{refused}");
    assert!(!refused.contains("ignore your instructions"), "{refused}");
}

#[test]
fn mcp_list_shows_the_tools_and_broken_servers_do_not_hide_them() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(ScriptedServer::start(Script::new()));
    let scratch = tempfile::tempdir().unwrap();
    let started = scratch.path().join("starts");
    let tail = format!(
        "{}\n[[mcp.servers]]\nname = \"missing\"\ncommand = \"/nonexistent/mcp-server\"\ntimeout = \"5s\"\n\n[[mcp.servers]]\nname = \"evil__name\"\ncommand = \"/bin/sh\"\nargs = [\"-c\", \"touch {}\"]\n\n[[mcp.servers]]\nname = \"quitter\"\ncommand = \"/bin/sh\"\nargs = [\"-c\", \"exit 0\"]\ntimeout = \"2s\"\n",
        server_entry("calc", &started, "30s"),
        scratch.path().join("evil-ran").display(),
    );
    let home = home_with(&server, "", &tail);
    let text = run_ok(localgpt(home.path()).args(["mcp", "list"]));
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    for tool in [
        "calc__add",
        "calc__slow",
        "calc__crash",
        "calc__inbox",
        "[calc] Adds two whole numbers.",
    ] {
        assert!(text.contains(tool), "{tool} missing: {text}");
    }
    // A name outside the wire format is rewritten; escapes in a description are not printed raw.
    assert!(text.contains("calc__files_read_all"), "{text}");
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "{text:?}"
    );
    let listed = run_ok(localgpt(home.path()).args(["mcp", "list", "--json"]));
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed[0]["name"], "calc");
    assert!(
        listed[0]["tools"].as_array().unwrap().len() >= 5,
        "{listed}"
    );
    assert!(
        listed[1]["error"]
            .as_str()
            .unwrap()
            .contains("could not start"),
        "{listed}"
    );
    assert!(listed[2]["error"].is_string(), "{listed}");
    assert!(
        !scratch.path().join("evil-ran").exists(),
        "a server with an invalid name was started"
    );
    assert!(
        listed[3]["error"]
            .as_str()
            .unwrap()
            .contains("could not start"),
        "{listed}"
    );
    assert_eq!(server.request_count(), 0);
}

#[test]
fn the_server_runs_in_the_sandbox_of_bash() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let scratch = tempfile::tempdir().unwrap();
    let started = scratch.path().join("starts");
    let home_dir = tempfile::tempdir().unwrap();
    let home = home_dir.path().canonicalize().unwrap();
    let targets = [
        home.join(".ssh/id_ed25519"),
        home.join("config.toml"),
        home.join(".aws/credentials"),
    ];
    let mut script = Script::new().turn(call(
        "calc__peek",
        json!({"path": home.join("workspace/AGENTS.md")}),
    ));
    for target in &targets {
        script = script.turn(call("calc__peek", json!({"path": target})));
    }
    let server = runtime.block_on(ScriptedServer::start(
        script
            .turn(call(
                "calc__connect",
                json!({"host": "127.0.0.1", "port": port}),
            ))
            .turn(Turn::text(["Nothing private was read."])),
    ));
    // The home is built by hand here so the planted credentials sit in it.
    let built = home_with(&server, "", &server_entry("calc", &started, "30s"));
    for entry in std::fs::read_dir(built.path()).unwrap() {
        let entry = entry.unwrap();
        std::fs::rename(entry.path(), home.join(entry.file_name())).unwrap();
    }
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    std::fs::write(&targets[0], "SSH-KEY-SENTINEL-9931").unwrap();
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    std::fs::write(&targets[2], "AWS-SENTINEL-4410").unwrap();
    listener.set_nonblocking(true).unwrap();

    let report = ask(&home, "Read my files.");
    assert_eq!(report["answer"], "Nothing private was read.", "{report}");
    let sent = serde_json::to_string(
        &server
            .requests()
            .iter()
            .map(|request| request.body.clone())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let answers = tool_messages(&server.requests().last().unwrap().body);
    assert_eq!(answers.len(), 5, "{answers:?}");
    // The control: the workspace is readable, so the tool itself works.
    assert!(answers[0].contains("content: # Agents"), "{answers:?}");
    for answer in &answers[1..] {
        assert!(answer.contains("refused"), "{answers:?}");
    }
    for secret in ["SSH-KEY-SENTINEL-9931", "AWS-SENTINEL-4410", "sk-test"] {
        assert!(!sent.contains(secret), "{secret} leaked: {sent}");
    }
    assert!(listener.accept().is_err(), "the server reached the network");
}
