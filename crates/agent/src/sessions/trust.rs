//! Who wrote each user turn of a transcript. A session started by someone other than the owner
//! carries a `localgpt.origin` custom entry whose label begins with `untrusted`; its user turns are
//! untrusted unless marked otherwise. When a turn's trust differs from its session's (the owner
//! continuing a stranger's session, or a stranger's text in an owner's session), a Pi `custom`
//! entry `localgpt.trust` is written right before the message, so a mixed session knows which
//! turns were whose. Pi and OpenClaw skip custom entries they do not know.

use serde_json::{Map, Value, json};

use super::format::{Entry, EntryBody};

/// `customType` of the entry that records the trust of the user message after it.
pub const TRUST_ENTRY: &str = "localgpt.trust";

/// `customType` of the entry that records where a session's input came from.
pub const ORIGIN_ENTRY: &str = "localgpt.origin";

/// Who wrote a user turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnTrust {
    /// The owner (or a trusted event the owner configured).
    Owner,
    /// Someone else; `source` says what sent it (`untrusted api`, `untrusted telegram` …).
    Untrusted {
        /// What sent it.
        source: String,
    },
}

impl TurnTrust {
    /// Whether the turn came from someone other than the owner.
    pub fn is_untrusted(&self) -> bool {
        matches!(self, Self::Untrusted { .. })
    }
}

/// Whether an origin label names an untrusted source (the runner writes `untrusted <source>`).
pub fn is_untrusted_label(label: &str) -> bool {
    label
        .trim_start()
        .get(..9)
        .is_some_and(|start| start.eq_ignore_ascii_case("untrusted"))
}

/// The `data` of a custom entry of `custom_type`, when `entry` is one.
fn custom_data<'a>(entry: &'a Entry, custom_type: &str) -> Option<&'a Value> {
    match &entry.body {
        EntryBody::Other(custom)
            if custom.get("type").and_then(Value::as_str) == Some("custom")
                && custom.get("customType").and_then(Value::as_str) == Some(custom_type) =>
        {
            Some(custom.get("data").unwrap_or(&Value::Null))
        }
        _ => None,
    }
}

/// The origin label of a session, from its first `localgpt.origin` entry.
pub fn origin_label<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Option<String> {
    entries.into_iter().find_map(|entry| {
        custom_data(entry, ORIGIN_ENTRY)?
            .get("label")?
            .as_str()
            .map(str::to_owned)
    })
}

/// The trust of user turns that carry no marker in a session with `origin`.
pub fn default_trust(origin: Option<&str>) -> TurnTrust {
    match origin {
        Some(label) if is_untrusted_label(label) => TurnTrust::Untrusted {
            source: label.to_owned(),
        },
        _ => TurnTrust::Owner,
    }
}

/// The trust a `localgpt.trust` entry records, when `entry` is one. A marker that cannot be read
/// counts as untrusted.
pub fn marker(entry: &Entry) -> Option<TurnTrust> {
    let data = custom_data(entry, TRUST_ENTRY)?;
    let trust = data.get("trust").and_then(Value::as_str);
    Some(match trust {
        Some("owner") => TurnTrust::Owner,
        _ => TurnTrust::Untrusted {
            source: data
                .get("source")
                .and_then(Value::as_str)
                .unwrap_or("untrusted")
                .to_owned(),
        },
    })
}

/// The body of a `localgpt.trust` entry for `trust`.
pub fn marker_body(trust: &TurnTrust) -> EntryBody {
    let data = match trust {
        TurnTrust::Owner => json!({ "trust": "owner" }),
        TurnTrust::Untrusted { source } => json!({ "trust": "untrusted", "source": source }),
    };
    let mut entry = Map::new();
    entry.insert("type".to_owned(), "custom".into());
    entry.insert("customType".to_owned(), TRUST_ENTRY.into());
    entry.insert("data".to_owned(), data);
    EntryBody::Other(entry)
}

/// The body of a `localgpt.origin` entry for `label`.
pub fn origin_body(label: &str) -> EntryBody {
    let mut entry = Map::new();
    entry.insert("type".to_owned(), "custom".into());
    entry.insert("customType".to_owned(), ORIGIN_ENTRY.into());
    entry.insert("data".to_owned(), json!({ "label": label }));
    EntryBody::Other(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_labels_are_recognised_in_any_case() {
        assert!(is_untrusted_label("untrusted api"));
        assert!(is_untrusted_label("Untrusted telegram"));
        assert!(!is_untrusted_label("telegram"));
        assert!(!is_untrusted_label("job untrusted"));
        assert!(!is_untrusted_label("untr"));
        assert_eq!(default_trust(None), TurnTrust::Owner);
        assert!(default_trust(Some("untrusted api")).is_untrusted());
    }
}
