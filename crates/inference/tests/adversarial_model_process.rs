//! LocalGPT's side of a model process against a process that misbehaves — broken, or taken over
//! by a hostile model file: each test starts a small shell script as the "model process", which
//! answers the load and then sends an endless line, garbage, a reply of the wrong kind, replies to
//! requests never made, or dies in the middle of a call or a streamed reply. Every call must end
//! with a clear error (never a hang, a panic or unbounded memory), and the process must not see
//! LocalGPT's environment.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use localgpt_core::chat::{ChatEvent, ChatMessage, ChatRequest};
use localgpt_inference::model_process::protocol::ModelSpec;
use localgpt_inference::model_process::{ModelProcess, ProcessCommand};

const LOADED: &str = r#"{"reply":"loaded"}"#;

/// A "model process" running `script` under /bin/sh.
fn fake(script: &str) -> ProcessCommand {
    ProcessCommand::file("/bin/sh", &["-c", script])
}

fn spec() -> ModelSpec {
    ModelSpec::Embedding {
        path: PathBuf::from("/nonexistent/model.gguf"),
        threads: Some(1),
        batch_tokens: None,
    }
}

/// Starts `script`, which answers the load and then does what it likes.
fn started(script: &str) -> ModelProcess {
    ModelProcess::start(
        &fake(&format!("read line; echo '{LOADED}'; {script}")),
        &spec(),
    )
    .unwrap()
}

fn timed<T>(what: impl FnOnce() -> T) -> T {
    let began = Instant::now();
    let result = what();
    assert!(
        began.elapsed() < Duration::from_secs(30),
        "took {:?}",
        began.elapsed()
    );
    result
}

#[test]
fn an_endless_reply_line_is_cut_off_with_an_error() {
    let process = started("read line; head -c 200000000 /dev/zero | tr '\\0' 'a'; exec sleep 30");
    let error = timed(|| process.embed(&["hello"])).unwrap_err();
    assert!(error.contains("longer than 64 MiB"), "{error}");
    assert!(!process.is_alive());
}

#[test]
fn garbage_is_an_error_and_the_process_counts_as_ended() {
    let process = started("read line; echo 'this is not json'; exec sleep 30");
    let error = timed(|| process.embed(&["hello"])).unwrap_err();
    assert!(error.contains("unreadable"), "{error}");
    assert!(!process.is_alive());
    // Later calls fail at once instead of waiting on a process that cannot answer.
    let again = timed(|| process.count_tokens("x", None)).unwrap_err();
    assert!(again.contains("ended"), "{again}");
}

#[test]
fn a_process_that_dies_mid_call_says_how_it_ended() {
    let process = started("read line; exit 3");
    let error = timed(|| process.embed(&["hello"])).unwrap_err();
    assert!(error.contains("exit status: 3"), "{error}");
}

#[test]
fn replies_to_requests_never_made_are_ignored_and_a_wrong_kind_is_an_error() {
    let process = started(
        r#"read line; echo '{"reply":"vectors","id":999,"vectors":[[1.0]]}'; echo '{"reply":"done","id":12345}'; echo '{"reply":"tokens","id":1,"count":4}'; exec sleep 30"#,
    );
    let error = timed(|| process.embed(&["hello"])).unwrap_err();
    assert!(
        error.contains("answered") && error.contains("Tokens"),
        "{error}"
    );
    // The process itself is still there for the next call.
    assert!(process.is_alive());
}

#[test]
fn a_refused_or_interrupted_load_is_an_error() {
    let refused = ModelProcess::start(
        &fake(r#"read line; echo '{"reply":"load_failed","message":"no such model"}'"#),
        &spec(),
    )
    .unwrap_err();
    assert_eq!(refused.to_string(), "no such model");
    let died = ModelProcess::start(&fake("read line; kill -9 $$"), &spec()).unwrap_err();
    assert!(died.to_string().contains("signal: 9"), "{died}");
    let missing = ModelProcess::start(&ProcessCommand::file("/nonexistent/localgpt", &[]), &spec())
        .unwrap_err();
    assert!(
        missing.to_string().contains("/nonexistent/localgpt"),
        "{missing}"
    );
}

/// A model process that never answers its load (or answers only after the limit) is ended once the
/// load timeout passes, with everything it started, and the start reports it.
#[test]
fn a_load_that_hangs_is_ended_at_the_timeout() {
    let marker = tempfile::NamedTempFile::new().unwrap();
    let script = format!(
        "read line; (sleep 30; echo late > {}) & sleep 30; echo '{LOADED}'",
        marker.path().display()
    );
    let began = Instant::now();
    let error = ModelProcess::start(
        &fake(&script).load_timeout(Duration::from_millis(500)),
        &spec(),
    )
    .unwrap_err();
    let took = began.elapsed();
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert!(
        error.to_string().contains("did not finish loading"),
        "{error}"
    );
    // The background child was in its process group and was killed with it (given a moment to
    // die: the signal is delivered when it next runs).
    let forked_alive = || {
        std::process::Command::new("pgrep")
            .args(["-f", &format!("echo late > {}", marker.path().display())])
            .status()
            .unwrap()
            .success()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while forked_alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !forked_alive(),
        "a process the hung model process started still runs"
    );
}

#[tokio::test]
async fn a_reply_stream_whose_process_dies_ends_with_an_error() {
    let process = started(
        r#"read line; echo '{"reply":"event","id":1,"event":{"text_delta":"Once upon"}}'; exit 0"#,
    );
    let (events, mut receiver) = futures_channel::mpsc::unbounded();
    process.chat(
        ChatRequest::new(vec![ChatMessage::user("a story")]),
        events,
        Arc::new(AtomicBool::new(false)),
    );
    let first = receiver.next().await.unwrap().unwrap();
    assert_eq!(first, ChatEvent::TextDelta("Once upon".to_owned()));
    let error = receiver.next().await.unwrap().unwrap_err().to_string();
    assert!(error.contains("before the reply was complete"), "{error}");
    assert!(
        receiver.next().await.is_none(),
        "the stream must end after the error"
    );
}

#[test]
fn the_process_sees_none_of_localgpts_environment() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("env.txt");
    let process = ModelProcess::start(
        &fake(&format!(
            "env > '{}'; read line; echo '{LOADED}'; read line",
            dump.display()
        )),
        &spec(),
    )
    .unwrap();
    drop(process);
    let seen = std::fs::read_to_string(&dump).unwrap();
    let names: Vec<&str> = seen
        .lines()
        .filter_map(|line| line.split('=').next())
        .collect();
    // The shell adds PWD (and some shells SHLVL and _); nothing else may come from LocalGPT.
    let unexpected: Vec<&&str> = names
        .iter()
        .filter(|name| !["PWD", "SHLVL", "_", "OLDPWD"].contains(name))
        .filter(|name| {
            !(**name == "LOCALGPT_LOG"
                || **name == "LD_LIBRARY_PATH"
                || name.starts_with("OMP_")
                || name.starts_with("GGML_"))
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "passed to the model process: {unexpected:?}"
    );
    assert!(
        !names.contains(&"HOME") && !names.contains(&"PATH"),
        "{seen}"
    );
}

/// A program image (how LocalGPT carries its model host) runs from a sealed memory file: here
/// `/bin/sh`'s own bytes, deflated and run as an image, answer the load; the variables the command sets reach
/// it; and the memory file cannot be written to while the process runs.
#[cfg(target_os = "linux")]
#[test]
fn a_program_image_runs_from_a_sealed_memory_file() {
    let mut deflated = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut deflated, &std::fs::read("/bin/sh").unwrap()).unwrap();
    let shell: &'static [u8] = Box::leak(deflated.finish().unwrap().into_boxed_slice());
    let dir = tempfile::tempdir().unwrap();
    let seen = dir.path().join("seen.txt");
    let mut command =
        ProcessCommand::image("model-host-test", shell).env("LOCALGPT_TEST_VAR", "set");
    command.args = [
        "-c",
        &format!(
            "echo \"$LOCALGPT_TEST_VAR $(readlink /proc/$$/exe)\" > '{}'; \
         echo x 2>/dev/null >> /proc/$$/exe && echo writable >> '{}'; \
         read line; echo '{LOADED}'; read line",
            seen.display(),
            seen.display()
        ),
    ]
    .iter()
    .map(Into::into)
    .collect();
    let process = ModelProcess::start(&command, &spec()).unwrap();
    assert!(process.is_alive());
    drop(process);
    let seen = std::fs::read_to_string(&seen).unwrap();
    assert!(seen.starts_with("set /memfd:model-host-test"), "{seen}");
    assert!(!seen.contains("writable"), "{seen}");
}
