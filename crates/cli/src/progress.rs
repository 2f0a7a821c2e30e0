//! Progress bars for long work (indexing, model import and download): drawn on stderr when it is
//! a terminal, silent when output is piped or `--json` is asked for.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar that may be invisible; every method is cheap when hidden.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar for `total` units, shown only when stderr is a terminal and `quiet` is false.
    pub fn new(total: u64, label: &str, quiet: bool) -> Self {
        let bar = ProgressBar::with_draw_target(Some(total), draw_target(quiet));
        let style = ProgressStyle::with_template(
            "{prefix:>10.bold} [{bar:30}] {pos}/{len} {msg} ({per_sec}, {elapsed}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(label.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        Self { bar }
    }

    /// A bar counting bytes (downloads).
    pub fn bytes(total: u64, label: &str, quiet: bool) -> Self {
        let bar = ProgressBar::with_draw_target(Some(total), draw_target(quiet));
        let style = ProgressStyle::with_template(
            "{prefix:>10.bold} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} (eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(label.to_owned());
        Self { bar }
    }

    /// A spinner for work of unknown length.
    pub fn spinner(label: &str, quiet: bool) -> Self {
        let bar = ProgressBar::with_draw_target(None, draw_target(quiet));
        let style = ProgressStyle::with_template("{prefix:>10.bold} {spinner} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.set_prefix(label.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        Self { bar }
    }

    /// Sets the total when it becomes known or changes.
    pub fn set_total(&self, total: u64) {
        self.bar.set_length(total);
    }

    /// Sets the position.
    pub fn set(&self, position: u64) {
        self.bar.set_position(position);
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if !self.bar.is_finished() {
            self.bar.finish_and_clear();
        }
    }
}

fn draw_target(quiet: bool) -> ProgressDrawTarget {
    if quiet || !std::io::stderr().is_terminal() {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    }
}
