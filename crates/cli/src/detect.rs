//! Picks the model a fresh configuration should use, in the order of the specification: an
//! Anthropic key, an OpenAI key, the `claude` CLI on PATH, an Ollama server with a model, and
//! otherwise the model built into LocalGPT. Each choice comes with the reason, for the user.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use localgpt_core::config::BUILTIN_MODEL;

/// The chosen model and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelChoice {
    /// `provider/model`.
    pub model: String,
    /// One sentence for the user.
    pub reason: String,
    /// An Ollama endpoint to record, when it was found somewhere other than the default.
    pub ollama_endpoint: Option<String>,
}

/// The default Ollama address.
pub const OLLAMA_DEFAULT: &str = "http://localhost:11434";

/// Looks at the environment and returns the best available default model.
pub fn detect_default_model() -> ModelChoice {
    let env_set = |name: &str| std::env::var(name).is_ok_and(|value| !value.trim().is_empty());
    let choice = |model: &str, reason: String| ModelChoice {
        model: model.to_owned(),
        reason,
        ollama_endpoint: None,
    };
    if env_set("ANTHROPIC_API_KEY") {
        return choice(
            "anthropic/claude-sonnet-4-5",
            "ANTHROPIC_API_KEY is set".to_owned(),
        );
    }
    if env_set("OPENAI_API_KEY") {
        return choice("openai/gpt-4o", "OPENAI_API_KEY is set".to_owned());
    }
    if let Some(claude) = find_on_path("claude") {
        return choice(
            "claude-cli/opus",
            format!("the claude CLI is installed at {}", claude.display()),
        );
    }
    let endpoint = std::env::var("OLLAMA_HOST")
        .ok()
        .filter(|host| !host.trim().is_empty())
        .map(|host| {
            if host.contains("://") {
                host
            } else {
                format!("http://{host}")
            }
        })
        .unwrap_or_else(|| OLLAMA_DEFAULT.to_owned());
    match ollama_models(&endpoint) {
        Some(models) if !models.is_empty() => {
            return ModelChoice {
                model: format!("ollama/{}", models[0]),
                reason: format!(
                    "an Ollama server answers at {endpoint} with {} model(s)",
                    models.len()
                ),
                ollama_endpoint: (endpoint != OLLAMA_DEFAULT).then_some(endpoint),
            };
        }
        Some(_) => {
            return choice(
                BUILTIN_MODEL,
                format!(
                    "no API key or claude CLI was found, and the Ollama server at {endpoint} has no models (try `ollama pull llama3.2`), so the model built into LocalGPT is used"
                ),
            );
        }
        None => {}
    }
    choice(
        BUILTIN_MODEL,
        "no ANTHROPIC_API_KEY, OPENAI_API_KEY, claude CLI or Ollama server was found, so the model built into LocalGPT is used (no key or network needed)".to_owned(),
    )
}

/// The first executable called `name` on PATH.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    localgpt_core::fs::find_executable(name, &std::env::var_os("PATH")?)
}

/// The model names an Ollama server offers (`GET /api/tags`), or `None` when nothing answers.
fn ollama_models(endpoint: &str) -> Option<Vec<String>> {
    let authority = endpoint.split("://").nth(1)?.trim_end_matches('/');
    let authority = authority.split('/').next()?;
    let address = authority.to_socket_addrs().ok()?.next()?;
    let timeout = Duration::from_millis(400);
    let mut stream = TcpStream::connect_timeout(&address, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.set_write_timeout(Some(timeout)).ok()?;
    let request =
        format!("GET /api/tags HTTP/1.0\r\nHost: {authority}\r\nAccept: application/json\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = Vec::new();
    stream.take(1 << 20).read_to_end(&mut response).ok()?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1);
    if !head.starts_with("HTTP/1.") || status != Some("200") {
        return None;
    }
    let json: serde_json::Value = serde_json::from_str(body).ok()?;
    Some(
        json.get("models")?
            .as_array()?
            .iter()
            .filter_map(|model| {
                model
                    .get("name")
                    .and_then(|name| name.as_str())
                    .map(str::to_owned)
            })
            .collect(),
    )
}
