//! Reporting periods: a year (`2026`), a quarter (`2026-Q4`) or a month
//! (`2026-11`).

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};

use crate::error::ValidationError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    Year(i32),
    Quarter(i32, u32),
    Month(i32, u32),
}

impl Period {
    pub fn month_of(d: NaiveDate) -> Period {
        Period::Month(d.year(), d.month())
    }

    /// First day, and the first day after.
    pub fn range(self) -> (NaiveDate, NaiveDate) {
        let (y, m0, len) = match self {
            Period::Year(y) => (y, 0, 12),
            Period::Quarter(y, q) => (y, (q - 1) * 3, 3),
            Period::Month(y, m) => (y, m - 1, 1),
        };
        let start = first_of(y, m0);
        let end = first_of(y, m0 + len);
        (start, end)
    }

    pub fn contains(self, d: NaiveDate) -> bool {
        let (s, e) = self.range();
        d >= s && d < e
    }

    /// The period `n` periods after this one (before, when negative), of
    /// the same length.
    pub fn shift(self, n: i32) -> Period {
        match self {
            Period::Year(y) => Period::Year(y + n),
            Period::Quarter(y, q) => {
                let i = y * 4 + (q as i32 - 1) + n;
                Period::Quarter(i.div_euclid(4), i.rem_euclid(4) as u32 + 1)
            }
            Period::Month(y, m) => {
                let i = y * 12 + (m as i32 - 1) + n;
                Period::Month(i.div_euclid(12), i.rem_euclid(12) as u32 + 1)
            }
        }
    }

    /// The months inside the period, as `YYYY-MM` keys.
    pub fn months(self) -> Vec<String> {
        let (start, end) = self.range();
        let mut out = Vec::new();
        let mut d = start;
        while d < end {
            out.push(format!("{:04}-{:02}", d.year(), d.month()));
            d = first_of(d.year(), d.month());
        }
        out
    }
}

/// The first day of month `m0` (0-based, may overflow into next years) of `y`.
fn first_of(y: i32, m0: u32) -> NaiveDate {
    let y = y + (m0 / 12) as i32;
    // Month 1..=12 and day 1 exist in every year chrono supports; periods
    // are parsed with a bounded year.
    NaiveDate::from_ymd_opt(y, m0 % 12 + 1, 1).unwrap_or(NaiveDate::MIN)
}

impl FromStr for Period {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Period, ValidationError> {
        let bad = || ValidationError::BadPeriod {
            value: s.to_string(),
        };
        let s = s.trim();
        let year = |y: &str| -> Result<i32, ValidationError> {
            if y.len() != 4 {
                return Err(bad());
            }
            y.parse::<i32>()
                .ok()
                .filter(|y| (1900..=9999).contains(y))
                .ok_or_else(bad)
        };
        match s.split_once('-') {
            None => Ok(Period::Year(year(s)?)),
            Some((y, q)) if q.starts_with(['Q', 'q']) => {
                let q: u32 = q[1..].parse().map_err(|_| bad())?;
                if !(1..=4).contains(&q) {
                    return Err(bad());
                }
                Ok(Period::Quarter(year(y)?, q))
            }
            Some((y, m)) => {
                if m.len() != 2 {
                    return Err(bad());
                }
                let m: u32 = m.parse().map_err(|_| bad())?;
                if !(1..=12).contains(&m) {
                    return Err(bad());
                }
                Ok(Period::Month(year(y)?, m))
            }
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Year(y) => write!(f, "{y:04}"),
            Period::Quarter(y, q) => write!(f, "{y:04}-Q{q}"),
            Period::Month(y, m) => write!(f, "{y:04}-{m:02}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn parses_and_ranges_periods() {
        let q: Period = "2026-Q4".parse().unwrap();
        assert_eq!(q.range(), (d("2026-10-01"), d("2027-01-01")));
        assert_eq!(q.months(), vec!["2026-10", "2026-11", "2026-12"]);
        let m: Period = "2026-02".parse().unwrap();
        assert!(m.contains(d("2026-02-28")));
        assert!(!m.contains(d("2026-03-01")));
        assert_eq!("2026".parse::<Period>().unwrap().months().len(), 12);
        assert_eq!(m.to_string(), "2026-02");
        assert_eq!(m.shift(-2).to_string(), "2025-12");
        assert_eq!(m.shift(11).to_string(), "2027-01");
        assert_eq!(q.shift(1).to_string(), "2027-Q1");
        assert_eq!(q.shift(-4).to_string(), "2025-Q4");
        assert_eq!(
            "2026".parse::<Period>().unwrap().shift(-1).to_string(),
            "2025"
        );
        for bad in ["2026-13", "2026-Q5", "26", "2026-1", "x", "2026-Qx", ""] {
            assert!(bad.parse::<Period>().is_err(), "{bad}");
        }
    }
}
