//! `localgpt ask "…"`: one question, one streamed answer on stdout (or one JSON object with
//! `--json`), recorded as a new session. The exit status is non-zero when the turn fails.

use std::sync::Arc;

use anyhow::Context;
use localgpt_agent::runtime::{Approver, DenyAll};
use localgpt_core::chat::CancelToken;
use serde_json::json;

use crate::app::App;
use crate::assistant::{SessionChoice, build_agent, create_model};
use crate::terminal::{EventPrinter, TerminalApprover};

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
    let model = create_model(app, model)?;
    let mut agent = build_agent(app, model, &SessionChoice::New, approver)?;
    let cancel = CancelToken::new();
    let on_interrupt = cancel.clone();
    let mut printer = EventPrinter::new();
    let report = runtime.block_on(async {
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                on_interrupt.cancel();
            }
        });
        agent
            .turn(question, &cancel, &mut |event| {
                if !json_output {
                    printer.print(&event);
                }
            })
            .await
    })?;
    if json_output {
        let output = json!({
            "answer": report.answer,
            "session_id": agent.session_id(),
            "model": agent.model_name(),
            "usage": report.usage,
            "tool_calls": report.tool_calls,
            "cancelled": report.cancelled,
            "hit_round_limit": report.hit_round_limit,
        });
        println!("{}", serde_json::to_string_pretty(&output)?);
    } else {
        printer.end_line();
    }
    if report.cancelled {
        anyhow::bail!("cancelled");
    }
    Ok(())
}
