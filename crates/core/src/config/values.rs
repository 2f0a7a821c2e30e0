//! Value types that config files write as friendly strings: durations (`"1h30m"`), times of day
//! (`"09:00"`), daily active-hour windows (possibly overnight), byte sizes (`"4MB"`) and secrets
//! that never show in logs or `config show`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A length of time written as `"30m"`, `"1h30m"`, `"45s"`, `"2d"` or `"500ms"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    /// A duration of whole minutes.
    pub const fn from_minutes(minutes: u64) -> Self {
        Self(std::time::Duration::from_secs(minutes * 60))
    }

    /// A duration of whole seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self(std::time::Duration::from_secs(secs))
    }

    /// The standard-library duration.
    pub fn get(self) -> std::time::Duration {
        self.0
    }
}

const DURATION_FORM: &str = r#"a duration such as "30m", "1h30m", "45s" or "2d""#;

impl FromStr for Duration {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.is_empty() {
            return Err(format!("empty duration; expected {DURATION_FORM}"));
        }
        let mut total_ms: u128 = 0;
        let mut rest = compact.as_str();
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits == 0 {
                return Err(format!("`{text}` is not {DURATION_FORM}"));
            }
            let number: u128 = rest[..digits]
                .parse()
                .map_err(|_| format!("`{text}`: number too large"))?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let unit_ms: u128 = match &rest[..unit_len] {
                "ms" => 1,
                "s" | "sec" | "secs" => 1_000,
                "m" | "min" | "mins" => 60_000,
                "h" | "hr" | "hrs" => 3_600_000,
                "d" | "day" | "days" => 86_400_000,
                "" => {
                    return Err(format!(
                        "`{text}` has a number without a unit; expected {DURATION_FORM}"
                    ));
                }
                other => {
                    return Err(format!(
                        "unknown unit `{other}` in `{text}`; use ms, s, m, h or d"
                    ));
                }
            };
            total_ms = total_ms
                .checked_add(number.saturating_mul(unit_ms))
                .ok_or_else(|| format!("`{text}` is too long a duration"))?;
            rest = &rest[unit_len..];
        }
        let ms = u64::try_from(total_ms).map_err(|_| format!("`{text}` is too long a duration"))?;
        Ok(Self(std::time::Duration::from_millis(ms)))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total_ms = self.0.as_millis();
        if total_ms == 0 {
            return f.write_str("0s");
        }
        let mut rest = total_ms;
        for (unit, size) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1_000),
        ] {
            if rest >= size {
                write!(f, "{}{unit}", rest / size)?;
                rest %= size;
            }
        }
        if rest > 0 {
            write!(f, "{rest}ms")?;
        }
        Ok(())
    }
}

/// A wall-clock time of day, `"HH:MM"`, from `00:00` to `24:00` (the latter only makes sense as
/// the end of a window).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay {
    minutes: u16,
}

impl TimeOfDay {
    /// 00:00.
    pub const MIDNIGHT: Self = Self { minutes: 0 };

    /// A time from hours and minutes; `None` when out of range.
    pub fn new(hour: u16, minute: u16) -> Option<Self> {
        (minute < 60 && (hour < 24 || (hour == 24 && minute == 0))).then_some(Self {
            minutes: hour * 60 + minute,
        })
    }

    /// Minutes since midnight.
    pub fn minutes_since_midnight(self) -> u16 {
        self.minutes
    }
}

impl FromStr for TimeOfDay {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(r#"`{text}` is not a time of day; expected "HH:MM" such as "09:00" or "22:30""#)
        };
        let (hour, minute) = text.trim().split_once(':').ok_or_else(bad)?;
        if hour.is_empty() || hour.len() > 2 || minute.len() != 2 {
            return Err(bad());
        }
        let hour: u16 = hour.parse().map_err(|_| bad())?;
        let minute: u16 = minute.parse().map_err(|_| bad())?;
        Self::new(hour, minute).ok_or_else(|| {
            format!("`{text}` is out of range; hours go from 00 to 23 (24:00 ends a day), minutes from 00 to 59")
        })
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.minutes / 60, self.minutes % 60)
    }
}

/// A daily window of time; `end` before `start` means the window runs overnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ActiveHoursRaw", into = "ActiveHoursRaw")]
pub struct ActiveHours {
    /// When the window opens.
    pub start: TimeOfDay,
    /// When the window closes (exclusive).
    pub end: TimeOfDay,
}

impl ActiveHours {
    /// Whether `time` falls inside the window, including across midnight.
    pub fn contains(&self, time: TimeOfDay) -> bool {
        if self.start < self.end {
            self.start <= time && time < self.end
        } else {
            time >= self.start || time < self.end
        }
    }

    /// Whether the window runs across midnight.
    pub fn is_overnight(&self) -> bool {
        self.end < self.start
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActiveHoursRaw {
    start: TimeOfDay,
    end: TimeOfDay,
}

impl TryFrom<ActiveHoursRaw> for ActiveHours {
    type Error = String;

    fn try_from(raw: ActiveHoursRaw) -> Result<Self, Self::Error> {
        if raw.start == raw.end {
            return Err(format!(
                "active_hours start and end are both {}; remove active_hours to run at any hour",
                raw.start
            ));
        }
        Ok(Self {
            start: raw.start,
            end: raw.end,
        })
    }
}

impl From<ActiveHours> for ActiveHoursRaw {
    fn from(hours: ActiveHours) -> Self {
        Self {
            start: hours.start,
            end: hours.end,
        }
    }
}

/// A size in bytes written as `"512KB"`, `"4MB"`, `"1GB"` or a plain number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let split = trimmed
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(trimmed.len());
        let (number, unit) = trimmed.split_at(split);
        let bad = || format!(r#"`{text}` is not a size; expected e.g. "512KB", "4MB" or "1GB""#);
        let number: u64 = number.parse().map_err(|_| bad())?;
        let scale: u64 = match unit.trim().to_ascii_uppercase().as_str() {
            "" | "B" => 1,
            "KB" | "K" | "KIB" => 1 << 10,
            "MB" | "M" | "MIB" => 1 << 20,
            "GB" | "G" | "GIB" => 1 << 30,
            _ => return Err(bad()),
        };
        number.checked_mul(scale).map(Self).ok_or_else(bad)
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, size) in [("GB", 1u64 << 30), ("MB", 1 << 20), ("KB", 1 << 10)] {
            if self.0 >= size && self.0.is_multiple_of(size) {
                return write!(f, "{}{unit}", self.0 / size);
            }
        }
        write!(f, "{}B", self.0)
    }
}

/// A credential from the config file. `Debug`, `Display` and serialization mask it; only
/// [`Secret::expose`] gives the value, so it cannot reach a log or `config show` by accident.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The credential itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A form safe to show: the last four characters of long secrets, nothing of short ones.
    pub fn masked(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        if chars.is_empty() {
            String::new()
        } else if chars.len() >= 16 {
            let tail: String = chars[chars.len() - 4..].iter().collect();
            format!("****{tail}")
        } else {
            "****".to_owned()
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", self.masked())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.masked())
    }
}

/// Implements serde for a type through its `FromStr` and `Display`, reporting parse errors with
/// the expected form.
macro_rules! serde_via_str {
    ($($ty:ty),*) => {$(
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}

serde_via_str!(Duration, TimeOfDay, ByteSize);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_compound_forms() {
        assert_eq!("30m".parse::<Duration>(), Ok(Duration::from_minutes(30)));
        assert_eq!("1h30m".parse::<Duration>(), Ok(Duration::from_minutes(90)));
        assert_eq!("1h 30m".parse::<Duration>(), Ok(Duration::from_minutes(90)));
        assert_eq!("45s".parse::<Duration>(), Ok(Duration::from_secs(45)));
        assert_eq!(
            "2d".parse::<Duration>(),
            Ok(Duration::from_minutes(2 * 24 * 60))
        );
        assert_eq!(
            "1500ms".parse::<Duration>().map(Duration::get),
            Ok(std::time::Duration::from_millis(1500))
        );
    }

    #[test]
    fn durations_reject_missing_or_unknown_units() {
        assert!(
            "30".parse::<Duration>()
                .unwrap_err()
                .contains("without a unit")
        );
        assert!(
            "30x"
                .parse::<Duration>()
                .unwrap_err()
                .contains("unknown unit `x`")
        );
        assert!("".parse::<Duration>().unwrap_err().contains("empty"));
        assert!("m30".parse::<Duration>().unwrap_err().contains("1h30m"));
    }

    #[test]
    fn durations_display_round_trips() {
        for text in ["30m", "1h30m", "2d", "45s", "1m500ms"] {
            let parsed: Duration = text.parse().unwrap();
            assert_eq!(parsed.to_string(), text);
        }
    }

    #[test]
    fn times_of_day_parse_and_reject() {
        assert_eq!(
            "09:00"
                .parse::<TimeOfDay>()
                .unwrap()
                .minutes_since_midnight(),
            540
        );
        assert_eq!("9:05".parse::<TimeOfDay>().unwrap().to_string(), "09:05");
        assert!("24:00".parse::<TimeOfDay>().is_ok());
        assert!(
            "24:01"
                .parse::<TimeOfDay>()
                .unwrap_err()
                .contains("out of range")
        );
        assert!(
            "25:00"
                .parse::<TimeOfDay>()
                .unwrap_err()
                .contains("out of range")
        );
        assert!("9am".parse::<TimeOfDay>().unwrap_err().contains("HH:MM"));
        assert!("09:0".parse::<TimeOfDay>().unwrap_err().contains("HH:MM"));
    }

    #[test]
    fn overnight_active_hours_wrap_midnight() {
        let at = |t: &str| t.parse::<TimeOfDay>().unwrap();
        let night = ActiveHours {
            start: at("22:00"),
            end: at("06:00"),
        };
        assert!(night.is_overnight());
        assert!(night.contains(at("23:30")));
        assert!(night.contains(at("02:00")));
        assert!(!night.contains(at("06:00")));
        assert!(!night.contains(at("12:00")));
        let day = ActiveHours {
            start: at("09:00"),
            end: at("22:00"),
        };
        assert!(day.contains(at("09:00")));
        assert!(!day.contains(at("22:00")));
    }

    #[test]
    fn byte_sizes_parse_units() {
        assert_eq!("4MB".parse::<ByteSize>(), Ok(ByteSize(4 << 20)));
        assert_eq!("512 kb".parse::<ByteSize>(), Ok(ByteSize(512 << 10)));
        assert_eq!("100".parse::<ByteSize>(), Ok(ByteSize(100)));
        assert!("4 parsecs".parse::<ByteSize>().is_err());
        assert_eq!(ByteSize(4 << 20).to_string(), "4MB");
    }

    #[test]
    fn secrets_never_print_their_value() {
        let secret = Secret::new("sk-ant-api03-abcdefghijklmnop-WXYZ");
        assert_eq!(secret.to_string(), "****WXYZ");
        assert!(!format!("{secret:?}").contains("abcdef"));
        assert_eq!(Secret::new("short").masked(), "****");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"****WXYZ\"");
    }
}
