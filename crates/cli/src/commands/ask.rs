//! `localgpt ask "…"`: one question, one streamed answer on stdout (or one JSON object with
//! `--json`), recorded as a new session. Like every input, it goes through the ingress bus and the
//! control plane (as an owner command from the local user). The exit status is non-zero when the
//! turn fails or is stopped with Ctrl-C.

use std::sync::Arc;

use anyhow::Context;
use localgpt_agent::control::{Outcome, Submission, bounded};
use localgpt_agent::runtime::{Approver, DenyAll};
use localgpt_core::ingress::{Payload, Sender, Source};
use serde_json::json;

use crate::app::App;
use crate::assistant::host;
use crate::terminal::{EventPrinter, TerminalApprover};
use localgpt_agent::host::{Approvals, PlaneParts};

/// Runs `ask`.
pub fn run(
    app: &App,
    question: &str,
    model: Option<&str>,
    json_output: bool,
) -> anyhow::Result<()> {
    if question.trim().is_empty() {
        anyhow::bail!("the question is empty");
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let approver: Arc<dyn Approver> = if TerminalApprover::available() && !json_output {
        Arc::new(TerminalApprover)
    } else {
        Arc::new(DenyAll)
    };
    let PlaneParts {
        plane, model_name, ..
    } = host(app, None, None)?
        .plane(model, Approvals::Fixed(approver))
        .require_model()?;
    let mut printer = EventPrinter::new();
    let outcome = runtime.block_on(async {
        let (bus, queue) = bounded(1);
        let serving = tokio::spawn(plane.serve(queue));
        let ticket = bus.submit(Submission {
            source: Source::Cli,
            sender: Sender::LocalUser,
            payload: Payload {
                text: question.to_owned(),
                session_id: None,
                model: None,
                ..Default::default()
            },
            job_tools: Vec::new(),
            reply_to: None,
            deadline: None,
        })?;
        let cancel = ticket.canceller();
        let interrupt = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
            }
        });
        let outcome = ticket
            .follow(|event| {
                if !json_output {
                    printer.print(&event);
                }
            })
            .await;
        interrupt.abort();
        drop(bus);
        let _ = serving.await;
        anyhow::Ok(outcome)
    })?;
    let (report, session_id) = match outcome {
        Outcome::Done {
            report, session_id, ..
        } => (report, session_id),
        Outcome::Failed(message) => anyhow::bail!("{message}"),
        Outcome::TimedOut => anyhow::bail!("the answer took too long and was stopped"),
    };
    if json_output {
        let output = json!({
            "answer": report.answer,
            "session_id": session_id,
            "model": model_name,
            "usage": report.usage,
            "tool_calls": report.tool_calls,
            "cancelled": report.cancelled,
            "hit_round_limit": report.hit_round_limit,
            "recall": report.recall,
        });
        println!("{}", serde_json::to_string_pretty(&output)?);
    } else {
        printer.finish_turn();
    }
    if report.cancelled {
        anyhow::bail!("cancelled");
    }
    Ok(())
}
