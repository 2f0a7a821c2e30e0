//! Scheduled jobs: cron schedules and what to do about runs missed while the daemon was down.

mod schedule;

pub use schedule::{JobPlan, JobSchedule};
