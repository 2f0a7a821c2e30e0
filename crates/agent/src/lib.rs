//! LocalGPT's agent runtime. Today it holds OpenClaw-compatible skills: discovery, parsing,
//! eligibility and the prompt listing; the agent loop, tools, sessions and the control plane join
//! it as they land.

pub mod budget;
pub mod control;
pub mod embedding_worker;
pub mod heartbeat;
pub mod precheck;
pub mod prompt;
pub mod recall;
pub mod runtime;
pub mod scheduler;
pub mod sessions;
pub mod skills;
pub mod tools;
pub mod triage;
pub mod usage;
