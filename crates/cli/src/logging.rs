//! Logging set-up: logs go to stderr (the daemon's stderr is its log file), and every line passes
//! through a [`Redactor`] first, so a secret logged by any crate — the configured API keys, the
//! API token, the Telegram bot token, the environment's provider keys, credentials in endpoint
//! URLs — appears as `[redacted]` in any spelling the redactor knows (raw, percent-encoded,
//! JSON-escaped), and no URL in a log line keeps its userinfo or query string.
//!
//! Logging starts before the configuration is read; [`learn_secrets`] adds its secrets once the
//! command knows where the configuration is.

use std::io::Write;
use std::path::Path;
use std::sync::{LazyLock, PoisonError, RwLock};

use localgpt_core::config;
use localgpt_core::redact::Redactor;
use localgpt_llm::ModelFactory;
use localgpt_llm::scrub::strip_url_credentials;

/// What every log line is scrubbed with; starts with the environment's secrets.
static REDACTOR: LazyLock<RwLock<Redactor>> =
    LazyLock::new(|| RwLock::new(Redactor::from_config(&localgpt_core::Config::default())));

/// Logs go to stderr: warnings by default, more with `-v`; `LOCALGPT_LOG` takes a full filter.
/// Colour codes only go to a terminal, and never with `NO_COLOR` set (a daemon's stderr is its
/// log file, a pipe or a file gets plain lines).
pub fn init(verbose: u8, to_file: bool) {
    // llama.cpp's own log lines are kept off the terminal unless asked for with -vv.
    let default = match verbose {
        0 => "warn,llama-cpp-2=off,llama_cpp_2=off",
        1 => "info,llama-cpp-2=off,llama_cpp_2=off",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOCALGPT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    LazyLock::force(&REDACTOR);
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| ScrubbingStderr)
        .with_ansi(!to_file && crate::terminal::colour_on(&std::io::stderr()))
        .with_target(false)
        .init();
}

/// Adds the secrets of the configuration at `config_file` (if it can be read) to what log lines
/// are scrubbed of.
pub fn learn_secrets(config_file: &Path) {
    if let Ok(loaded) = config::load(config_file, &config::process_env) {
        learn(&loaded.config);
    }
}

/// Adds the secrets of a configuration already loaded (as [`crate::app::App::load`] does, so the
/// file is read once per command).
pub fn learn(config: &localgpt_core::Config) {
    let redactor = ModelFactory::new(config).redactor();
    *REDACTOR.write().unwrap_or_else(PoisonError::into_inner) = redactor;
}

/// `text` as it may be printed or logged: known secrets replaced, URL credentials stripped.
pub fn scrub(text: &str) -> String {
    let redactor = REDACTOR.read().unwrap_or_else(PoisonError::into_inner);
    strip_url_credentials(&redactor.scrub(text)).into_owned()
}

/// Stderr, with every write scrubbed. The formatter writes each event with one call, so a line
/// is always scrubbed whole.
struct ScrubbingStderr;

impl Write for ScrubbingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(scrub(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_lose_known_secrets_and_url_credentials() {
        *REDACTOR.write().unwrap_or_else(PoisonError::into_inner) =
            Redactor::new(["PLANTED-log-secret"]);
        let line = "token PLANTED-log-secret at https://u:pw@host/x?key=k failed";
        let scrubbed = scrub(line);
        assert!(!scrubbed.contains("PLANTED"), "{scrubbed}");
        assert!(!scrubbed.contains("pw@"), "{scrubbed}");
        assert!(!scrubbed.contains("key=k"), "{scrubbed}");
    }
}
