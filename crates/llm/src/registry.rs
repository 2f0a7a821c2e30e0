//! From a model reference (`provider/model` or an alias) and the configuration to a ready
//! [`ChatModel`].
//!
//! The reference is split at the first `/` (the model part may contain more slashes). Aliases
//! from `agent.aliases` are tried before the built-in ones, and may point at other aliases.

use std::collections::BTreeMap;

use localgpt_core::chat::{ChatError, ChatModel};
use localgpt_core::config::{Config, Secret};
use localgpt_core::redact::{Redactor, SECRET_ENV_VARS};

use crate::retry::RetryPolicy;
use crate::scrub::secrets_in_url;
use crate::{anthropic, claude_cli, ollama, openai};

/// Provider names a reference may start with.
pub const PROVIDERS: &[&str] = &["anthropic", "openai", "ollama", "claude-cli", "local"];

/// Short names available without configuration; `agent.aliases` adds to and overrides them.
pub const BUILTIN_ALIASES: &[(&str, &str)] = &[
    ("opus", "anthropic/claude-opus-4-6"),
    ("sonnet", "anthropic/claude-sonnet-4-6"),
    ("haiku", "anthropic/claude-haiku-4-5"),
    ("gpt", "openai/gpt-4o"),
    ("gpt-mini", "openai/gpt-4o-mini"),
];

/// A parsed `provider/model` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRef {
    /// Canonical provider name, one of [`PROVIDERS`].
    pub provider: String,
    /// The provider's model id.
    pub model: String,
}

impl std::fmt::Display for ModelRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.provider, self.model)
    }
}

impl ModelRef {
    /// Parses `provider/model`, checking that the provider is known.
    pub fn parse(reference: &str) -> Result<Self, ChatError> {
        let error = |message: String| ChatError::Config {
            reference: reference.to_owned(),
            message,
        };
        let Some((provider, model)) = reference.trim().split_once('/') else {
            return Err(error(format!(
                "not a model reference: expected `provider/model` or an alias ({})",
                alias_names()
            )));
        };
        let provider = match provider.to_ascii_lowercase().as_str() {
            "claude_cli" | "claudecli" => "claude-cli".to_owned(),
            other => other.to_owned(),
        };
        if !PROVIDERS.contains(&provider.as_str()) {
            return Err(error(format!(
                "unknown provider `{provider}`; known providers: {}",
                PROVIDERS.join(", ")
            )));
        }
        if model.trim().is_empty() {
            return Err(error(format!("no model named after `{provider}/`")));
        }
        Ok(Self {
            provider,
            model: model.trim().to_owned(),
        })
    }

    /// Resolves aliases (`aliases` first, then [`BUILTIN_ALIASES`]) and parses the result.
    pub fn resolve(reference: &str, aliases: &BTreeMap<String, String>) -> Result<Self, ChatError> {
        let mut current = reference.trim().to_owned();
        // A bound on chained aliases, so that `a = "b"`, `b = "a"` fails instead of looping.
        for _ in 0..8 {
            let next = aliases.get(&current).cloned().or_else(|| {
                BUILTIN_ALIASES
                    .iter()
                    .find(|(name, _)| *name == current)
                    .map(|(_, target)| (*target).to_owned())
            });
            match next {
                Some(target) => current = target,
                None => {
                    return Self::parse(&current).map_err(|error| match error {
                        ChatError::Config { message, .. } if current != reference => {
                            ChatError::Config {
                                reference: reference.to_owned(),
                                message: format!("alias points at `{current}`: {message}"),
                            }
                        }
                        other => other,
                    });
                }
            }
        }
        Err(ChatError::Config {
            reference: reference.to_owned(),
            message: "aliases refer to each other in a loop; check `agent.aliases`".to_owned(),
        })
    }
}

fn alias_names() -> String {
    BUILTIN_ALIASES
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Creates the model a reference names, using `config` for keys and endpoints and the
/// environment (`ANTHROPIC_API_KEY`, `OPENAI_API_KEY`) when the config has no key.
pub fn create_model(reference: &str, config: &Config) -> Result<Box<dyn ChatModel>, ChatError> {
    ModelFactory::new(config).create(reference)
}

type EnvLookup<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

/// [`create_model`] with its inputs replaceable: the retry policy and the environment.
pub struct ModelFactory<'a> {
    config: &'a Config,
    retry: RetryPolicy,
    env: EnvLookup<'a>,
}

impl<'a> ModelFactory<'a> {
    /// A factory reading `config` and the process environment, with the default retry policy.
    pub fn new(config: &'a Config) -> Self {
        Self {
            config,
            retry: RetryPolicy::default(),
            env: Box::new(|name| std::env::var(name).ok()),
        }
    }

    /// Uses this retry policy for the HTTP providers.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Reads environment variables through `env` instead of the process environment.
    pub fn with_env(mut self, env: impl Fn(&str) -> Option<String> + 'a) -> Self {
        self.env = Box::new(env);
        self
    }

    /// Every secret of the configuration and the environment, and the credentials in the
    /// configured endpoint URLs: what every model's errors are scrubbed of.
    pub fn redactor(&self) -> Redactor {
        let providers = &self.config.providers;
        let mut extra: Vec<String> = SECRET_ENV_VARS
            .iter()
            .filter_map(|name| (self.env)(name))
            .collect();
        for url in [
            providers.anthropic.base_url.as_deref(),
            providers.openai.base_url.as_deref(),
            Some(providers.ollama.endpoint.as_str()),
        ]
        .into_iter()
        .flatten()
        {
            extra.extend(secrets_in_url(url));
        }
        Redactor::from_config(self.config).with(extra)
    }

    /// Creates the model `reference` names; its errors are scrubbed of every secret
    /// [`ModelFactory::redactor`] knows.
    pub fn create(&self, reference: &str) -> Result<Box<dyn ChatModel>, ChatError> {
        let target = ModelRef::resolve(reference, &self.config.agent.aliases)?;
        let providers = &self.config.providers;
        let model = target.model.clone();
        let redactor = self.redactor();
        Ok(match target.provider.as_str() {
            "anthropic" => {
                let settings = &providers.anthropic;
                let key = self
                    .key(settings.api_key.as_ref(), "ANTHROPIC_API_KEY")
                    .ok_or_else(|| missing_key("anthropic", anthropic::AUTH_HINT))?;
                Box::new(
                    anthropic::AnthropicModel::new(model, key, settings.base_url.as_deref())?
                        .with_retry(self.retry.clone())
                        .with_redactor(redactor),
                )
            }
            "openai" => {
                let settings = &providers.openai;
                let key = self.key(settings.api_key.as_ref(), "OPENAI_API_KEY");
                // Compatible servers at a custom base_url usually need no key.
                if key.is_none() && settings.base_url.is_none() {
                    return Err(missing_key("openai", openai::AUTH_HINT));
                }
                Box::new(
                    openai::OpenAiModel::new(model, key, settings.base_url.as_deref())?
                        .with_retry(self.retry.clone())
                        .with_redactor(redactor),
                )
            }
            "ollama" => Box::new(
                ollama::OllamaModel::new(model, &providers.ollama.endpoint)?
                    .with_retry(self.retry.clone())
                    .with_redactor(redactor),
            ),
            "claude-cli" => Box::new(
                claude_cli::ClaudeCliModel::new(model, providers.claude_cli.command.clone())
                    .with_redactor(redactor),
            ),
            _ => {
                return Err(ChatError::Config {
                    reference: reference.to_owned(),
                    message: format!(
                        "the `{}` provider is not available in this build yet",
                        target.provider
                    ),
                });
            }
        })
    }

    fn key(&self, configured: Option<&Secret>, variable: &str) -> Option<Secret> {
        configured
            .filter(|secret| !secret.expose().is_empty())
            .cloned()
            .or_else(|| {
                (self.env)(variable)
                    .filter(|value| !value.is_empty())
                    .map(Secret::new)
            })
    }
}

fn missing_key(provider: &str, hint: &str) -> ChatError {
    ChatError::Auth {
        provider: provider.to_owned(),
        message: "no API key is configured".to_owned(),
        hint: hint.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn references_split_at_the_first_slash() {
        let parsed = ModelRef::parse("ollama/library/qwen3:4b").unwrap();
        assert_eq!(parsed.provider, "ollama");
        assert_eq!(parsed.model, "library/qwen3:4b");
        assert_eq!(
            ModelRef::parse("Claude_CLI/opus").unwrap().to_string(),
            "claude-cli/opus"
        );
    }

    #[test]
    fn unknown_provider_lists_the_known_ones() {
        let error = ModelRef::parse("gemini/pro").unwrap_err().to_string();
        assert!(error.contains("unknown provider `gemini`"), "{error}");
        assert!(
            error.contains("anthropic, openai, ollama, claude-cli"),
            "{error}"
        );
        let error = ModelRef::parse("nonsense").unwrap_err().to_string();
        assert!(error.contains("opus, sonnet"), "{error}");
    }

    #[test]
    fn config_aliases_override_and_chain() {
        let mut aliases = BTreeMap::new();
        aliases.insert("fast".to_owned(), "haiku".to_owned());
        aliases.insert("gpt".to_owned(), "ollama/llama3.2".to_owned());
        assert_eq!(
            ModelRef::resolve("fast", &aliases).unwrap().to_string(),
            "anthropic/claude-haiku-4-5"
        );
        assert_eq!(
            ModelRef::resolve("gpt", &aliases).unwrap().to_string(),
            "ollama/llama3.2"
        );
        aliases.insert("a".to_owned(), "b".to_owned());
        aliases.insert("b".to_owned(), "a".to_owned());
        assert!(
            ModelRef::resolve("a", &aliases)
                .unwrap_err()
                .to_string()
                .contains("loop")
        );
    }

    fn create(reference: &str, config: &Config) -> Result<Box<dyn ChatModel>, ChatError> {
        ModelFactory::new(config)
            .with_env(|_| None)
            .create(reference)
    }

    #[test]
    fn missing_key_names_the_variable_and_the_config_key() {
        let error = create("opus", &Config::default())
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("ANTHROPIC_API_KEY"), "{error}");
        assert!(error.contains("providers.anthropic.api_key"), "{error}");
        let error = create("gpt", &Config::default()).err().unwrap().to_string();
        assert!(error.contains("OPENAI_API_KEY"), "{error}");
    }

    #[test]
    fn keys_come_from_config_then_environment() {
        let model = ModelFactory::new(&Config::default())
            .with_env(|name| (name == "ANTHROPIC_API_KEY").then(|| "sk-test".to_owned()))
            .create("sonnet")
            .unwrap();
        assert_eq!(model.name(), "anthropic/claude-sonnet-4-6");
        assert_eq!(model.context_window(), Some(200_000));
        let mut config = Config::default();
        config.providers.openai.base_url = Some("http://127.0.0.1:8080/v1".to_owned());
        assert_eq!(
            create("openai/qwen", &config).unwrap().name(),
            "openai/qwen"
        );
        assert_eq!(
            create("claude-cli/opus", &config).unwrap().name(),
            "claude-cli/opus"
        );
    }

    #[test]
    fn local_is_reported_as_not_built_yet() {
        let error = create("local/smollm2-135m", &Config::default())
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("not available in this build yet"), "{error}");
    }
}
