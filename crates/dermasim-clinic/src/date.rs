//! Civil dates (proleptic Gregorian, no time zone) for wash-out arithmetic, on `jiff`.

use std::fmt;

use jiff::ToSpan;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A calendar date, `YYYY-MM-DD` in files and output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(jiff::civil::Date);

impl Date {
    /// The date, or `None` when the month or day does not exist (2025-02-29) or the year lies
    /// outside -9999 to 9999.
    pub fn from_ymd(year: i64, month: u32, day: u32) -> Option<Date> {
        let (y, m, d) =
            (i16::try_from(year).ok()?, i8::try_from(month).ok()?, i8::try_from(day).ok()?);
        jiff::civil::Date::new(y, m, d).ok().map(Date)
    }

    /// `(year, month, day)`.
    pub fn ymd(self) -> (i64, u32, u32) {
        (i64::from(self.0.year()), self.0.month() as u32, self.0.day() as u32)
    }

    /// Strict ISO `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Result<Date, String> {
        let bad = || format!("`{text}` is not a date; write YYYY-MM-DD, e.g. 2025-03-14");
        let parts: Vec<&str> = text.split('-').collect();
        if parts.len() != 3 || parts[0].len() != 4 || parts[1].len() != 2 || parts[2].len() != 2 {
            return Err(bad());
        }
        if !parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit())) {
            return Err(bad());
        }
        let (y, m, d) = (
            parts[0].parse().map_err(|_| bad())?,
            parts[1].parse().map_err(|_| bad())?,
            parts[2].parse().map_err(|_| bad())?,
        );
        Date::from_ymd(y, m, d).ok_or_else(|| format!("`{text}` is not a calendar date"))
    }

    /// `n` days later (earlier when negative); saturates at jiff's range (years -9999 to 9999).
    pub fn add_days(self, n: i64) -> Date {
        let n = n.clamp(-7_304_484, 7_304_484);
        Date(self.0.checked_add(n.days()).unwrap_or(if n < 0 {
            jiff::civil::Date::MIN
        } else {
            jiff::civil::Date::MAX
        }))
    }

    /// Whole days from `earlier` to `self` (negative when `earlier` is later).
    pub fn days_since(self, earlier: Date) -> i64 {
        i64::from(
            self.0
                .since((jiff::Unit::Day, earlier.0))
                .expect("a day count between two dates always exists")
                .get_days(),
        )
    }

    /// Today in UTC, from the system clock.
    pub fn today_utc() -> Date {
        Date(jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date())
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl std::str::FromStr for Date {
    type Err = String;
    fn from_str(s: &str) -> Result<Date, String> {
        Date::parse(s)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let text = String::deserialize(d)?;
        Date::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_known_dates() {
        let epoch = Date::from_ymd(1970, 1, 1).unwrap();
        assert_eq!(Date::from_ymd(2000, 3, 1).unwrap().days_since(epoch), 11_017);
        assert_eq!(Date::from_ymd(2024, 2, 29).unwrap().to_string(), "2024-02-29");
        assert!(Date::from_ymd(2023, 2, 29).is_none());
        assert!(Date::from_ymd(1900, 2, 29).is_none(), "1900 is not a leap year");
        assert!(Date::from_ymd(2000, 2, 29).is_some(), "2000 is a leap year");
    }

    #[test]
    fn round_trip_over_four_centuries() {
        // Every day from 1900 to 2300 maps back to itself and consecutive days differ by one.
        let start = Date::from_ymd(1900, 1, 1).unwrap();
        let mut prev = start.ymd();
        for n in 1..146_097 {
            let d = start.add_days(n);
            let (y, m, day) = d.ymd();
            assert_eq!(Date::from_ymd(y, m, day), Some(d));
            assert!((y, m, day) > prev);
            prev = (y, m, day);
        }
    }

    #[test]
    fn parse_is_strict() {
        assert_eq!(Date::parse("2025-03-14").unwrap().to_string(), "2025-03-14");
        for bad in [
            "2025-3-14",
            "14.03.2025",
            "2025-02-30",
            "2025-13-01",
            "",
            "2025-03-14T00:00",
            "+025-03-14",
        ] {
            assert!(Date::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn day_arithmetic() {
        let a = Date::parse("2024-12-30").unwrap();
        assert_eq!(a.add_days(3).to_string(), "2025-01-02");
        assert_eq!(a.add_days(3).days_since(a), 3);
        assert_eq!(a.days_since(a.add_days(3)), -3);
    }
}
