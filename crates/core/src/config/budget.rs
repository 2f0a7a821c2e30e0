//! `[budget]`: spend caps for background work (the heartbeat and jobs) and the prices that turn
//! tokens into money. Caps are checked before each background turn; owner turns are never
//! blocked. Values are checked while the file is read, so a negative, non-finite or absurd cap is
//! an error naming the file, the line and the key.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The largest token cap accepted (a thousand billion tokens): anything larger is a typo.
pub const MAX_TOKEN_CAP: u64 = 1_000_000_000_000;
/// The largest amount of money accepted for a cap or a price (US dollars).
pub const MAX_USD: f64 = 1_000_000.0;

/// `[budget]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BudgetConfig {
    /// Tokens (input + output, every model) this home may spend per day before background
    /// turns stop. Default 1 000 000.
    pub daily_tokens: TokenCap,
    /// Tokens per calendar month. Default 10 000 000.
    pub monthly_tokens: TokenCap,
    /// Dollars per day, counted for models listed in `prices`. Default 2.
    pub daily_usd: Usd,
    /// Dollars per calendar month. Default 20.
    pub monthly_usd: Usd,
    /// Prices per model, keyed `"provider/model"` (e.g. `"anthropic/claude-sonnet-4-5"`);
    /// models not listed count as free for the dollar caps (the token caps still apply).
    pub prices: BTreeMap<String, Price>,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            daily_tokens: TokenCap(1_000_000),
            monthly_tokens: TokenCap(10_000_000),
            daily_usd: Usd(2.0),
            monthly_usd: Usd(20.0),
            prices: BTreeMap::new(),
        }
    }
}

/// What a model costs, in dollars per million tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Price {
    /// Dollars per million input (prompt) tokens.
    pub input_per_mtok: Usd,
    /// Dollars per million output (completion) tokens.
    pub output_per_mtok: Usd,
    /// Dollars per million tokens read from a prompt cache (default: the input price).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_read_per_mtok: Option<Usd>,
}

impl Price {
    /// The cost of a number of tokens of each kind.
    pub fn cost(&self, input: u64, output: u64, cache_read: u64) -> f64 {
        let per = |tokens: u64, price: Usd| tokens as f64 * price.0 / 1_000_000.0;
        per(input, self.input_per_mtok)
            + per(output, self.output_per_mtok)
            + per(
                cache_read,
                self.cache_read_per_mtok.unwrap_or(self.input_per_mtok),
            )
    }
}

/// A token cap: a whole number from 0 (no background model calls) to [`MAX_TOKEN_CAP`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TokenCap(pub u64);

impl Serialize for TokenCap {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for TokenCap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = i128::deserialize(deserializer).map_err(|_| {
            serde::de::Error::custom(
                "expected a whole number of tokens, such as 1000000 (0 stops background turns)",
            )
        })?;
        if value < 0 {
            return Err(serde::de::Error::custom(format!(
                "{value} is negative; a cap is a number of tokens from 0 (no background model \
                 calls) to {MAX_TOKEN_CAP}"
            )));
        }
        match u64::try_from(value) {
            Ok(tokens) if tokens <= MAX_TOKEN_CAP => Ok(Self(tokens)),
            _ => Err(serde::de::Error::custom(format!(
                "{value} is not a believable number of tokens; use at most {MAX_TOKEN_CAP}"
            ))),
        }
    }
}

impl fmt::Display for TokenCap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An amount of US dollars: finite, from 0 to [`MAX_USD`].
#[derive(Debug, Clone, Copy, Default, PartialEq, PartialOrd)]
pub struct Usd(pub f64);

impl Serialize for Usd {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.0)
    }
}

impl<'de> Deserialize<'de> for Usd {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = f64::deserialize(deserializer).map_err(|_| {
            serde::de::Error::custom("expected an amount of dollars such as 2 or 0.5")
        })?;
        if !value.is_finite() {
            return Err(serde::de::Error::custom(format!(
                "{value} is not an amount of dollars; write a number such as 2 or 0.5"
            )));
        }
        if value < 0.0 {
            return Err(serde::de::Error::custom(format!(
                "{value} is negative; an amount of dollars is from 0 to {MAX_USD}"
            )));
        }
        if value > MAX_USD {
            return Err(serde::de::Error::custom(format!(
                "{value} is not a believable amount of dollars; use at most {MAX_USD}"
            )));
        }
        Ok(Self(value))
    }
}

impl fmt::Display for Usd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${:.2}", self.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::Path;

    use crate::config::load::parse;

    fn error_of(text: &str) -> String {
        parse(text, Path::new("/home/me/config.toml"), &|_| None)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn negative_and_absurd_caps_are_errors_with_file_and_line() {
        for (line, expected) in [
            ("daily_tokens = -5", "negative"),
            ("monthly_tokens = 99999999999999999", "believable"),
            ("daily_usd = -1.5", "negative"),
            ("monthly_usd = nan", "not an amount"),
            ("monthly_usd = inf", "not an amount"),
            ("daily_usd = 1e12", "believable"),
            ("daily_tokens = \"lots\"", "whole number"),
            ("daily_tokens = 1.5", "whole number"),
        ] {
            let message = error_of(&format!("# budget\n[budget]\n{line}\n"));
            assert!(
                message.starts_with("/home/me/config.toml:3:"),
                "{line}: {message}"
            );
            assert!(message.contains("budget."), "{line}: {message}");
            assert!(message.contains(expected), "{line}: {message}");
        }
        let message = error_of(
            "[budget.prices.\"openai/gpt-4o\"]\ninput_per_mtok = 2.5\noutput_per_mtok = -10\n",
        );
        assert!(message.contains("config.toml:3:"), "{message}");
        assert!(message.contains("negative"), "{message}");
    }

    #[test]
    fn caps_and_prices_load_and_price_tokens() {
        let (config, warnings) = parse(
            "[budget]\ndaily_tokens = 0\nmonthly_usd = 5\n[budget.prices.\"openai/gpt-4o\"]\ninput_per_mtok = 2.5\noutput_per_mtok = 10\n",
            Path::new("c.toml"),
            &|_| None,
        )
        .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(config.budget.daily_tokens.0, 0);
        assert_eq!(config.budget.monthly_usd.0, 5.0);
        let price = config.budget.prices["openai/gpt-4o"];
        let cost = price.cost(1_000_000, 100_000, 0);
        assert!((cost - 3.5).abs() < 1e-9, "{cost}");
    }
}
