//! The agent's own cost, with the model's latency taken out: the scripted provider server answers
//! at once over loopback. Measures (1) `localgpt ask` end to end, cold, as a user runs it (wall time
//! and peak RSS of the process), and (2) in-process turns of the agent loop, with and without a
//! tool round, and (3) a chat turn through the daemon's HTTP API, ingress bus and control plane.
//! Run: `cargo bench -p localgpt --bench ask_overhead [-- RUNS]`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use localgpt_agent::runtime::{Agent, AgentSettings, DenyAll};
use localgpt_agent::tools::files::ListDir;
use localgpt_agent::tools::{AllowedRoots, ToolBox, ToolContext};
use localgpt_core::chat::CancelToken;
use localgpt_core::config::Secret;
use localgpt_llm::openai::OpenAiModel;
use localgpt_provider_script::{Script, ScriptedServer, Turn};

fn percentile(times: &mut [Duration], p: f64) -> f64 {
    times.sort();
    let index = ((times.len() as f64 - 1.0) * p).round() as usize;
    times[index].as_secs_f64() * 1000.0
}

/// Peak RSS of finished child processes, in MB (the largest so far).
fn children_max_rss_mb() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole rusage into the pointer it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr());
        usage.assume_init()
    };
    usage.ru_maxrss as f64 / 1024.0
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(20);
    let runtime = tokio::runtime::Runtime::new().unwrap();

    // 1. `localgpt ask`, cold, against an instant model.
    let mut script = Script::new();
    for _ in 0..runs + 1 {
        script = script.turn(Turn::text(["Four."]).usage(500, 2));
    }
    let server = runtime.block_on(ScriptedServer::start(script));
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        format!(
            "[agent]\ndefault_model = \"openai/gpt-bench\"\n[providers.openai]\nbase_url = \"{}\"\napi_key = \"sk-bench\"\n[memory]\nembedding = \"none\"\n",
            server.url("v1")
        ),
    )
    .unwrap();
    let binary = env!("CARGO_BIN_EXE_localgpt");
    let ask = || {
        let status = std::process::Command::new(binary)
            .args(["ask", "What is 2 + 2?"])
            .env("LOCALGPT_HOME", home.path())
            .env("HOME", home.path())
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    };
    ask(); // creates the workspace and the index once, as a first run does
    let mut times = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        ask();
        times.push(started.elapsed());
    }
    println!(
        "localgpt ask (instant scripted model, {runs} runs): p50 {:.1} ms, p90 {:.1} ms; peak RSS {:.1} MB",
        percentile(&mut times, 0.5),
        percentile(&mut times, 0.9),
        children_max_rss_mb()
    );

    // 3. Chat turns through the daemon: HTTP, bus, control plane, agent built per turn.
    let mut script = Script::new();
    for _ in 0..runs * 5 {
        script = script.turn(Turn::text(["Four."]));
    }
    let daemon_server = runtime.block_on(ScriptedServer::start(script));
    let daemon_home = tempfile::tempdir().unwrap();
    std::fs::write(
        daemon_home.path().join("config.toml"),
        format!(
            "[agent]\ndefault_model = \"openai/gpt-bench\"\n[providers.openai]\nbase_url = \"{}\"\napi_key = \"sk-bench\"\n[memory]\nembedding = \"none\"\n[server]\nport = 0\n[heartbeat]\nenabled = false\n",
            daemon_server.url("v1")
        ),
    )
    .unwrap();
    let daemon = |command: &str| {
        std::process::Command::new(binary)
            .args(["daemon", command])
            .env("LOCALGPT_HOME", daemon_home.path())
            .env("HOME", daemon_home.path())
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap()
    };
    assert!(daemon("start").success());
    let pid_file = std::fs::read_to_string(daemon_home.path().join("state/daemon.pid")).unwrap();
    let url = format!("http://{}/api/chat", pid_file.lines().nth(1).unwrap());
    let mut session: Option<String> = None;
    let mut times = Vec::new();
    for _ in 0..runs * 5 {
        let body = serde_json::json!({"message": "What is 2 + 2?", "session_id": session});
        let started = Instant::now();
        let reply: serde_json::Value = serde_json::from_str(
            &ureq::post(&url)
                .header("content-type", "application/json")
                .send(body.to_string())
                .unwrap()
                .body_mut()
                .read_to_string()
                .unwrap(),
        )
        .unwrap();
        times.push(started.elapsed());
        session = reply["session_id"].as_str().map(str::to_owned);
    }
    assert!(daemon("stop").success());
    println!(
        "chat turn through the daemon (HTTP + bus + control plane + agent per turn, {} turns of one session): p50 {:.2} ms, p90 {:.2} ms",
        times.len(),
        percentile(&mut times, 0.5),
        percentile(&mut times, 0.9)
    );

    // 2. In-process turns: plain answers, and one tool round then an answer.
    let mut script = Script::new();
    for _ in 0..runs * 10 {
        script = script.turn(Turn::text(["Four."]));
    }
    for _ in 0..runs * 10 {
        script = script
            .turn(Turn::tool_call("list_dir", "{}"))
            .turn(Turn::text(["Done."]));
    }
    let server = runtime.block_on(ScriptedServer::start(script));
    let workspace = home.path().join("workspace").canonicalize().unwrap();
    let tools = ToolBox::new(ToolContext {
        roots: Arc::new(AllowedRoots::new(&workspace, &[])),
        workspace,
    })
    .with(ListDir);
    let model = Arc::new(
        OpenAiModel::new(
            "gpt-bench",
            Some(Secret::new("sk-bench")),
            Some(&server.url("v1")),
        )
        .unwrap(),
    );
    let mut agent = Agent::new(
        model,
        tools,
        Arc::new(DenyAll),
        AgentSettings::default(),
        "Bench.".to_owned(),
    );
    let cancel = CancelToken::new();
    for label in ["plain answer", "one tool round + answer"] {
        let mut times = Vec::new();
        for _ in 0..runs * 10 {
            let started = Instant::now();
            runtime
                .block_on(agent.turn("What is 2 + 2?", &cancel, &mut |_| {}))
                .unwrap();
            times.push(started.elapsed());
        }
        println!(
            "in-process turn, {label} ({} turns, loopback HTTP included): p50 {:.2} ms, p90 {:.2} ms",
            times.len(),
            percentile(&mut times, 0.5),
            percentile(&mut times, 0.9)
        );
    }
}
