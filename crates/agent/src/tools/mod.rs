//! The tools the agent can call. Today: path confinement shared by every file tool.

pub mod confine;
