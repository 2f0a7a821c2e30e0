//! The heartbeat's decisions, kept free of I/O so they are easy to test: which tasks in
//! HEARTBEAT.md are open, whether a reply means "nothing to report", and when the next run is due.

mod reply;
mod schedule;
mod tasks;

pub use reply::{HEARTBEAT_OK, is_heartbeat_ok};
pub use schedule::{is_active, next_run};
pub use tasks::{OpenTask, open_tasks};
