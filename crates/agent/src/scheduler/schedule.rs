//! Cron schedules for `[[jobs]]` and the catch-up rule: when occurrences passed while the daemon
//! was down, the job runs once and the missed count is reported — it is never replayed in bulk.

use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

/// Most past occurrences counted when working out what was missed.
const MAX_COUNTED_MISSES: u32 = 10_000;

/// A parsed cron expression.
#[derive(Debug, Clone)]
pub struct JobSchedule {
    cron: croner::Cron,
    expression: String,
}

/// What the scheduler should do about a job now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobPlan {
    /// Run it now.
    pub due: bool,
    /// Occurrences that passed unrun besides the one run now (to report once).
    pub missed: u32,
    /// The next occurrence after now.
    pub next: Option<Timestamp>,
}

impl JobSchedule {
    /// Parses a five-field cron expression (`"0 8 * * *"`), or six fields with seconds.
    pub fn parse(expression: &str) -> Result<Self, String> {
        let cron = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Optional)
            .build()
            .parse(expression)
            .map_err(|error| format!("`{expression}` is not a cron schedule ({error}); e.g. \"0 8 * * *\" runs daily at 08:00"))?;
        Ok(Self {
            cron,
            expression: expression.to_owned(),
        })
    }

    /// The expression as written.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// A human description, e.g. "At 08:00".
    pub fn describe(&self) -> String {
        self.cron.describe()
    }

    /// The first occurrence strictly after `after`, in time zone `tz`.
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let start: Zoned = after.to_zoned(tz.clone());
        self.cron
            .find_next_occurrence(&start, false)
            .ok()
            .map(|zoned| zoned.timestamp())
    }

    /// Decides whether to run now, given the last run (if any).
    pub fn plan(&self, last_run: Option<Timestamp>, now: Timestamp, tz: &TimeZone) -> JobPlan {
        let next = self.next_after(now, tz);
        let Some(last) = last_run else {
            return JobPlan {
                due: false,
                missed: 0,
                next,
            };
        };
        let mut passed = 0;
        let mut cursor = last;
        while let Some(occurrence) = self.next_after(cursor, tz) {
            if occurrence > now || passed >= MAX_COUNTED_MISSES {
                break;
            }
            passed += 1;
            cursor = occurrence;
        }
        JobPlan {
            due: passed > 0,
            missed: passed.saturating_sub(1),
            next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn parses_and_finds_the_next_occurrence() {
        let daily = JobSchedule::parse("0 8 * * *").unwrap();
        assert_eq!(
            daily.next_after(at("2026-11-24T07:59:00Z"), &TimeZone::UTC),
            Some(at("2026-11-24T08:00:00Z"))
        );
        assert_eq!(
            daily.next_after(at("2026-11-24T08:00:00Z"), &TimeZone::UTC),
            Some(at("2026-11-25T08:00:00Z"))
        );
        let paris = TimeZone::get("Europe/Paris").unwrap();
        assert_eq!(
            daily.next_after(at("2026-11-24T00:00:00Z"), &paris),
            Some(at("2026-11-24T07:00:00Z"))
        );
    }

    #[test]
    fn bad_expressions_explain_the_form() {
        let error = JobSchedule::parse("every morning").unwrap_err();
        assert!(
            error.contains("not a cron schedule") && error.contains("0 8 * * *"),
            "{error}"
        );
    }

    #[test]
    fn missed_runs_are_run_once_and_counted() {
        let hourly = JobSchedule::parse("0 * * * *").unwrap();
        let plan = hourly.plan(
            Some(at("2026-11-24T08:00:00Z")),
            at("2026-11-24T12:30:00Z"),
            &TimeZone::UTC,
        );
        assert_eq!(
            plan,
            JobPlan {
                due: true,
                missed: 3,
                next: Some(at("2026-11-24T13:00:00Z"))
            }
        );
        let on_time = hourly.plan(
            Some(at("2026-11-24T12:00:00Z")),
            at("2026-11-24T12:30:00Z"),
            &TimeZone::UTC,
        );
        assert!(!on_time.due);
        let never_ran = hourly.plan(None, at("2026-11-24T12:30:00Z"), &TimeZone::UTC);
        assert!(!never_ran.due);
    }
}
