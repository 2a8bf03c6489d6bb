//! Civil dates (proleptic Gregorian, no time zone): enough for wash-out arithmetic.
//!
//! Days since 1970-01-01 by Howard Hinnant's `days_from_civil` algorithm, exact for every
//! date the profiles can hold.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A calendar date, `YYYY-MM-DD` in files and output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Days since 1970-01-01.
    days: i64,
}

impl Date {
    /// The date, or `None` when the month or day does not exist (2025-02-29).
    pub fn from_ymd(year: i64, month: u32, day: u32) -> Option<Date> {
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return None;
        }
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = month as i64;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Some(Date { days: era * 146_097 + doe - 719_468 })
    }

    /// `(year, month, day)`.
    pub fn ymd(self) -> (i64, u32, u32) {
        let z = self.days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
        (year, month, day)
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

    pub fn add_days(self, n: i64) -> Date {
        Date { days: self.days + n }
    }

    /// Whole days from `earlier` to `self` (negative when `earlier` is later).
    pub fn days_since(self, earlier: Date) -> i64 {
        self.days - earlier.days
    }

    /// Today in UTC, from the system clock.
    pub fn today_utc() -> Date {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Date { days: (secs / 86_400) as i64 }
    }
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
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
        assert_eq!(Date::from_ymd(1970, 1, 1).unwrap().days, 0);
        assert_eq!(Date::from_ymd(2000, 3, 1).unwrap().days, 11_017);
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
