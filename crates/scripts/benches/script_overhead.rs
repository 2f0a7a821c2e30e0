//! Script tool overhead: cold start (a fresh engine, the script compiled, `run` called — what
//! every tool call costs), the cost of one host function call, and the engine's memory per call.
//! Run with `cargo bench -p localgpt-scripts --bench script_overhead`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use localgpt_core::protected::ProtectedPaths;
use localgpt_scripts::{PolicyHost, ScriptTool, manifest};

fn tool(source: &str) -> ScriptTool {
    let text = "description = \"bench\"\n[permissions]\nread = [\"notes\"]\n";
    let permissions = manifest::parse(text, "bench").unwrap().3;
    ScriptTool::inline("bench", source, permissions)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time_calls(tool: &ScriptTool, workspace: &std::path::Path, rounds: usize) -> (Duration, u64) {
    let mut samples = Vec::with_capacity(rounds);
    let mut memory = 0;
    for _ in 0..rounds {
        let host = PolicyHost::new(workspace, ProtectedPaths::default(), &tool.permissions);
        let start = Instant::now();
        let output =
            localgpt_scripts::run(tool, &serde_json::json!({"n": 1}), Arc::new(host)).unwrap();
        samples.push(start.elapsed());
        memory = output.memory_used;
    }
    (median(samples), memory)
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("notes")).unwrap();
    std::fs::write(dir.path().join("notes/a.md"), "a short note\n".repeat(20)).unwrap();
    let rounds = 200;

    let trivial = tool("function run(args) { return 'ok ' + args.n; }");
    let (cold, memory) = time_calls(&trivial, dir.path(), rounds);
    println!(
        "cold start (new engine + compile + run, trivial script): median {:.2} ms, engine memory {} KiB",
        cold.as_secs_f64() * 1e3,
        memory / 1024
    );

    let realistic = tool(
        "function run(args) { const words = {}; for (const w of fs.read('notes/a.md').split(/\\s+/)) \
         words[w] = (words[w] || 0) + 1; return words; }",
    );
    let (real, memory) = time_calls(&realistic, dir.path(), rounds);
    println!(
        "a call that reads a note and counts words: median {:.2} ms, engine memory {} KiB",
        real.as_secs_f64() * 1e3,
        memory / 1024
    );

    let calls = 1_000;
    let host_loop = tool(&format!(
        "function run() {{ let n = 0; for (let i = 0; i < {calls}; i++) n += fs.read('notes/a.md').length; return n; }}"
    ));
    let (looped, _) = time_calls(&host_loop, dir.path(), 20);
    let per_call = looped.saturating_sub(cold).as_secs_f64() * 1e6 / calls as f64;
    println!("one fs.read host call (file open + read + checks): {per_call:.1} µs");
}
