#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The agent loop against the scripted provider server over real HTTP, with real tools on a real
//! workspace and a real memory index: tool rounds, approvals, scopes, limits, malformed calls,
//! transcripts and compaction.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use localgpt_agent::runtime::{
    Agent, AgentEvent, AgentSettings, ApproveAll, Approver, DenyAll, transcript,
};
use localgpt_agent::sessions::SessionStore;
use localgpt_agent::tools::bash::Bash;
use localgpt_agent::tools::files::{EditFile, ListDir, ReadFile, WriteFile};
use localgpt_agent::tools::memory::{MemoryAppend, MemoryGet, MemorySearch};
use localgpt_agent::tools::{AllowedRoots, ToolBox, ToolContext};
use localgpt_core::chat::{CancelToken, ChatModel, ContentPart, Role};
use localgpt_core::config::Secret;
use localgpt_core::ingress::ToolScope;
use localgpt_llm::RetryPolicy;
use localgpt_llm::anthropic::AnthropicModel;
use localgpt_llm::openai::OpenAiModel;
use localgpt_memory::MemoryHandle;
use localgpt_memory::{IndexSettings, MemoryIndex};
use localgpt_provider_script::{Script, ScriptedServer, Turn};
use serde_json::Value;

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        max_total_wait: Duration::from_secs(5),
    }
}

fn openai(server: &ScriptedServer) -> Arc<dyn ChatModel> {
    Arc::new(
        OpenAiModel::new(
            "gpt-test",
            Some(Secret::new("sk-test")),
            Some(&server.url("v1")),
        )
        .unwrap()
        .with_retry(fast_retry()),
    )
}

fn anthropic(server: &ScriptedServer) -> Arc<dyn ChatModel> {
    Arc::new(
        AnthropicModel::new(
            "claude-test",
            Secret::new("sk-ant-test"),
            Some(&server.base_url()),
        )
        .unwrap()
        .with_retry(fast_retry()),
    )
}

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("workspace");
    std::fs::create_dir_all(ws.join("memory")).unwrap();
    std::fs::write(
        ws.join("MEMORY.md"),
        "# Memory\n\n## Garden\nThe tomatoes are planted by the south fence.\n",
    )
    .unwrap();
    std::fs::write(
        ws.join("knowledge.md"),
        "# Projects\n\nThe heron project ships on Friday.\n",
    )
    .unwrap();
    dir
}

fn toolbox(dir: &Path) -> ToolBox {
    let ws = dir.join("workspace").canonicalize().unwrap();
    let index = MemoryIndex::open(dir.join("index.sqlite"), IndexSettings::new(&ws), None).unwrap();
    let memory = MemoryHandle::new(index);
    let context = ToolContext {
        workspace: ws.clone(),
        roots: Arc::new(AllowedRoots::new(&ws, &[])),
    };
    ToolBox::new(context)
        .with(MemorySearch(memory.clone()))
        .with(MemoryGet)
        .with(MemoryAppend(memory))
        .with(ReadFile)
        .with(WriteFile)
        .with(EditFile)
        .with(ListDir)
        .with(Bash)
}

fn agent(model: Arc<dyn ChatModel>, tools: ToolBox, approver: Arc<dyn Approver>) -> Agent {
    Agent::new(
        model,
        tools,
        approver,
        AgentSettings::default(),
        "You are a test.".to_owned(),
    )
}

/// The tool results the model received in its last request, as text.
fn last_tool_results(server: &ScriptedServer) -> Vec<String> {
    let requests = server.requests();
    let body = &requests.last().unwrap().body;
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn searches_reads_appends_and_answers_with_a_transcript_that_resumes() {
    let dir = workspace();
    let server = ScriptedServer::start(
        Script::new()
            .turn(Turn::tool_call(
                "memory_search",
                r#"{"query":"tomatoes planted"}"#,
            ))
            .turn(Turn::tool_call("read_file", r#"{"path":"knowledge.md"}"#))
            .turn(Turn::tool_call(
                "memory_append",
                r#"{"text":"Asked about the garden."}"#,
            ))
            .turn(Turn::text(["The tomatoes are ", "by the south fence."]).usage(50, 9)),
    )
    .await;
    let store = SessionStore::new(dir.path().join("sessions"));
    let session = store.create(&dir.path().join("workspace")).unwrap();
    let session_id = session.id().to_owned();
    let mut agent = agent(anthropic(&server), toolbox(dir.path()), Arc::new(DenyAll))
        .with_session(session, Vec::new());
    let mut events = Vec::new();
    let report = agent
        .turn("Where are the tomatoes?", &CancelToken::new(), &mut |e| {
            events.push(e)
        })
        .await
        .unwrap();

    assert_eq!(report.answer, "The tomatoes are by the south fence.");
    assert_eq!(report.model_calls, 4);
    let names: Vec<_> = report.tool_calls.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["memory_search", "read_file", "memory_append"]);
    assert!(
        report.tool_calls.iter().all(|c| !c.is_error),
        "{:?}",
        report.tool_calls
    );
    assert!(events.contains(&AgentEvent::Text("The tomatoes are ".to_owned())));

    // The search result reached the model, wrapped as data, naming the file and lines.
    let requests = server.requests();
    let second = requests[1].body.to_string();
    assert!(
        second.contains("<tool_output tool=\\\"memory_search\\\">"),
        "{second}"
    );
    assert!(second.contains("MEMORY.md (lines"), "{second}");
    let third = requests[2].body.to_string();
    assert!(third.contains("heron project ships on Friday"));
    assert_eq!(requests[0].body["system"], "You are a test.");

    // The note landed in today's daily log.
    let today = jiff::Zoned::now().date();
    let log =
        std::fs::read_to_string(dir.path().join(format!("workspace/memory/{today}.md"))).unwrap();
    assert!(log.starts_with(&format!("# {today}\n")));
    assert!(log.contains("Asked about the garden."));

    // The transcript holds every step and resumes to the same conversation.
    drop(agent);
    let (_writer, saved) = store.resume(&session_id).unwrap();
    let resumed = transcript::conversation(&saved);
    assert_eq!(resumed.len(), 8); // user, 3 × (call, result), answer
    assert_eq!(resumed[0].text_content(), "Where are the tomatoes?");
    assert!(
        matches!(&resumed[1].content[0], ContentPart::ToolCall { name, .. } if name == "memory_search")
    );
    assert!(matches!(
        &resumed[2].content[0],
        ContentPart::ToolResult {
            is_error: false,
            ..
        }
    ));
    assert_eq!(
        resumed[7].text_content(),
        "The tomatoes are by the south fence."
    );
}

#[tokio::test]
async fn a_rate_limited_reply_is_retried_and_the_turn_succeeds() {
    let dir = workspace();
    let server = ScriptedServer::start(
        Script::new()
            .turn(Turn::rate_limited(0))
            .turn(Turn::text(["fine"])),
    )
    .await;
    let mut agent = agent(openai(&server), toolbox(dir.path()), Arc::new(DenyAll));
    let report = agent
        .turn("hi", &CancelToken::new(), &mut |_| {})
        .await
        .unwrap();
    assert_eq!(report.answer, "fine");
    assert_eq!(server.request_count(), 2);
}

#[tokio::test]
async fn a_provider_error_fails_the_turn_with_its_reason() {
    let dir = workspace();
    let server = ScriptedServer::start(Script::new().turn(Turn::status(401))).await;
    let mut agent = agent(openai(&server), toolbox(dir.path()), Arc::new(DenyAll));
    let error = agent
        .turn("hi", &CancelToken::new(), &mut |_| {})
        .await
        .unwrap_err();
    assert!(error.to_string().contains("openai"), "{error}");
}

#[tokio::test]
async fn retrying_after_a_failed_reply_asks_the_question_once() {
    let dir = workspace();
    let server = ScriptedServer::start(
        Script::new()
            .turn(Turn::status(400))
            .turn(Turn::text(["Answered."])),
    )
    .await;
    let mut agent = agent(openai(&server), toolbox(dir.path()), Arc::new(DenyAll));
    let cancel = CancelToken::new();
    assert!(
        agent
            .turn("Same question", &cancel, &mut |_| {})
            .await
            .is_err()
    );
    let report = agent
        .turn("Same question", &cancel, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(report.answer, "Answered.");
    let retried = &server.requests()[1].body;
    let questions = retried["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|message| message["role"] == "user")
        .count();
    assert_eq!(questions, 1, "{retried}");
}

#[tokio::test]
async fn the_round_limit_stops_a_tool_loop_and_keeps_the_conversation_valid() {
    let dir = workspace();
    let mut script = Script::new();
    for _ in 0..4 {
        script = script.turn(Turn::tool_call("list_dir", "{}"));
    }
    let server = ScriptedServer::start(script.turn(Turn::text(["done"]))).await;
    let settings = AgentSettings {
        max_tool_rounds: 3,
        ..AgentSettings::default()
    };
    let mut agent = Agent::new(
        openai(&server),
        toolbox(dir.path()),
        Arc::new(DenyAll),
        settings,
        String::new(),
    );
    let mut notices = Vec::new();
    let report = agent
        .turn("loop", &CancelToken::new(), &mut |e| {
            if let AgentEvent::Notice(n) = e {
                notices.push(n);
            }
        })
        .await
        .unwrap();
    assert!(report.hit_round_limit);
    assert_eq!(report.tool_calls.len(), 3);
    assert_eq!(server.request_count(), 4);
    assert!(notices[0].contains("Stopped after 3 tool rounds"));
    // Every call in the history has a result, so the next turn is a valid request.
    let report = agent
        .turn("go on", &CancelToken::new(), &mut |_| {})
        .await
        .unwrap();
    assert_eq!(report.answer, "done");
    let results = last_tool_results(&server);
    assert!(results.last().unwrap().contains("round limit"));
}

#[tokio::test]
async fn malformed_arguments_are_returned_to_the_model_once() {
    let dir = workspace();
    let server = ScriptedServer::start(
        Script::new()
            .turn(Turn::tool_call("read_file", r#"{"path": "knowledge.md"#))
            .turn(Turn::tool_call("read_file", r#"{"path":"knowledge.md"}"#))
            .turn(Turn::text(["Friday."])),
    )
    .await;
    let mut agent = agent(openai(&server), toolbox(dir.path()), Arc::new(DenyAll));
    let report = agent
        .turn("when?", &CancelToken::new(), &mut |_| {})
        .await
        .unwrap();
    assert_eq!(report.answer, "Friday.");
    assert!(report.tool_calls[0].is_error);
    assert!(!report.tool_calls[1].is_error);
    let second = server.requests()[1].body.to_string();
    assert!(second.contains("not valid JSON"), "{second}");

    // A model that keeps doing it is stopped instead of looping.
    let server = ScriptedServer::start(
        Script::new()
            .turn(Turn::tool_call("read_file", "{oops"))
            .turn(Turn::tool_call("read_file", "{again")),
    )
    .await;
    let mut agent = agent_with(openai(&server), dir.path());
    let report = agent
        .turn("when?", &CancelToken::new(), &mut |_| {})
        .await
        .unwrap();
    assert!(report.answer.contains("invalid arguments"));
    assert_eq!(server.request_count(), 2);
}

fn agent_with(model: Arc<dyn ChatModel>, dir: &Path) -> Agent {
    agent(model, toolbox(dir), Arc::new(DenyAll))
}

#[tokio::test]
async fn bash_needs_approval_and_runs_in_the_workspace_when_given() {
    let dir = workspace();
    let script = || {
        Script::new()
            .turn(Turn::tool_call(
                "bash",
                r#"{"command":"pwd; echo hi > made-by-bash.txt"}"#,
            ))
            .turn(Turn::text(["ok"]))
    };
    let server = ScriptedServer::start(script()).await;
    let mut denied = agent(openai(&server), toolbox(dir.path()), Arc::new(DenyAll));
    let report = denied
        .turn("run it", &CancelToken::new(), &mut |_| {})
        .await
        .unwrap();
    assert!(report.tool_calls[0].is_error);
    assert!(last_tool_results(&server)[0].contains("denied"));
    assert!(!dir.path().join("workspace/made-by-bash.txt").exists());

    let server = ScriptedServer::start(script()).await;
    let mut approved = agent(openai(&server), toolbox(dir.path()), Arc::new(ApproveAll));
    let report = approved
        .turn("run it", &CancelToken::new(), &mut |_| {})
        .await
        .unwrap();
    assert!(!report.tool_calls[0].is_error);
    let result = &last_tool_results(&server)[0];
    assert!(result.contains("exit code 0"), "{result}");
    assert!(result.contains("/workspace"), "{result}");
    assert!(dir.path().join("workspace/made-by-bash.txt").exists());
}

#[tokio::test]
async fn a_persona_cannot_call_a_tool_outside_its_scope() {
    let dir = workspace();
    let server = ScriptedServer::start(
        Script::new()
            .turn(Turn::tool_call(
                "write_file",
                r#"{"path":"x.md","content":"owned"}"#,
            ))
            .turn(Turn::text(["ok"])),
    )
    .await;
    let tools = toolbox(dir.path()).with_scope(ToolScope::Only(vec!["memory_search".to_owned()]));
    let mut agent = agent(openai(&server), tools, Arc::new(ApproveAll));
    let report = agent
        .turn("write", &CancelToken::new(), &mut |_| {})
        .await
        .unwrap();
    assert!(report.tool_calls[0].is_error);
    assert!(!dir.path().join("workspace/x.md").exists());
    // Only the scoped tool was offered.
    let offered: Vec<Value> = server.requests()[0].body["tools"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(offered.len(), 1);
    assert_eq!(offered[0]["function"]["name"], "memory_search");
    assert!(last_tool_results(&server)[0].contains("not available"));
}

#[tokio::test]
async fn file_tools_stay_inside_the_workspace() {
    let dir = workspace();
    std::fs::write(dir.path().join("secret.txt"), "outside").unwrap();
    let server = ScriptedServer::start(
        Script::new()
            .turn(Turn::tool_call("read_file", r#"{"path":"../secret.txt"}"#))
            .turn(Turn::tool_call(
                "edit_file",
                r#"{"path":"MEMORY.md","old_text":"south fence","new_text":"north gate"}"#,
            ))
            .turn(Turn::text(["ok"])),
    )
    .await;
    let mut agent = agent(openai(&server), toolbox(dir.path()), Arc::new(DenyAll));
    let report = agent
        .turn("x", &CancelToken::new(), &mut |_| {})
        .await
        .unwrap();
    assert!(report.tool_calls[0].is_error);
    assert!(!report.tool_calls[1].is_error);
    let memory = std::fs::read_to_string(dir.path().join("workspace/MEMORY.md")).unwrap();
    assert!(memory.contains("north gate"));
}

#[tokio::test]
async fn a_full_context_flushes_memory_then_compacts_and_the_transcript_keeps_the_summary() {
    let dir = workspace();
    let long = "word ".repeat(700);
    let server = ScriptedServer::start(
        Script::new()
            .turn(Turn::text(["first answer"]))
            .turn(Turn::text(["second answer"]))
            // Third turn: flush, summary, then the answer.
            .turn(Turn::tool_call(
                "memory_append",
                r#"{"text":"User likes herons.","target":"memory"}"#,
            ))
            .turn(Turn::text(["- user talked about herons"]))
            .turn(Turn::text(["third answer"])),
    )
    .await;
    let settings = AgentSettings {
        context_window: 3_000,
        reserve_tokens: 500,
        ..AgentSettings::default()
    };
    let store = SessionStore::new(dir.path().join("sessions"));
    let session = store.create(dir.path()).unwrap();
    let id = session.id().to_owned();
    let mut agent = Agent::new(
        openai(&server),
        toolbox(dir.path()),
        Arc::new(DenyAll),
        settings,
        String::new(),
    )
    .with_session(session, Vec::new());
    let cancel = CancelToken::new();
    agent
        .turn(&format!("one {long}"), &cancel, &mut |_| {})
        .await
        .unwrap();
    agent
        .turn(&format!("two {long}"), &cancel, &mut |_| {})
        .await
        .unwrap();
    let mut notices = Vec::new();
    let report = agent
        .turn("three", &cancel, &mut |e| {
            if let AgentEvent::Notice(n) = e {
                notices.push(n);
            }
        })
        .await
        .unwrap();
    assert_eq!(report.answer, "third answer");
    assert!(
        notices.iter().any(|n| n.contains("Compacted")),
        "{notices:?}"
    );
    let memory = std::fs::read_to_string(dir.path().join("workspace/MEMORY.md")).unwrap();
    assert!(memory.contains("User likes herons."));
    // The answering request starts from the summary.
    let last = server.requests().last().unwrap().body.clone();
    let text = last["messages"].to_string();
    assert!(text.contains("user talked about herons"));
    assert!(!text.contains("one word"));
    assert_eq!(agent.history()[0].role, Role::System);

    let saved = store.load(&id).unwrap();
    let resumed = transcript::conversation(&saved);
    assert!(
        resumed[0]
            .text_content()
            .contains("user talked about herons")
    );
    assert_eq!(resumed.last().unwrap().text_content(), "third answer");
}
