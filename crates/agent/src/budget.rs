//! Spend caps for background work (`[budget]`). Before the heartbeat or a job calls a model, the
//! spend of the current day and calendar month (every model call this home made, the owner's
//! included, counted from the transcripts by [`crate::usage`]) is compared with `daily_tokens`,
//! `monthly_tokens`, `daily_usd` and `monthly_usd`. Past a cap the background turn does not run;
//! the owner is told once per period ([`ReportLog`]), and the work resumes when the period ends.
//! Owner turns are never blocked: [`owner_warning`] gives the line they are warned with.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};
use localgpt_core::config::BudgetConfig;
use serde::Serialize;

use crate::usage::{Spend, UsageRecord, read_usage};

/// Period keys remembered as reported.
const REMEMBERED_REPORTS: usize = 64;

/// A budget period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// The local calendar day.
    Day,
    /// The local calendar month.
    Month,
}

/// One period as it applies now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Window {
    /// Which.
    pub period: Period,
    /// `day 2026-12-03` or `month 2026-12`.
    pub key: String,
    /// Its first instant.
    pub start: Timestamp,
    /// The first instant of the next one.
    pub end: Timestamp,
}

/// The zone days and months are counted in: `heartbeat.timezone` when it names one, else the
/// system's.
pub fn time_zone(name: Option<&str>) -> TimeZone {
    name.and_then(|name| TimeZone::get(name).ok())
        .unwrap_or_else(TimeZone::system)
}

/// The day and the month around `now` in time zone `tz`.
pub fn windows(now: Timestamp, tz: &TimeZone) -> (Window, Window) {
    let local: Zoned = now.to_zoned(tz.clone());
    let day_start = local.start_of_day().unwrap_or_else(|_| local.clone());
    let day_end = day_start
        .checked_add(1.day())
        .map(|zoned| zoned.timestamp())
        .unwrap_or(now);
    let month_first = local.first_of_month().unwrap_or_else(|_| local.clone());
    let month_start = month_first
        .start_of_day()
        .unwrap_or_else(|_| month_first.clone());
    let month_end = month_start
        .checked_add(1.month())
        .map(|zoned| zoned.timestamp())
        .unwrap_or(now);
    (
        Window {
            period: Period::Day,
            key: format!("day {}", local.date()),
            start: day_start.timestamp(),
            end: day_end,
        },
        Window {
            period: Period::Month,
            key: format!("month {}", local.date().strftime("%Y-%m")),
            start: month_start.timestamp(),
            end: month_end,
        },
    )
}

/// A cap that has been reached.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exceeded {
    /// The config key: `budget.daily_tokens` …
    pub cap: String,
    /// The period it belongs to (`day 2026-12-03`).
    pub period_key: String,
    /// Spent so far, as shown to the owner (`1 020 400 tokens`, `$2.13`).
    pub used: String,
    /// The cap, as shown.
    pub limit: String,
    /// When background work resumes.
    pub resumes: Timestamp,
}

impl Exceeded {
    /// The one report the owner gets for the period.
    pub fn report(&self) -> String {
        format!(
            "background work is paused: {} of {} ({}) reached; the heartbeat and jobs make no \
             model calls until {} (raise {} in config.toml to resume sooner)",
            self.used, self.limit, self.cap, self.resumes, self.cap
        )
    }
}

/// The spend of the current day and month against the caps.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetStatus {
    /// Today so far.
    pub day: Spend,
    /// This month so far.
    pub month: Spend,
    /// The caps (`daily_tokens`, `monthly_tokens`, `daily_usd`, `monthly_usd`).
    pub caps: BudgetConfig,
    /// Today's window.
    pub day_window: Window,
    /// This month's window.
    pub month_window: Window,
    /// Caps reached, the month's first.
    pub exceeded: Vec<Exceeded>,
}

impl BudgetStatus {
    /// Adds up `records` (any order) for the periods around `now`.
    pub fn of(
        records: &[UsageRecord],
        config: &BudgetConfig,
        now: Timestamp,
        tz: &TimeZone,
    ) -> Self {
        let (day_window, month_window) = windows(now, tz);
        let mut day = Spend::default();
        let mut month = Spend::default();
        for record in records {
            if record.at >= month_window.start && record.at < month_window.end {
                month.add(record, &config.prices);
            }
            if record.at >= day_window.start && record.at < day_window.end {
                day.add(record, &config.prices);
            }
        }
        let mut exceeded = Vec::new();
        let checks = [
            (
                "budget.monthly_tokens",
                &month_window,
                month.tokens() as f64,
                config.monthly_tokens.0 as f64,
                false,
            ),
            (
                "budget.monthly_usd",
                &month_window,
                month.usd,
                config.monthly_usd.0,
                true,
            ),
            (
                "budget.daily_tokens",
                &day_window,
                day.tokens() as f64,
                config.daily_tokens.0 as f64,
                false,
            ),
            (
                "budget.daily_usd",
                &day_window,
                day.usd,
                config.daily_usd.0,
                true,
            ),
        ];
        for (cap, window, used, limit, dollars) in checks {
            if used >= limit {
                let show = |amount: f64| {
                    if dollars {
                        format!("${amount:.2}")
                    } else {
                        format!("{amount:.0} tokens")
                    }
                };
                exceeded.push(Exceeded {
                    cap: cap.to_owned(),
                    period_key: window.key.clone(),
                    used: show(used),
                    limit: show(limit),
                    resumes: window.end,
                });
            }
        }
        Self {
            day,
            month,
            caps: config.clone(),
            day_window,
            month_window,
            exceeded,
        }
    }

    /// Reads the transcripts in `sessions_dir` and adds up this month's calls.
    pub fn read(sessions_dir: &Path, config: &BudgetConfig, now: Timestamp, tz: &TimeZone) -> Self {
        let (_, month) = windows(now, tz);
        let records = read_usage(sessions_dir, month.start);
        Self::of(&records, config, now, tz)
    }

    /// The cap that stops background work now, if any (a month's cap before a day's).
    pub fn blocking(&self) -> Option<&Exceeded> {
        self.exceeded.first()
    }
}

/// The line an owner's turn is warned with when a cap has been reached (their turn still runs).
pub fn owner_warning(status: &BudgetStatus) -> Option<String> {
    status.blocking().map(|exceeded| {
        format!(
            "Note: {} of {} ({}) reached; background work is paused until {}. This turn runs \
             anyway.",
            exceeded.used, exceeded.limit, exceeded.cap, exceeded.resumes
        )
    })
}

/// Which periods the owner has already been told about (`state/budget.json`).
#[derive(Debug, Clone)]
pub struct ReportLog {
    path: PathBuf,
}

/// Serialises read-modify-write of report logs within the process (jobs run concurrently).
static REPORTS: Mutex<()> = Mutex::new(());

impl ReportLog {
    /// The log kept at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Records that the owner is told about `period_key`; true only the first time.
    pub fn first_report(&self, period_key: &str) -> bool {
        let _guard = REPORTS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut reported = self.reported();
        if reported.iter().any(|key| key == period_key) {
            return false;
        }
        reported.push(period_key.to_owned());
        if reported.len() > REMEMBERED_REPORTS {
            reported.drain(..reported.len() - REMEMBERED_REPORTS);
        }
        let written = serde_json::to_vec_pretty(&serde_json::json!({ "reported": reported }))
            .map_err(std::io::Error::other)
            .and_then(|bytes| localgpt_core::fs::write_atomic(&self.path, &bytes));
        if let Err(error) = written {
            tracing::warn!("could not save {}: {error}", self.path.display());
        }
        true
    }

    /// The period keys reported so far.
    pub fn reported(&self) -> Vec<String> {
        std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .and_then(|value| {
                value["reported"].as_array().map(|keys| {
                    keys.iter()
                        .filter_map(|key| key.as_str().map(str::to_owned))
                        .collect()
                })
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use localgpt_core::config::{Price, TokenCap, Usd};

    use super::*;

    fn record(at: &str, origin: &str, model: &str, input: u64, output: u64) -> UsageRecord {
        UsageRecord {
            at: at.parse().unwrap(),
            origin: origin.to_owned(),
            model: model.to_owned(),
            input,
            output,
            cache_read: 0,
            cache_write: 0,
        }
    }

    #[test]
    fn periods_follow_the_time_zone() {
        let tz = TimeZone::get("Asia/Tokyo").unwrap();
        let now: Timestamp = "2026-11-30T20:00:00Z".parse().unwrap(); // Dec 1, 05:00 in Tokyo
        let (day, month) = windows(now, &tz);
        assert_eq!(day.key, "day 2026-12-01");
        assert_eq!(month.key, "month 2026-12");
        assert_eq!(day.start, "2026-11-30T15:00:00Z".parse().unwrap());
        assert_eq!(month.end, "2026-12-31T15:00:00Z".parse().unwrap());
    }

    #[test]
    fn many_small_calls_and_other_models_add_up_to_the_cap() {
        let config = BudgetConfig {
            daily_tokens: TokenCap(10_000),
            monthly_tokens: TokenCap(1_000_000),
            daily_usd: Usd(1.0),
            monthly_usd: Usd(100.0),
            prices: [(
                "anthropic/big".to_owned(),
                Price {
                    input_per_mtok: Usd(100_000.0),
                    output_per_mtok: Usd(0.0),
                    cache_read_per_mtok: None,
                },
            )]
            .into(),
        };
        let now: Timestamp = "2026-12-03T12:00:00Z".parse().unwrap();
        // A thousand 9-token calls spread over models: 9 000 tokens, under the cap.
        let mut records: Vec<UsageRecord> = (0..1000)
            .map(|i| {
                record(
                    "2026-12-03T01:00:00Z",
                    "job sneaky",
                    &format!("m/{}", i % 7),
                    5,
                    4,
                )
            })
            .collect();
        // Yesterday's calls do not count today.
        records.push(record(
            "2026-12-02T23:59:59Z",
            "heartbeat",
            "m/1",
            50_000,
            0,
        ));
        let status = BudgetStatus::of(&records, &config, now, &TimeZone::UTC);
        assert_eq!(status.day.tokens(), 9000);
        assert!(status.blocking().is_none(), "{:?}", status.exceeded);
        // One more thousand tokens reaches it.
        records.push(record("2026-12-03T02:00:00Z", "job sneaky", "m/8", 999, 1));
        let status = BudgetStatus::of(&records, &config, now, &TimeZone::UTC);
        let blocking = status.blocking().unwrap();
        assert_eq!(blocking.cap, "budget.daily_tokens");
        assert_eq!(blocking.period_key, "day 2026-12-03");
        assert_eq!(blocking.resumes, "2026-12-04T00:00:00Z".parse().unwrap());
        // A priced model reaches the dollar cap with few tokens.
        let pricey = [record(
            "2026-12-03T03:00:00Z",
            "job own-model",
            "anthropic/big",
            10,
            0,
        )];
        let status = BudgetStatus::of(&pricey, &config, now, &TimeZone::UTC);
        assert_eq!(status.blocking().unwrap().cap, "budget.daily_usd");
        assert!(owner_warning(&status).unwrap().contains("runs anyway"));
    }

    #[test]
    fn a_period_is_reported_once() {
        let dir = tempfile::tempdir().unwrap();
        let log = ReportLog::new(dir.path().join("budget.json"));
        assert!(log.first_report("day 2026-12-03"));
        assert!(!log.first_report("day 2026-12-03"));
        assert!(log.first_report("day 2026-12-04"));
        assert_eq!(log.reported().len(), 2);
    }
}
