//! `localgpt daemon start|stop|status`: one background process that serves the HTTP API and runs
//! every input through the ingress bus and control plane. `start` launches the same binary with
//! `--foreground` (what service managers run), writes its output to `state/logs/daemon.log` and
//! returns once the API answers; one lock file keeps two daemons off one home; `stop` asks it to
//! finish in-flight turns and leave; a stale pid file is noticed and removed. While it runs it
//! also works the heartbeat and jobs (delivering their reports), serves the web UI, and runs the
//! Telegram gateway when a bot token is set.

mod background;
mod delivery;
mod heartbeat;
mod jobs;
mod process;
mod run;
mod sandbox_status;
mod telegram;

pub use jobs::list as list_jobs;
#[cfg(feature = "desktop")]
pub(crate) use process::running;
pub use process::{start, status, stop};
#[cfg(feature = "desktop")]
pub use run::InProcessHost;
pub use run::{heartbeat_once, run_foreground, run_job_once};
