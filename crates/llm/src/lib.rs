//! LocalGPT's model providers.
//!
//! Each provider implements [`localgpt_core::chat::ChatModel`]: streamed text, native tool calls
//! assembled from argument fragments, token usage, retries of transient failures within a
//! bounded budget, and errors that name the provider and what to fix.
//!
//! - [`anthropic`]: the Messages API with SSE streaming.
//! - [`openai`]: Chat Completions with SSE streaming; `base_url` reaches any compatible server.
//! - [`ollama`]: the native `/api/chat` with NDJSON streaming.
//! - [`claude_cli`]: the `claude` command in print mode with stream-json output.
//!
//! [`create_model`] turns a reference such as `anthropic/claude-sonnet-4-6` or an alias such as
//! `sonnet` into a model, reading keys from the configuration or the environment. Dropping a
//! reply stream cancels the request. Secrets are only ever put in request headers, never logged,
//! and every error is scrubbed of them ([`scrub`]) before it leaves a provider.

pub mod anthropic;
pub mod claude_cli;
mod emit;
mod http;
pub mod ollama;
pub mod openai;
pub mod registry;
pub mod retry;
pub mod scrub;
pub mod sse;
pub mod tool_calls;

pub use registry::{BUILTIN_ALIASES, ModelFactory, ModelRef, PROVIDERS, create_model};
pub use retry::RetryPolicy;
