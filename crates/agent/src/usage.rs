//! What the models cost, counted from the session transcripts: every assistant message records
//! its provider, model, token usage and time, and every session started by the background
//! records its origin (`heartbeat`, `job NAME`, `telegram`, `untrusted api` …; none for the
//! owner). [`read_usage`] turns the transcripts into one [`UsageRecord`] per model call, and
//! [`UsageSummary`] adds them up per day, per origin and per model, with costs from
//! `[budget.prices]`.
//!
//! Files are skipped when they were last written before the period asked about (transcripts only
//! grow), and parsed records are cached per file while its size and modification time stay the
//! same, so the budget check before each background turn reads only what changed.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};
use std::time::SystemTime;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use localgpt_core::config::Price;
use serde::Serialize;

use crate::sessions::{EntryBody, TranscriptMessage, read_transcript};

/// The origin label of the owner's own sessions (those without a `localgpt.origin` entry).
pub const OWNER: &str = "owner";
/// The origin label of heartbeat sessions.
pub const HEARTBEAT: &str = "heartbeat";

/// The origin label of a job's sessions.
pub fn job_origin(name: &str) -> String {
    format!("job {name}")
}

/// Whether an origin label is background work (the heartbeat or a job).
pub fn is_background(origin: &str) -> bool {
    origin == HEARTBEAT || origin.starts_with("job ")
}

/// One model call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageRecord {
    /// When the reply was recorded.
    pub at: Timestamp,
    /// Who the session worked for: `owner`, `heartbeat`, `job NAME`, `telegram` …
    pub origin: String,
    /// `provider/model`.
    pub model: String,
    /// Prompt tokens.
    pub input: u64,
    /// Completion tokens.
    pub output: u64,
    /// Prompt tokens read from a cache.
    pub cache_read: u64,
    /// Prompt tokens written to a cache.
    pub cache_write: u64,
}

impl UsageRecord {
    /// Tokens that count against the caps: input, output and cache reads.
    pub fn tokens(&self) -> u64 {
        self.input + self.output + self.cache_read
    }

    /// What the call cost with `prices` (zero for a model without a price).
    pub fn cost(&self, prices: &BTreeMap<String, Price>) -> f64 {
        prices.get(&self.model).map_or(0.0, |price| {
            price.cost(self.input, self.output, self.cache_read)
        })
    }
}

#[derive(Debug, Clone)]
struct CachedFile {
    len: u64,
    modified: SystemTime,
    records: Vec<UsageRecord>,
}

/// Parsed transcripts by path, shared by every reader in the process.
static CACHE: LazyLock<Mutex<HashMap<PathBuf, CachedFile>>> = LazyLock::new(Mutex::default);

/// Every model call recorded in the transcripts of `sessions_dir` at or after `since`, oldest
/// first. Unreadable files are skipped with a warning.
pub fn read_usage(sessions_dir: &Path, since: Timestamp) -> Vec<UsageRecord> {
    let Ok(entries) = std::fs::read_dir(sessions_dir) else {
        return Vec::new();
    };
    let since_system = SystemTime::from(since);
    let mut records = Vec::new();
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|ext| ext != "jsonl") {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        let Ok(modified) = meta.modified() else {
            continue;
        };
        if modified < since_system || !meta.is_file() {
            continue;
        }
        let fresh = cache
            .get(&path)
            .is_some_and(|cached| cached.len == meta.len() && cached.modified == modified);
        if !fresh {
            match file_records(&path) {
                Ok(parsed) => {
                    cache.insert(
                        path.clone(),
                        CachedFile {
                            len: meta.len(),
                            modified,
                            records: parsed,
                        },
                    );
                }
                Err(error) => {
                    tracing::warn!("usage: skipping {}: {error}", path.display());
                    continue;
                }
            }
        }
        if let Some(cached) = cache.get(&path) {
            records.extend(
                cached
                    .records
                    .iter()
                    .filter(|record| record.at >= since)
                    .cloned(),
            );
        }
    }
    records.sort_by_key(|record| record.at);
    records
}

/// The model calls of one transcript (every branch: an abandoned branch was paid for too).
fn file_records(path: &Path) -> Result<Vec<UsageRecord>, crate::sessions::SessionError> {
    let transcript = read_transcript(path)?;
    let origin = transcript.origin().unwrap_or_else(|| OWNER.to_owned());
    let mut records = Vec::new();
    for entry in &transcript.entries {
        let EntryBody::Message {
            message:
                TranscriptMessage::Assistant {
                    provider,
                    model,
                    usage: Some(usage),
                    timestamp,
                    ..
                },
        } = &entry.body
        else {
            continue;
        };
        let at = Timestamp::from_millisecond(*timestamp)
            .ok()
            .filter(|_| *timestamp > 0)
            .or_else(|| entry.timestamp.parse().ok());
        let Some(at) = at else { continue };
        records.push(UsageRecord {
            at,
            origin: origin.clone(),
            model: if provider.is_empty() {
                model.clone()
            } else {
                format!("{provider}/{model}")
            },
            input: usage.input,
            output: usage.output,
            cache_read: usage.cache_read,
            cache_write: usage.cache_write,
        });
    }
    Ok(records)
}

/// Tokens, calls and dollars of a group of model calls.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Spend {
    /// Model calls.
    pub calls: u64,
    /// Prompt tokens (cache reads included).
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Dollars, for priced models.
    pub usd: f64,
    /// Whether some of the calls were to a model without a price.
    pub unpriced: bool,
}

impl Spend {
    /// Adds one call.
    pub fn add(&mut self, record: &UsageRecord, prices: &BTreeMap<String, Price>) {
        self.calls += 1;
        self.input_tokens += record.input + record.cache_read;
        self.output_tokens += record.output;
        self.usd += record.cost(prices);
        self.unpriced |= !prices.contains_key(&record.model);
    }

    /// Input and output tokens together.
    pub fn tokens(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}

/// Model calls added up per day, origin and model.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UsageSummary {
    /// Everything.
    pub total: Spend,
    /// Per local day (`YYYY-MM-DD`).
    pub days: BTreeMap<String, Spend>,
    /// Per origin (`owner`, `heartbeat`, `job NAME` …).
    pub origins: BTreeMap<String, Spend>,
    /// Per `provider/model`.
    pub models: BTreeMap<String, Spend>,
}

impl UsageSummary {
    /// Adds up `records`, with days in time zone `tz`.
    pub fn of(records: &[UsageRecord], prices: &BTreeMap<String, Price>, tz: &TimeZone) -> Self {
        let mut summary = Self::default();
        for record in records {
            summary.total.add(record, prices);
            let day = record.at.to_zoned(tz.clone()).date().to_string();
            summary.days.entry(day).or_default().add(record, prices);
            summary
                .origins
                .entry(record.origin.clone())
                .or_default()
                .add(record, prices);
            summary
                .models
                .entry(record.model.clone())
                .or_default()
                .add(record, prices);
        }
        summary
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::runtime::transcript::assistant_message;
    use crate::sessions::SessionStore;
    use localgpt_core::chat::{ChatMessage, StopReason, Usage};
    use localgpt_core::config::Usd;

    fn usage(input: u64, output: u64) -> Option<Usage> {
        Some(Usage {
            input_tokens: input,
            output_tokens: output,
            ..Usage::default()
        })
    }

    #[test]
    fn reads_each_call_with_its_origin_and_model_and_prices_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = SessionStore::new(dir.path());
        let mut owner = store.create(dir.path()).unwrap();
        let reply = ChatMessage::assistant("hi");
        owner
            .append_message(assistant_message(
                &reply,
                "openai/gpt-4o",
                usage(1000, 100),
                &StopReason::EndTurn,
                None,
            ))
            .unwrap();
        let mut job = store.create(dir.path()).unwrap();
        job.append_origin("job digest").unwrap();
        for _ in 0..3 {
            job.append_message(assistant_message(
                &reply,
                "local/smollm2",
                usage(500, 50),
                &StopReason::EndTurn,
                None,
            ))
            .unwrap();
        }
        // A failed call without usage is not a call that cost anything.
        job.append_message(assistant_message(
            &reply,
            "local/smollm2",
            None,
            &StopReason::EndTurn,
            Some("boom".to_owned()),
        ))
        .unwrap();
        let records = read_usage(dir.path(), Timestamp::UNIX_EPOCH);
        assert_eq!(records.len(), 4);
        let prices = BTreeMap::from([(
            "openai/gpt-4o".to_owned(),
            Price {
                input_per_mtok: Usd(2.5),
                output_per_mtok: Usd(10.0),
                cache_read_per_mtok: None,
            },
        )]);
        let summary = UsageSummary::of(&records, &prices, &TimeZone::UTC);
        assert_eq!(summary.total.calls, 4);
        assert_eq!(summary.total.tokens(), 1100 + 3 * 550);
        assert_eq!(summary.origins["owner"].tokens(), 1100);
        assert_eq!(summary.origins["job digest"].calls, 3);
        assert!(summary.models["local/smollm2"].unpriced);
        assert!((summary.models["openai/gpt-4o"].usd - 0.0035).abs() < 1e-12);
        assert!((summary.total.usd - 0.0035).abs() < 1e-12);
        // Nothing after a later start.
        let later = Timestamp::now().checked_add(jiff::SignedDuration::from_hours(1));
        assert!(read_usage(dir.path(), later.unwrap()).is_empty());
    }
}
