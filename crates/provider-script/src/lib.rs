//! Test support: a model-provider server that speaks the real wire formats, driven by a script.
//!
//! [`ScriptedServer`] listens on `127.0.0.1:0` and serves Anthropic `POST /v1/messages` (SSE),
//! OpenAI `POST /v1/chat/completions` (SSE, or one JSON object when `stream` is not true), and
//! Ollama `POST /api/chat` (NDJSON) and `GET /api/tags`. Each model request consumes the next
//! [`Turn`] of the [`Script`]: a reply (text pieces, tool calls with arguments split into
//! deltas, usage, stop reason) that may end badly (cut connection, malformed chunk, error event,
//! never), or an HTTP failure (429 with `retry-after`, 500, 401), possibly one that echoes the
//! request's credentials and URL back ([`Echo`], for leak tests). Every request is recorded with
//! its headers and JSON body so tests can assert on what the client sent.
//!
//! [`FakeTelegram`] stands in for Telegram's Bot API (long-polled `getUpdates`, recorded
//! `sendMessage` and friends) for the Telegram gateway's tests.
//!
//! ```no_run
//! # async fn example() {
//! use localgpt_provider_script::{Script, ScriptedServer, Turn};
//! let server = ScriptedServer::start(
//!     Script::new()
//!         .turn(Turn::text(["Hel", "lo"]))
//!         .turn(Turn::tool_call("memory_search", r#"{"query":"x"}"#)),
//! )
//! .await;
//! let anthropic_base = server.base_url();
//! let openai_base = server.url("v1");
//! // … run the client, then:
//! let requests = server.requests();
//! # }
//! ```
//!
//! [`FakeClaude`] (Unix) writes a fake `claude` command that prints scripted stream-json lines.

#[cfg(unix)]
mod claude;
mod echo;
mod script;
mod server;
pub mod telegram;
pub mod wire;

#[cfg(unix)]
pub use claude::{FakeClaude, InstalledFakeClaude};
pub use echo::Echo;
pub use script::{Block, Ending, Script, StopKind, Turn, split_in_three};
pub use server::{RecordedRequest, ScriptedServer};
pub use telegram::{BotCall, FakeTelegram};
