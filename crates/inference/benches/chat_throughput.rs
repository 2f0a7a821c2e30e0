//! Speed of the built-in chat engine on a GGUF model, through the public `ChatModel` stream (so
//! everything LocalGPT adds is counted): load time, prompt tokens/s (a ~128-token prompt), generation
//! tokens/s (64 tokens, greedy), time to first token for a first turn and for a follow-up that reuses
//! the cache, at 1 and 2 threads. Compare with `llama-bench -m MODEL -p 128 -n 64 -t 1,2`.
//! Run: `cargo bench -p localgpt-inference --bench chat_throughput -- MODEL.gguf`.
//!
//! With `--host PROGRAM` the model runs where the product runs it: in a model process started from
//! the model host executable PROGRAM (`<target folder>/model-host/<target>/<profile>/localgpt-model-host`,
//! built by `crates/cli/build.rs`), so the process boundary (each token crosses a pipe) is counted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use localgpt_core::chat::{ChatEvent, ChatMessage, ChatModel, ChatRequest, Usage};
use localgpt_inference::model_process::ProcessCommand;
use localgpt_inference::{KeepAliveModel, LocalChatModel, LocalChatOptions};

struct Timing {
    first_token: Duration,
    total: Duration,
    /// The reply's token counts, as the model reported them.
    usage: Usage,
}

async fn run(model: &dyn ChatModel, request: ChatRequest) -> (Timing, String) {
    let started = Instant::now();
    let mut stream = model.stream(request);
    let mut first = None;
    let mut text = String::new();
    let mut usage = None;
    while let Some(event) = stream.next().await {
        match event.unwrap() {
            ChatEvent::TextDelta(delta) => {
                first.get_or_insert_with(|| started.elapsed());
                text.push_str(&delta);
            }
            ChatEvent::Usage(reported) => usage = Some(reported),
            _ => {}
        }
    }
    let total = started.elapsed();
    (
        Timing {
            first_token: first.unwrap_or(total),
            total,
            usage: usage.expect("the local model reports its token counts"),
        },
        text,
    )
}

/// Loads the model in this process, or in a model process started from `host`.
fn load(path: &Path, options: &LocalChatOptions, host: Option<&Path>) -> Box<dyn ChatModel> {
    match host {
        None => Box::new(LocalChatModel::load("bench", path, options).unwrap()),
        Some(host) => {
            let model = KeepAliveModel::open("bench", path, options, None)
                .unwrap()
                .in_model_process(ProcessCommand::file(host, &[]));
            model.preload().unwrap();
            Box::new(model)
        }
    }
}

fn request(messages: Vec<ChatMessage>) -> ChatRequest {
    ChatRequest {
        system: Some("You are a helpful assistant.".to_owned()),
        messages,
        temperature: Some(0.0),
        max_tokens: Some(64),
        ..ChatRequest::default()
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path: PathBuf = args
        .iter()
        .find(|arg| arg.ends_with(".gguf"))
        .expect("usage: cargo bench --bench chat_throughput -- MODEL.gguf [--host PROGRAM]")
        .into();
    let host: Option<PathBuf> = args
        .iter()
        .position(|arg| arg == "--host")
        .map(|at| args.get(at + 1).expect("--host needs a program").into());
    match &host {
        Some(host) => println!("in a model process ({})", host.display()),
        None => println!("in this process"),
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // About 128 prompt tokens once the chat template is applied.
    let question = "Here is some context about lighthouses. A lighthouse is a tower with a bright light at the top, \
        built to guide ships at night and in bad weather. Keepers once lived in them, trimming wicks and \
        winding clockwork. Today most are automatic. Please write a long, detailed story about a \
        lighthouse keeper and a storm, with many details about the sea, the light and the ships.";
    for threads in [1, 2] {
        let started = Instant::now();
        let options = LocalChatOptions {
            threads: Some(threads),
            context_size: Some(2048),
            chat_template: None,
        };
        let model = load(&path, &options, host.as_deref());
        let model = model.as_ref();
        let load = started.elapsed();
        let mut prompt_rates = Vec::new();
        let mut generation_rates = Vec::new();
        let mut first_ttft = Vec::new();
        let mut follow_ttft = Vec::new();
        let mut prompt_tokens = 0;
        for round in 0..5 {
            // A different first word each round, so nothing is reused from the previous round.
            let opening = ChatMessage::user(format!("Round {round}. {question}"));
            let (first, answer) = runtime.block_on(run(model, request(vec![opening.clone()])));
            prompt_tokens = first.usage.input_tokens;
            let decoded = first.usage.input_tokens - first.usage.cache_read_tokens.unwrap_or(0);
            prompt_rates.push(decoded as f64 / first.first_token.as_secs_f64());
            let generated = first.usage.output_tokens;
            if generated > 1 {
                generation_rates
                    .push((generated - 1) as f64 / (first.total - first.first_token).as_secs_f64());
            }
            first_ttft.push(first.first_token.as_secs_f64() * 1000.0);
            let follow_up = vec![
                opening,
                ChatMessage::assistant(answer),
                ChatMessage::user("Make it shorter."),
            ];
            let (second, _) = runtime.block_on(run(model, request(follow_up)));
            follow_ttft.push(second.first_token.as_secs_f64() * 1000.0);
        }
        let median = |values: &mut Vec<f64>| {
            values.sort_by(f64::total_cmp);
            values[values.len() / 2]
        };
        println!(
            "threads {threads}: load {:.0} ms; prompt {:.0} tok/s ({prompt_tokens} tokens); generation {:.0} tok/s; \
             time to first token {:.0} ms first turn, {:.0} ms follow-up (cache reused)",
            load.as_secs_f64() * 1000.0,
            median(&mut prompt_rates),
            median(&mut generation_rates),
            median(&mut first_ttft),
            median(&mut follow_ttft),
        );
    }
}
