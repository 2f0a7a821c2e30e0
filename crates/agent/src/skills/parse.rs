//! Reading one `SKILL.md`: the YAML front matter (OpenClaw's keys, including `metadata` written as
//! multi-line YAML or JSON-with-trailing-commas) and the markdown body after it.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Largest SKILL.md read, as OpenClaw caps it.
pub const MAX_SKILL_BYTES: u64 = 256_000;

/// Why a SKILL.md could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SkillError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The SKILL.md file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is over [`MAX_SKILL_BYTES`].
    #[error("{path}: {size} bytes is over the {MAX_SKILL_BYTES}-byte limit for a skill")]
    TooLarge {
        /// The SKILL.md file.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
    /// The front matter is missing or not valid YAML.
    #[error("{path}: {message}")]
    FrontMatter {
        /// The SKILL.md file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// What a skill needs from the machine before it can be used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirements {
    /// Every one of these executables must be on PATH.
    pub bins: Vec<String>,
    /// At least one of these executables must be on PATH.
    pub any_bins: Vec<String>,
    /// Every one of these environment variables must be set.
    pub env: Vec<String>,
    /// Operating systems the skill supports (`darwin`, `linux`, `win32`); empty means any.
    pub os: Vec<String>,
}

/// The parsed front matter of a skill.
#[derive(Debug, Clone, PartialEq)]
pub struct SkillManifest {
    /// Name from front matter, else the folder name.
    pub name: String,
    /// One-line description shown to the model.
    pub description: String,
    /// Project homepage, if given.
    pub homepage: Option<String>,
    /// Whether the user can run it as `/<name>` (default true).
    pub user_invocable: bool,
    /// Whether it is hidden from the model's skill list (default false).
    pub disable_model_invocation: bool,
    /// Emoji shown beside the name.
    pub emoji: Option<String>,
    /// Skip eligibility checks.
    pub always: bool,
    /// Gating requirements.
    pub requires: Requirements,
}

/// Splits `text` into its front matter (without the `---` lines) and body.
pub fn split_front_matter(text: &str) -> Option<(&str, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rest = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))?;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            return Some((&rest[..offset], &rest[offset + line.len()..]));
        }
        offset += line.len();
    }
    None
}

/// Parses a SKILL.md's text; `dir_name` is the fallback name.
pub fn parse_manifest(
    path: &Path,
    text: &str,
    dir_name: &str,
) -> Result<SkillManifest, SkillError> {
    let error = |message: String| SkillError::FrontMatter {
        path: path.to_owned(),
        message,
    };
    let (front, _) = split_front_matter(text).ok_or_else(|| {
        error(
            "no YAML front matter (a `---` block at the top with name and description)".to_owned(),
        )
    })?;
    let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(front)
        .map_err(|e| error(format!("front matter is not valid YAML: {e}")))?;
    let front: Value =
        serde_json::to_value(yaml).map_err(|e| error(format!("front matter: {e}")))?;
    let text_field = |key: &str| {
        front
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .map(str::to_owned)
    };
    let description = text_field("description")
        .filter(|d| !d.is_empty())
        .ok_or_else(|| error("front matter has no `description`".to_owned()))?;
    let name = text_field("name")
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| dir_name.to_owned());
    let metadata = match front.get("metadata") {
        // Some skills write metadata as a JSON string.
        Some(Value::String(json)) => serde_yaml_ng::from_str::<serde_yaml_ng::Value>(json)
            .ok()
            .and_then(|yaml| serde_json::to_value(yaml).ok())
            .unwrap_or(Value::Null),
        Some(other) => other.clone(),
        None => Value::Null,
    };
    // OpenClaw reads `metadata.openclaw`; older skills use the `clawdbot` / `clawdis` names.
    let openclaw = ["openclaw", "clawdbot", "clawdis"]
        .iter()
        .find_map(|key| metadata.get(key))
        .cloned()
        .unwrap_or(Value::Null);
    let requires = openclaw.get("requires").cloned().unwrap_or(Value::Null);
    Ok(SkillManifest {
        name,
        description,
        homepage: text_field("homepage").or_else(|| {
            openclaw
                .get("homepage")
                .and_then(Value::as_str)
                .map(str::to_owned)
        }),
        user_invocable: flag(&front, "user-invocable").unwrap_or(true),
        disable_model_invocation: flag(&front, "disable-model-invocation").unwrap_or(false),
        emoji: openclaw
            .get("emoji")
            .and_then(Value::as_str)
            .map(str::to_owned),
        always: openclaw
            .get("always")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        requires: Requirements {
            bins: strings(requires.get("bins")),
            any_bins: strings(requires.get("anyBins")),
            env: strings(requires.get("env")),
            os: strings(openclaw.get("os")),
        },
    })
}

/// A boolean that skill authors also write as a string (`"true"`).
fn flag(front: &Value, key: &str) -> Option<bool> {
    match front.get(key)? {
        Value::Bool(value) => Some(*value),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// A list of strings, or one string standing for a list of one.
fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEATHER: &str = r#"---
name: weather
description: "Current weather and forecasts."
homepage: https://wttr.in/:help
metadata:
  {
    "openclaw":
      {
        "emoji": "☔",
        "requires": { "bins": ["curl"], "anyBins": ["jq", "python3"], "env": ["WTTR_TOKEN"] },
        "install": [{ "id": "brew", "kind": "brew", "formula": "curl", }, ],
      },
  }
---

# Weather

Use {baseDir}/scripts/wttr.sh.
"#;

    #[test]
    fn parses_openclaw_front_matter_with_trailing_commas() {
        let manifest = parse_manifest(Path::new("weather/SKILL.md"), WEATHER, "weather").unwrap();
        assert_eq!(manifest.name, "weather");
        assert_eq!(manifest.description, "Current weather and forecasts.");
        assert_eq!(manifest.emoji.as_deref(), Some("☔"));
        assert_eq!(manifest.requires.bins, ["curl"]);
        assert_eq!(manifest.requires.any_bins, ["jq", "python3"]);
        assert_eq!(manifest.requires.env, ["WTTR_TOKEN"]);
        assert!(manifest.user_invocable);
        assert!(!manifest.disable_model_invocation);
    }

    #[test]
    fn name_falls_back_to_folder_and_flags_accept_strings() {
        let text = "---\ndescription: Does things\nuser-invocable: \"false\"\ndisable-model-invocation: true\nmetadata: '{\"clawdbot\": {\"os\": [\"darwin\"]}}'\n---\nbody\n";
        let manifest = parse_manifest(Path::new("x/SKILL.md"), text, "my-skill").unwrap();
        assert_eq!(manifest.name, "my-skill");
        assert!(!manifest.user_invocable);
        assert!(manifest.disable_model_invocation);
        assert_eq!(manifest.requires.os, ["darwin"]);
    }

    #[test]
    fn missing_front_matter_or_description_is_an_error_naming_the_file() {
        let error = parse_manifest(Path::new("a/SKILL.md"), "# no front matter", "a").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("a/SKILL.md: no YAML front matter")
        );
        let error =
            parse_manifest(Path::new("b/SKILL.md"), "---\nname: b\n---\n", "b").unwrap_err();
        assert!(error.to_string().contains("no `description`"));
        let error = parse_manifest(Path::new("c/SKILL.md"), "---\nname: [unclosed\n---\n", "c")
            .unwrap_err();
        assert!(error.to_string().contains("not valid YAML"));
    }

    #[test]
    fn front_matter_split_handles_crlf_and_bom() {
        let (front, body) = split_front_matter("\u{feff}---\r\nname: x\r\n---\r\nbody").unwrap();
        assert_eq!(front, "name: x\r\n");
        assert_eq!(body, "body");
    }
}
