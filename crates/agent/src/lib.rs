//! LocalGPT's agent runtime: the agent loop (`runtime`), its tools, sessions, skills, recall,
//! the ingress bus and control plane (`control`), the heartbeat and job schedules, budgets and
//! prechecks for background work — and `host`, which assembles all of it for every front end.

pub mod budget;
pub mod control;
pub mod embedding_worker;
pub mod heartbeat;
pub mod host;
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
