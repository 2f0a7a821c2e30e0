//! The approval hook: before a tool listed in `agent.require_approval` runs, the agent asks the
//! owner through an [`Approver`] that the caller provides (a terminal prompt in `chat`, buttons in
//! the web UI later).

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

/// A tool call waiting for the owner's decision.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRequest {
    /// The tool.
    pub tool: String,
    /// Its arguments.
    pub arguments: Value,
}

/// Asks the owner whether a tool call may run.
pub trait Approver: Send + Sync {
    /// Resolves to `true` when the call may run.
    fn approve<'a>(
        &'a self,
        request: &'a ApprovalRequest,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>>;
}

/// Approves everything (for callers that already asked, or tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApproveAll;

impl Approver for ApproveAll {
    fn approve<'a>(
        &'a self,
        _request: &'a ApprovalRequest,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>> {
        Box::pin(async { true })
    }
}

/// Denies everything: for runs with nobody to ask (scripts, `ask` without a terminal).
#[derive(Debug, Clone, Copy, Default)]
pub struct DenyAll;

impl Approver for DenyAll {
    fn approve<'a>(
        &'a self,
        request: &'a ApprovalRequest,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>> {
        tracing::info!(tool = %request.tool, "denied: nobody is there to approve it");
        Box::pin(async { false })
    }
}
