//! The Claude CLI provider against a fake `claude` that prints scripted stream-json lines.

use std::time::{Duration, Instant};

use localgpt_core::chat::{
    ChatError, ChatEvent, ChatMessage, ChatModel, ChatRequest, StopReason, Usage,
};
use localgpt_llm::claude_cli::ClaudeCliModel;
use localgpt_provider_script::FakeClaude;
use serde_json::json;

use crate::support::*;

fn cli_model(fake: &localgpt_provider_script::InstalledFakeClaude) -> ClaudeCliModel {
    ClaudeCliModel::new("opus", fake.command().to_string_lossy())
}

#[tokio::test]
async fn streams_text_and_usage_and_hides_its_own_tools() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeClaude::new()
        .text("Let me check.")
        .own_tool("Bash", json!({"command": "ls"}), "notes.md")
        .text("You have notes.md.")
        .result("You have notes.md.", 7, 3)
        .install(dir.path())
        .unwrap();
    let request = ChatRequest {
        system: Some("Be brief.".into()),
        ..simple_request("What files do I have?")
    };
    let (events, error) = collect(cli_model(&fake).stream(request)).await;
    assert_eq!(error, None);
    assert_eq!(text_of(&events), "Let me check.\n\nYou have notes.md.");
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, ChatEvent::ToolCallStart { .. })),
        "Claude Code's own tools must not reach the agent"
    );
    let n = events.len();
    assert_eq!(
        events[n - 2],
        ChatEvent::Usage(Usage {
            input_tokens: 7,
            output_tokens: 3,
            cache_read_tokens: Some(0),
            cache_write_tokens: Some(0),
        })
    );
    assert_eq!(events[n - 1], ChatEvent::Stop(StopReason::EndTurn));
    assert_eq!(
        fake.args(),
        [
            "-p",
            "--output-format",
            "stream-json",
            "--verbose",
            "--model",
            "opus",
            "--system-prompt",
            "Be brief."
        ]
    );
    assert_eq!(fake.stdin(), "What files do I have?");
}

#[tokio::test]
async fn earlier_turns_are_sent_as_a_transcript() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeClaude::new()
        .result("Blue.", 1, 1)
        .install(dir.path())
        .unwrap();
    let request = ChatRequest::new(vec![
        ChatMessage::user("My favourite colour is blue."),
        ChatMessage::assistant("Noted."),
        ChatMessage::user("What is it?"),
    ]);
    let (events, error) = collect(cli_model(&fake).stream(request)).await;
    assert_eq!(error, None);
    assert_eq!(
        text_of(&events),
        "Blue.",
        "the result text stands in for missing text"
    );
    let stdin = fake.stdin();
    assert!(
        stdin.contains("User: My favourite colour is blue."),
        "{stdin}"
    );
    assert!(stdin.contains("Assistant: Noted."), "{stdin}");
    assert!(stdin.trim_end().ends_with("What is it?"), "{stdin}");
}

#[tokio::test]
async fn login_failure_is_an_auth_error() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeClaude::new()
        .error_result("Invalid API key · Please run /login")
        .exit_code(1)
        .install(dir.path())
        .unwrap();
    let (_, error) = collect(cli_model(&fake).stream(simple_request("hi"))).await;
    let error = error.expect("an error");
    assert!(matches!(error, ChatError::Auth { .. }), "{error:?}");
    assert!(error.to_string().contains("/login"), "{error}");
}

#[tokio::test]
async fn failing_command_reports_its_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeClaude::new()
        .stderr("error: unknown option '--bogus'")
        .exit_code(2)
        .install(dir.path())
        .unwrap();
    let (_, error) = collect(cli_model(&fake).stream(simple_request("hi"))).await;
    let error = error.expect("an error").to_string();
    assert!(error.contains("unknown option"), "{error}");
    assert!(error.contains("exit status: 2"), "{error}");
}

#[tokio::test]
async fn malformed_output_is_a_protocol_error() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeClaude::new()
        .raw_line("{\"type\":\"assistant\",")
        .install(dir.path())
        .unwrap();
    let (_, error) = collect(cli_model(&fake).stream(simple_request("hi"))).await;
    assert!(
        matches!(error, Some(ChatError::Protocol { .. })),
        "{error:?}"
    );
}

#[tokio::test]
async fn missing_command_says_how_to_fix_it() {
    let model = ClaudeCliModel::new("opus", "/nonexistent/claude-for-localgpt-tests");
    let (_, error) = collect(model.stream(simple_request("hi"))).await;
    let error = error.expect("an error").to_string();
    assert!(error.contains("not found"), "{error}");
    assert!(error.contains("providers.claude_cli.command"), "{error}");
}

#[tokio::test]
async fn dropping_the_stream_kills_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeClaude::new()
        .text("Hel")
        .hang()
        .install(dir.path())
        .unwrap();
    let mut stream = cli_model(&fake).stream(simple_request("hi"));
    let first = tokio::time::timeout(Duration::from_secs(10), next(&mut stream)).await;
    assert!(
        matches!(first, Ok(Some(Ok(ChatEvent::TextDelta(_))))),
        "{first:?}"
    );
    assert!(fake.is_running());
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(5);
    while fake.is_running() {
        assert!(Instant::now() < deadline, "the child outlived its stream");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
