//! Reading `config.toml`: TOML syntax, `${VAR}` expansion, typed deserialization, unknown-key
//! warnings and validation, each failure reported with the file, the place and how to fix it.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml_edit::DocumentMut;

use super::keys;
use super::schema::Config;

/// Looks up an environment variable; injected so tests need not touch the process environment.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment as an [`EnvLookup`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A problem that stops the configuration from loading.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but cannot be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The config file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{}", syntax_message(.path, .line, .column, .line_text, .message))]
    Syntax {
        /// The config file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The offending line as written.
        line_text: String,
        /// The parser's explanation.
        message: String,
    },
    /// A key holds a value of the wrong type or form.
    #[error("{}", type_message(.path, .key, .line, .line_text, .message))]
    Type {
        /// The config file.
        path: PathBuf,
        /// Dotted key, e.g. `agent.context_window`.
        key: String,
        /// 1-based line, when known.
        line: Option<usize>,
        /// The offending line, when known.
        line_text: Option<String>,
        /// What was wrong and which form is expected.
        message: String,
    },
    /// A `${VAR}` names a variable that is not set.
    #[error(
        "{path}: `{key}` uses ${{{var}}}, but the environment variable {var} is not set; \
         export it, or write the value in place of ${{{var}}}"
    )]
    MissingEnvVar {
        /// The config file.
        path: PathBuf,
        /// Dotted key holding the reference.
        key: String,
        /// The variable name.
        var: String,
    },
    /// A `${` without its closing brace, or an empty name.
    #[error(
        "{path}: `{key}` has a malformed variable reference in {}; write ${{NAME}}, or $$ for a literal $",
        shown_reference(.key, .value)
    )]
    BadEnvReference {
        /// The config file.
        path: PathBuf,
        /// Dotted key.
        key: String,
        /// The string as written.
        value: String,
    },
    /// Values that parse but cannot work together.
    #[error("{path}: `{key}`: {message}")]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// Dotted key.
        key: String,
        /// What is wrong and what to do.
        message: String,
    },
}

fn syntax_message(path: &Path, line: &usize, column: &usize, text: &str, message: &str) -> String {
    let gutter = line.to_string().len();
    let shown = shown_line(text, None);
    let mut out = format!(
        "{}:{line}:{column}: invalid TOML: {}\n{:gutter$} |\n{line} | {}",
        path.display(),
        shown_value(message.trim(), text, None),
        "",
        shown.text,
    );
    // The caret points into the line only where the line is shown as written.
    if !shown.masked && *column <= shown.text.chars().count() {
        out.push_str(&format!("\n{:gutter$} | {:>column$}", "", "^"));
    }
    out
}

fn type_message(
    path: &Path,
    key: &str,
    line: &Option<usize>,
    text: &Option<String>,
    message: &str,
) -> String {
    let place = match line {
        Some(line) => format!("{}:{line}", path.display()),
        None => path.display().to_string(),
    };
    let message = shown_value(message, text.as_deref().unwrap_or_default(), Some(key));
    let mut out = format!("{place}: `{key}`: {message}");
    if let (Some(line), Some(text)) = (line, text) {
        out.push_str(&format!("\n{line} | {}", shown_line(text, Some(key)).text));
    }
    out
}

/// A malformed `${…}` value as its error quotes it: masked under a secret key, cut when long.
fn shown_reference(key: &str, value: &str) -> String {
    if is_secret_name(key) {
        MASK.to_owned()
    } else {
        format!("{:?}", capped(value, MAX_SHOWN_CHARS))
    }
}

/// Longest stretch of a config line or value an error message quotes.
const MAX_SHOWN_CHARS: usize = 200;
/// Longest value quoted inside the explanation (the line below shows more of it).
const MAX_QUOTED_CHARS: usize = 40;
/// What a secret's value is shown as.
const MASK: &str = "****";

/// Whether a key name (`api_key`, `telegram.bot_token`, `db_password`) names a credential.
/// Counts such as `max_tokens` are not secrets.
pub(crate) fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|word| !word.is_empty() && !word.ends_with("tokens"))
        .any(|word| {
            ["key", "token", "secret", "password", "passwd", "credential"]
                .iter()
                .any(|secret| word.contains(secret))
        })
}

/// A config line as an error shows it.
struct ShownLine {
    text: String,
    masked: bool,
}

/// `line` for an error message: a line naming a secret (or belonging to the secret `key`) shows
/// its key but `****` for the value; any other line is cut to [`MAX_SHOWN_CHARS`]; control
/// characters are escaped.
fn shown_line(line: &str, key: Option<&str>) -> ShownLine {
    if key.is_some_and(is_secret_name) || is_secret_name(line) {
        let name = line
            .split_once('=')
            .map_or(line, |(name, _)| name)
            .trim_end();
        return ShownLine {
            text: format!("{} = {MASK}", capped(name, MAX_SHOWN_CHARS)),
            masked: true,
        };
    }
    ShownLine {
        text: capped(line, MAX_SHOWN_CHARS),
        masked: false,
    }
}

/// `message` with the value written on `line` masked (a secret) or cut short (a long one), so
/// the error neither shows a secret nor repeats a huge value.
fn shown_value(message: &str, line: &str, key: Option<&str>) -> String {
    let value = value_of(line);
    let secret = key.is_some_and(is_secret_name) || is_secret_name(line);
    let mut out = message.to_owned();
    if !value.is_empty() && out.contains(value) {
        if secret {
            out = out.replace(value, MASK);
        } else if value.chars().count() > MAX_QUOTED_CHARS {
            out = out.replace(value, &capped(value, MAX_QUOTED_CHARS));
        }
    }
    capped(&out, MAX_SHOWN_CHARS * 2)
}

/// The value written on a `key = value` line, without its quotes.
fn value_of(line: &str) -> &str {
    line.split_once('=')
        .map_or("", |(_, value)| value)
        .trim()
        .trim_matches(|c| c == '"' || c == '\'')
}

/// `text` cut to `max` characters (marked with `…` when cut), control characters escaped.
pub(crate) fn capped(text: &str, max: usize) -> String {
    let cut = match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    };
    crate::text::terminal_safe_line(&cut).into_owned()
}

/// Something worth telling the user that does not stop loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The key, dotted.
    pub key: String,
    /// What is wrong with it.
    pub kind: WarningKind,
    /// The config file.
    pub path: PathBuf,
}

/// Why a key is ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WarningKind {
    /// No such key exists.
    UnknownKey {
        /// The closest valid key, if any is close.
        suggestion: Option<String>,
    },
    /// Its value uses `${VAR}` and the variable is not set: the key is left unset, and only a
    /// command that needs it fails (naming the variable).
    UnsetVariable {
        /// The variable's name.
        var: String,
    },
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (path, key) = (self.path.display(), &self.key);
        match &self.kind {
            WarningKind::UnknownKey { suggestion } => {
                write!(f, "{path}: unknown key `{key}` is ignored")?;
                if let Some(suggestion) = suggestion {
                    write!(f, "; did you mean `{suggestion}`?")?;
                }
                Ok(())
            }
            WarningKind::UnsetVariable { var } => write!(
                f,
                "{path}: `{key}` uses ${{{var}}}, which is not set, so `{key}` is left unset; \
                 export {var} where it is needed"
            ),
        }
    }
}

/// A configuration as read from disk, with what was noticed on the way.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The effective configuration.
    pub config: Config,
    /// Unknown keys and similar notes.
    pub warnings: Vec<ConfigWarning>,
    /// Whether the file existed (otherwise `config` holds the defaults).
    pub file_exists: bool,
}

/// Reads and checks the config file at `path`; a missing file gives the defaults.
pub fn load(path: &Path, env: EnvLookup<'_>) -> Result<LoadedConfig, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(LoadedConfig {
                config: Config::default(),
                warnings: Vec::new(),
                file_exists: false,
            });
        }
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let (config, warnings) = parse(&text, path, env)?;
    Ok(LoadedConfig {
        config,
        warnings,
        file_exists: true,
    })
}

/// Parses config text that was read from `path` (used in messages only).
pub fn parse(
    text: &str,
    path: &Path,
    env: EnvLookup<'_>,
) -> Result<(Config, Vec<ConfigWarning>), ConfigError> {
    let mut document: DocumentMut = text.parse().map_err(|error: toml_edit::TomlError| {
        syntax_error(text, path, error.span(), error.message())
    })?;
    let mut warnings = Vec::new();
    super::expand::expand_table(document.as_table_mut(), "", path, env, &mut warnings)?;
    let expanded = document.to_string();

    let mut unknown: Vec<String> = Vec::new();
    let config: Config = {
        let deserializer = toml::Deserializer::parse(&expanded)
            .map_err(|error| syntax_error(&expanded, path, error.span(), error.message()))?;
        let mut note_unknown = |ignored: serde_ignored::Path<'_>| unknown.push(ignored.to_string());
        let ignoring = serde_ignored::Deserializer::new(deserializer, &mut note_unknown);
        // The key comes from where the error points (see `key_at`): wrapping the deserializer
        // to track paths would instantiate the whole configuration's deserializing code again.
        Config::deserialize(ignoring).map_err(|inner: toml::de::Error| {
            let key = inner
                .span()
                .and_then(|span| super::key_at::key_at(&expanded, span.start))
                .unwrap_or_else(|| ".".to_owned());
            // The line as the user wrote it: `${VAR}`, not the variable's (maybe secret) value,
            // and the explanation quoting what was written rather than what it expanded to.
            let mut message = humanize_type_message(inner.message());
            let located = inner.span().map(|span| {
                let (line, column, expanded_line) = locate(&expanded, span.start);
                let written = text.lines().nth(line - 1).map(str::trim_end);
                if let Some(written) = written.filter(|written| *written != expanded_line) {
                    let expanded_value = value_of(&expanded_line);
                    if !expanded_value.is_empty() {
                        message = message.replace(expanded_value, value_of(written));
                    }
                }
                (line, column, written.map_or(expanded_line, str::to_owned))
            });
            ConfigError::Type {
                path: path.to_owned(),
                key: if key == "." {
                    "(top level)".to_owned()
                } else {
                    key
                },
                line: located.as_ref().map(|(line, _, _)| *line),
                line_text: located.map(|(_, _, text)| text),
                message,
            }
        })?
    };
    validate(&config, path)?;
    warnings.extend(unknown.into_iter().map(|key| ConfigWarning {
        kind: WarningKind::UnknownKey {
            suggestion: keys::suggest(&key),
        },
        key,
        path: path.to_owned(),
    }));
    Ok((config, warnings))
}

fn syntax_error(
    text: &str,
    path: &Path,
    span: Option<std::ops::Range<usize>>,
    message: &str,
) -> ConfigError {
    let (line, column, line_text) = locate(text, span.map_or(0, |span| span.start));
    ConfigError::Syntax {
        path: path.to_owned(),
        line,
        column,
        line_text,
        message: message.to_owned(),
    }
}

/// 1-based line and column of a byte offset, and the text of that line.
fn locate(text: &str, offset: usize) -> (usize, usize, String) {
    let offset = offset.min(text.len());
    let before = &text[..text.floor_char_boundary(offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    let column = before[line_start..].chars().count() + 1;
    let line_text = text[line_start..]
        .lines()
        .next()
        .unwrap_or("")
        .trim_end()
        .to_owned();
    (line, column, line_text)
}

/// Rewrites serde's type names into the forms a config author writes.
fn humanize_type_message(message: &str) -> String {
    let message = message.trim();
    let replacements = [
        ("expected u16", "expected a whole number from 0 to 65535"),
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        ),
        ("expected u64", "expected a whole number"),
        ("expected i64", "expected a whole number"),
        (
            "expected a sequence",
            r#"expected a list such as ["a", "b"]"#,
        ),
        ("expected a boolean", "expected true or false"),
    ];
    let mut out = message.to_owned();
    for (from, to) in replacements {
        out = out.replace(from, to);
    }
    if let Some(variants) = out.strip_prefix("unknown variant ") {
        out = format!("unknown value {variants}");
    }
    out
}

fn validate(config: &Config, path: &Path) -> Result<(), ConfigError> {
    let invalid = |key: &str, message: String| ConfigError::Invalid {
        path: path.to_owned(),
        key: key.to_owned(),
        message,
    };
    let memory = &config.memory;
    if memory.chunk_tokens < 32 {
        return Err(invalid(
            "memory.chunk_tokens",
            format!(
                "{} is too small; use at least 32 (default 400)",
                memory.chunk_tokens
            ),
        ));
    }
    if memory.chunk_overlap >= memory.chunk_tokens {
        return Err(invalid(
            "memory.chunk_overlap",
            format!(
                "{} must be smaller than memory.chunk_tokens ({}); the default is 80",
                memory.chunk_overlap, memory.chunk_tokens
            ),
        ));
    }
    if config.agent.max_tool_rounds == 0 {
        return Err(invalid(
            "agent.max_tool_rounds",
            "must be at least 1 (default 25)".to_owned(),
        ));
    }
    if config.agent.reserve_tokens >= config.agent.context_window {
        return Err(invalid(
            "agent.reserve_tokens",
            format!(
                "must be smaller than agent.context_window ({})",
                config.agent.context_window
            ),
        ));
    }
    if config.heartbeat.interval.get() < std::time::Duration::from_secs(60) {
        return Err(invalid(
            "heartbeat.interval",
            format!(
                "{} is too short; use at least 1m",
                config.heartbeat.interval
            ),
        ));
    }
    let server = &config.server;
    for (key, timeout) in [
        ("server.header_timeout", server.header_timeout),
        ("server.body_timeout", server.body_timeout),
    ] {
        if timeout.get().is_zero() {
            return Err(invalid(key, "must be longer than 0s".to_owned()));
        }
    }
    if server.max_connections == 0 {
        return Err(invalid(
            "server.max_connections",
            "must be at least 1 (default 256)".to_owned(),
        ));
    }
    check_precheck(
        "heartbeat",
        config.heartbeat.precheck.as_deref(),
        config.heartbeat.precheck_script.as_deref(),
    )
    .map_err(|(key, message)| invalid(&key, message))?;
    for (index, job) in config.jobs.iter().enumerate() {
        check_precheck(
            &format!("jobs.{index}"),
            job.precheck.as_deref(),
            job.precheck_script.as_deref(),
        )
        .map_err(|(key, message)| invalid(&key, message))?;
    }
    let mut names = std::collections::BTreeSet::new();
    for (index, job) in config.jobs.iter().enumerate() {
        if job.name.trim().is_empty() {
            return Err(invalid(
                &format!("jobs.{index}.name"),
                "a job needs a non-empty name".to_owned(),
            ));
        }
        if !names.insert(job.name.as_str()) {
            return Err(invalid(
                &format!("jobs.{index}.name"),
                format!(
                    "another job is already named `{}`",
                    capped(&job.name, MAX_QUOTED_CHARS)
                ),
            ));
        }
    }
    Ok(())
}

/// A precheck is a command or a script tool `tools/NAME.js`, not both.
fn check_precheck(
    section: &str,
    command: Option<&str>,
    script: Option<&str>,
) -> Result<(), (String, String)> {
    if command.is_some() && script.is_some() {
        return Err((
            format!("{section}.precheck_script"),
            "set either precheck (a command) or precheck_script, not both".to_owned(),
        ));
    }
    if command.is_some_and(|command| command.trim().is_empty()) {
        return Err((
            format!("{section}.precheck"),
            "an empty command; remove the key or write a command".to_owned(),
        ));
    }
    if let Some(script) = script {
        let name = script
            .strip_prefix("tools/")
            .and_then(|rest| rest.strip_suffix(".js"));
        let valid = name.is_some_and(|name| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
        if !valid {
            return Err((
                format!("{section}.precheck_script"),
                format!(
                    "{} is not a script tool; write \"tools/NAME.js\" (a file in the \
                     workspace's tools/ folder, with its NAME.toml manifest)",
                    capped(script, MAX_QUOTED_CHARS)
                ),
            ));
        }
    }
    Ok(())
}
