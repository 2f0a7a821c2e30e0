//! When the next heartbeat is due: one interval after the last run (so a restart does not reset
//! the rhythm), at once if that moment passed while the daemon was down, and moved to the next
//! opening of the active-hours window — in the configured time zone, overnight windows included.

use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use localgpt_core::config::{ActiveHours, TimeOfDay};

/// Whether `at` falls inside `hours` in time zone `tz`; no window means always.
pub fn is_active(at: Timestamp, hours: Option<&ActiveHours>, tz: &TimeZone) -> bool {
    let Some(hours) = hours else { return true };
    let local = at.to_zoned(tz.clone());
    hours.contains(time_of_day(local.time()))
}

/// The next moment a heartbeat should run.
pub fn next_run(
    last_run: Option<Timestamp>,
    now: Timestamp,
    interval: std::time::Duration,
    hours: Option<&ActiveHours>,
    tz: &TimeZone,
) -> Timestamp {
    let candidate = match last_run {
        None => now,
        Some(last) => {
            let step = jiff::SignedDuration::try_from(interval)
                .unwrap_or(jiff::SignedDuration::from_hours(24));
            last.checked_add(step).unwrap_or(now).max(now)
        }
    };
    match hours {
        Some(window) if !is_active(candidate, Some(window), tz) => {
            next_window_start(candidate, window, tz)
        }
        _ => candidate,
    }
}

fn next_window_start(after: Timestamp, window: &ActiveHours, tz: &TimeZone) -> Timestamp {
    let local: Zoned = after.to_zoned(tz.clone());
    let minutes = window.start.minutes_since_midnight();
    let start = Time::new(
        i8::try_from(minutes / 60 % 24).unwrap_or(0),
        i8::try_from(minutes % 60).unwrap_or(0),
        0,
        0,
    )
    .unwrap_or(Time::midnight());
    let today = local.date().to_datetime(start);
    let candidate = today
        .to_zoned(tz.clone())
        .map(|zoned| zoned.timestamp())
        .unwrap_or(after);
    if candidate > after {
        return candidate;
    }
    local
        .date()
        .tomorrow()
        .ok()
        .and_then(|day| day.to_datetime(start).to_zoned(tz.clone()).ok())
        .map_or(after, |zoned| zoned.timestamp())
}

fn time_of_day(time: Time) -> TimeOfDay {
    let hour = u16::try_from(time.hour()).unwrap_or(0);
    let minute = u16::try_from(time.minute()).unwrap_or(0);
    TimeOfDay::new(hour, minute).unwrap_or(TimeOfDay::MIDNIGHT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn hours(start: &str, end: &str) -> ActiveHours {
        ActiveHours {
            start: start.parse().unwrap(),
            end: end.parse().unwrap(),
        }
    }

    const HALF_HOUR: std::time::Duration = std::time::Duration::from_secs(1800);

    #[test]
    fn next_run_follows_the_last_run_not_the_restart() {
        let tz = TimeZone::UTC;
        let next = next_run(
            Some(at("2026-11-24T10:00:00Z")),
            at("2026-11-24T10:10:00Z"),
            HALF_HOUR,
            None,
            &tz,
        );
        assert_eq!(next, at("2026-11-24T10:30:00Z"));
    }

    #[test]
    fn a_run_missed_while_down_happens_once_now() {
        let tz = TimeZone::UTC;
        let now = at("2026-11-24T18:00:00Z");
        assert_eq!(
            next_run(Some(at("2026-11-24T08:00:00Z")), now, HALF_HOUR, None, &tz),
            now
        );
        assert_eq!(next_run(None, now, HALF_HOUR, None, &tz), now);
    }

    #[test]
    fn runs_outside_active_hours_move_to_the_next_opening() {
        let tz = TimeZone::UTC;
        let window = hours("09:00", "22:00");
        let next = next_run(
            Some(at("2026-11-24T21:45:00Z")),
            at("2026-11-24T21:50:00Z"),
            HALF_HOUR,
            Some(&window),
            &tz,
        );
        assert_eq!(next, at("2026-11-25T09:00:00Z"));
        let early = next_run(
            None,
            at("2026-11-24T05:00:00Z"),
            HALF_HOUR,
            Some(&window),
            &tz,
        );
        assert_eq!(early, at("2026-11-24T09:00:00Z"));
    }

    #[test]
    fn overnight_windows_and_time_zones_are_respected() {
        let paris = TimeZone::get("Europe/Paris").unwrap();
        let night = hours("22:00", "06:00");
        // 12:00 UTC is 13:00 in Paris: closed until 22:00 Paris = 21:00 UTC.
        assert!(!is_active(at("2026-11-24T12:00:00Z"), Some(&night), &paris));
        assert_eq!(
            next_run(
                None,
                at("2026-11-24T12:00:00Z"),
                HALF_HOUR,
                Some(&night),
                &paris
            ),
            at("2026-11-24T21:00:00Z")
        );
        // 02:00 Paris is inside the overnight window.
        assert!(is_active(at("2026-11-25T01:00:00Z"), Some(&night), &paris));
    }
}
