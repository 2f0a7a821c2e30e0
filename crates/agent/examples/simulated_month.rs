//! A simulated month of background work: a 30-minute heartbeat and three hourly jobs, on a clock
//! the simulation advances (the daemon's own schedule rules: `heartbeat::next_run` and cron
//! `JobSchedule::next_after`), against the scripted provider on 127.0.0.1. Mail, calendar events
//! and feed items arrive in the workspace at pseudo-random (seeded) times; each run either calls
//! the model at once (no prechecks) or first runs its real precheck command under the sandbox and
//! calls the model only when it says there is work. Reports model calls and tokens (input
//! counted with cl100k on the system prompt, tool specs and message actually sent; output on the
//! reply).
//!
//! `cargo run --release -p localgpt-agent --example simulated_month [DAYS]`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use localgpt_agent::heartbeat::next_run;
use localgpt_agent::precheck::{Precheck, PrecheckEnv, fenced_context};
use localgpt_agent::runtime::system_prompt::{PromptInputs, build};
use localgpt_agent::runtime::tokens::{count, estimate_request};
use localgpt_agent::scheduler::JobSchedule;
use localgpt_agent::tools::Tool;
use localgpt_agent::tools::files::{EditFile, ListDir, ReadFile, WriteFile};
use localgpt_core::chat::{ChatEvent, ChatMessage, ChatModel, ChatRequest, ToolSpec};
use localgpt_core::config::Secret;
use localgpt_llm::openai::OpenAiModel;
use localgpt_provider_script::{Script, ScriptedServer, Turn};
use localgpt_sandbox::Policy;

/// A seeded linear congruential generator: the same month every run.
struct Dice(u64);

impl Dice {
    fn chance(&mut self, probability: f64) -> bool {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) < probability
    }
}

#[derive(Default, Clone, Copy)]
struct Tally {
    runs: u64,
    calls: u64,
    input: u64,
    output: u64,
}

struct Task {
    name: &'static str,
    prompt: &'static str,
    precheck: &'static str,
    reply: &'static str,
}

const HEARTBEAT: Task = Task {
    name: "heartbeat",
    prompt: "Heartbeat. Work the open tasks of HEARTBEAT.md:\n- line 3: If a mail in inbox/ is \
             marked URGENT, tell me\n- line 4: Remind me of anything due today in MEMORY.md\n\
             When a task is done, tick it. If nothing needs the owner's attention, reply with \
             exactly HEARTBEAT_OK; otherwise reply with a short note for the owner.",
    precheck: "grep -lqs URGENT inbox/*",
    reply: "HEARTBEAT_OK",
};

const JOBS: [Task; 3] = [
    Task {
        name: "mail-digest",
        prompt: "Summarise the new mail in inbox/ in three lines and move it to archive/.",
        precheck: "ls inbox | grep -q .",
        reply: "Two new mails: the plumber confirms Thursday; the bank statement is ready.",
    },
    Task {
        name: "calendar",
        prompt: "Look at calendar.txt and remind me of what starts within the hour.",
        precheck: "now=$(cat .now); awk -v now=\"$now\" '$1 > now && $1 <= now + 3600 { found = 1 } END { exit !found }' calendar.txt",
        reply: "Dentist at 15:00 — leave at 14:30.",
    },
    Task {
        name: "feeds",
        prompt: "Read the new items in feeds/ and tell me about the ones on Rust or local AI.",
        precheck: "ls feeds | grep -q .",
        reply: "One item worth reading: a llama.cpp release with faster CPU kernels.",
    },
];

fn workspace(root: &Path) {
    for folder in ["inbox", "archive", "feeds"] {
        std::fs::create_dir_all(root.join(folder)).unwrap();
    }
    let memory: String = (0..40)
        .map(|i| format!("- Fact {i}: the owner prefers short answers about topic {i}.\n"))
        .collect();
    std::fs::write(root.join("MEMORY.md"), format!("# Memory\n\n{memory}")).unwrap();
    std::fs::write(
        root.join("USER.md"),
        "# User\n\nName: Sam. Lives in Lyon. Works 9-18 on weekdays.\n",
    )
    .unwrap();
    std::fs::write(
        root.join("HEARTBEAT.md"),
        "# Heartbeat\n\n- [ ] If a mail in inbox/ is marked URGENT, tell me\n- [ ] Remind me of \
         anything due today in MEMORY.md\n",
    )
    .unwrap();
    std::fs::write(root.join("calendar.txt"), "").unwrap();
}

/// What arrives during the ten minutes before `at`: about 8 mails a day in the daytime (one in
/// ten urgent), 2 calendar events each weekday, 5 feed items a day.
fn arrivals(root: &Path, at: Timestamp, dice: &mut Dice, serial: &mut u64) {
    let local = at.to_zoned(TimeZone::UTC);
    let daytime = (8..20).contains(&local.hour());
    let mut drop = |folder: &str, text: &str| {
        *serial += 1;
        std::fs::write(root.join(folder).join(format!("{serial}.txt")), text).unwrap();
    };
    if daytime && dice.chance(8.0 / 72.0) {
        let urgent = dice.chance(0.1);
        drop("inbox", if urgent { "URGENT: call back" } else { "hello" });
    }
    if dice.chance(5.0 / 144.0) {
        drop("feeds", "item");
    }
    let weekday = local.weekday().to_monday_one_offset() <= 5;
    if weekday && daytime && dice.chance(2.0 / 72.0) {
        let start = at.as_second() + 2 * 3600;
        let mut calendar = std::fs::read_to_string(root.join("calendar.txt")).unwrap();
        calendar.push_str(&format!("{start} meeting\n"));
        std::fs::write(root.join("calendar.txt"), calendar).unwrap();
    }
}

/// What the model's turn does to the world: the mail it digested and the items it read are gone.
fn handled(root: &Path, task: &str) {
    let clear = |folder: &str, only_urgent: bool| {
        for entry in std::fs::read_dir(root.join(folder)).unwrap().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            if !only_urgent || text.contains("URGENT") {
                std::fs::rename(entry.path(), root.join("archive").join(entry.file_name()))
                    .unwrap();
            }
        }
    };
    match task {
        "heartbeat" => clear("inbox", true),
        "mail-digest" => clear("inbox", false),
        "feeds" => clear("feeds", false),
        _ => {}
    }
}

struct Sim {
    server: ScriptedServer,
    model: Arc<dyn ChatModel>,
    specs: Vec<ToolSpec>,
    root: std::path::PathBuf,
    env: PrecheckEnv,
}

impl Sim {
    async fn call(&self, task: &Task, context: Option<&str>, now: Timestamp, tally: &mut Tally) {
        let system = build(&PromptInputs {
            workspace: &self.root,
            tools: &self.specs,
            skills: None,
            model: "openai/gpt-test",
            context_window: 128_000,
            now: now.to_zoned(TimeZone::UTC),
            compact: false,
        });
        let text = match context {
            Some(context) => format!("{}\n\n{}", task.prompt, fenced_context(task.name, context)),
            None => task.prompt.to_owned(),
        };
        let messages = vec![ChatMessage::user(text)];
        tally.input += estimate_request(&count, &system, &self.specs, &messages) as u64;
        let request = ChatRequest {
            system: Some(system),
            messages,
            tools: self.specs.clone(),
            ..ChatRequest::default()
        };
        self.server.push(Turn::text([task.reply]));
        let mut stream = self.model.stream(request);
        let mut reply = String::new();
        use futures_util::StreamExt;
        while let Some(event) = stream.next().await {
            if let ChatEvent::TextDelta(delta) = event.unwrap() {
                reply.push_str(&delta);
            }
        }
        tally.output += count(&reply) as u64;
        tally.calls += 1;
    }

    async fn run(&self, task: &Task, prechecks: bool, now: Timestamp, tally: &mut Tally) {
        tally.runs += 1;
        if prechecks {
            let verdict = localgpt_agent::precheck::run(
                &Precheck::Command(task.precheck.to_owned()),
                &self.env,
            )
            .await;
            if !verdict.work {
                return;
            }
            self.call(task, verdict.context.as_deref(), now, tally)
                .await;
        } else {
            self.call(task, None, now, tally).await;
        }
        handled(&self.root, task.name);
    }
}

async fn month(days: i64, prechecks: bool) -> (Tally, [Tally; 3], f64, usize) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    workspace(&root);
    let server = ScriptedServer::start(Script::new()).await;
    let model: Arc<dyn ChatModel> = Arc::new(
        OpenAiModel::new(
            "gpt-test",
            Some(Secret::new("sk-test")),
            Some(&server.url("v1")),
        )
        .unwrap(),
    );
    let specs = vec![
        ReadFile.spec(),
        EditFile.spec(),
        WriteFile.spec(),
        ListDir.spec(),
    ];
    let sim = Sim {
        server,
        model,
        specs,
        env: PrecheckEnv {
            workspace: root.clone(),
            policy: Policy::for_workspace(&root),
            protected: localgpt_core::protected::ProtectedPaths::for_current_user(&[]),
            timeout: std::time::Duration::from_secs(10),
        },
        root: root.clone(),
    };
    let tz = TimeZone::UTC;
    let start: Timestamp = "2026-11-02T00:00:00Z".parse().unwrap();
    let end = start + SignedDuration::from_hours(24 * days);
    let hourly = JobSchedule::parse("0 * * * *").unwrap();
    let interval = std::time::Duration::from_secs(30 * 60);
    let mut heartbeat_due = next_run(None, start, interval, None, &tz);
    let mut job_due = hourly.next_after(start, &tz).unwrap();
    let mut dice = Dice(2026);
    let mut serial = 0;
    let mut heartbeat = Tally::default();
    let mut jobs = [Tally::default(); 3];
    let mut now = start;
    let started = Instant::now();
    while now < end {
        // The clock advances in ten-minute steps; the world changes in between.
        now += SignedDuration::from_mins(10);
        arrivals(&root, now, &mut dice, &mut serial);
        std::fs::write(root.join(".now"), now.as_second().to_string()).unwrap();
        if heartbeat_due <= now {
            sim.run(&HEARTBEAT, prechecks, now, &mut heartbeat).await;
            heartbeat_due = next_run(Some(now), now, interval, None, &tz);
        }
        if job_due <= now {
            for (task, tally) in JOBS.iter().zip(jobs.iter_mut()) {
                sim.run(task, prechecks, now, tally).await;
            }
            job_due = hourly.next_after(now, &tz).unwrap();
        }
    }
    (
        heartbeat,
        jobs,
        started.elapsed().as_secs_f64(),
        sim.server.request_count(),
    )
}

fn main() {
    let days: i64 = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(30);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    println!("simulated {days} days: 30-minute heartbeat + 3 hourly jobs, scripted provider");
    println!(
        "{:<12} {:<14} {:>6} {:>7} {:>12} {:>9}",
        "schedule", "task", "runs", "calls", "input tok", "output"
    );
    for prechecks in [false, true] {
        let (heartbeat, jobs, seconds, requests) = runtime.block_on(month(days, prechecks));
        let label = if prechecks {
            "prechecks"
        } else {
            "no prechecks"
        };
        let mut total = Tally::default();
        let names = std::iter::once(HEARTBEAT.name).chain(JOBS.iter().map(|job| job.name));
        for (name, tally) in names.zip(std::iter::once(heartbeat).chain(jobs)) {
            println!(
                "{label:<12} {name:<14} {:>6} {:>7} {:>12} {:>9}",
                tally.runs, tally.calls, tally.input, tally.output
            );
            total.runs += tally.runs;
            total.calls += tally.calls;
            total.input += tally.input;
            total.output += tally.output;
        }
        println!(
            "{label:<12} {:<14} {:>6} {:>7} {:>12} {:>9}   ({requests} requests on the wire, {seconds:.1} s)",
            "TOTAL", total.runs, total.calls, total.input, total.output
        );
    }
}
