//! Money and decimal arithmetic. Amounts are integer minor units (cents) with
//! a currency code; quantities, rates and percentages are decimal strings in
//! documents and `rust_decimal::Decimal` in memory. Rounding is half-up to
//! the cent (away from zero, which is half-up for the positive amounts we
//! handle), as French invoicing expects.

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::error::ValidationError;

/// An amount in minor units of `currency`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub cents: i64,
    pub currency: String,
}

impl Money {
    pub fn new(cents: i64, currency: impl Into<String>) -> Self {
        Self {
            cents,
            currency: currency.into(),
        }
    }

    pub fn as_decimal(&self) -> Decimal {
        Decimal::new(self.cents, 2)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", format_cents(self.cents), self.currency)
    }
}

/// `123456` -> `"1234.56"`, `-5` -> `"-0.05"`.
pub fn format_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// Parses a user-typed amount ("1234.50", "1 234,50", "12") into cents.
/// Refuses more than two decimals and negative amounts.
pub fn parse_amount(field: &str, raw: &str) -> Result<i64, ValidationError> {
    let bad = || ValidationError::BadAmount {
        field: field.to_string(),
        value: raw.to_string(),
    };
    let d = parse_decimal_text(raw).ok_or_else(bad)?;
    if d.is_sign_negative() && !d.is_zero() {
        return Err(ValidationError::Negative {
            field: field.to_string(),
            value: raw.to_string(),
        });
    }
    if d.normalize().scale() > 2 {
        return Err(bad());
    }
    let cents = d * Decimal::ONE_HUNDRED;
    i64::try_from(cents.trunc().mantissa() / 10i128.pow(cents.trunc().scale())).map_err(|_| bad())
}

/// Parses a decimal typed by a user: accepts a French decimal comma and
/// spaces as thousands separators.
pub fn parse_decimal_text(raw: &str) -> Option<Decimal> {
    let cleaned: String = raw
        .trim()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{a0}' && *c != '\u{202f}')
        .map(|c| if c == ',' { '.' } else { c })
        .collect();
    if cleaned.is_empty() {
        return None;
    }
    Decimal::from_str(&cleaned).ok()
}

/// Parses a non-negative decimal within `[min, max]` (quantities, rates, percentages).
pub fn parse_bounded_decimal(
    field: &str,
    raw: &str,
    min: Decimal,
    max: Option<Decimal>,
) -> Result<Decimal, ValidationError> {
    let d = parse_decimal_text(raw).ok_or_else(|| ValidationError::BadNumber {
        field: field.to_string(),
        value: raw.to_string(),
    })?;
    let out_of_range = d < min || max.is_some_and(|m| d > m);
    if out_of_range {
        return Err(ValidationError::OutOfRange {
            field: field.to_string(),
            value: raw.to_string(),
            range: match max {
                Some(m) => format!("{min} to {m}"),
                None => format!("at least {min}"),
            },
        });
    }
    Ok(d.normalize())
}

/// Rounds a decimal number of cents half-up to a whole cent.
pub fn round_cents(cents: Decimal) -> i64 {
    let r = cents.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    // Amounts in a CRM fit in i64 cents by many orders of magnitude; saturate
    // rather than panic on absurd input.
    i64::try_from(r.mantissa() / 10i128.pow(r.scale())).unwrap_or(if r.is_sign_negative() {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// `amount × pct / 100`, rounded half-up to the cent.
///
/// Reports call this once per deal, so percentages with at most four
/// decimals (all real ones) take an exact integer path; others fall back to
/// decimal arithmetic. Both round the same way.
pub fn percent_of(cents: i64, pct: Decimal) -> i64 {
    let scale = pct.scale();
    if scale <= 4 {
        // pct = mantissa / 10^scale, so amount × pct / 100 =
        // cents × mantissa / (100 × 10^scale).
        let den = 100i128 * 10i128.pow(scale);
        if let Some(num) = (cents as i128).checked_mul(pct.mantissa()) {
            let half = den / 2;
            let q = if num >= 0 {
                (num + half) / den
            } else {
                (num - half) / den
            };
            if let Ok(v) = i64::try_from(q) {
                return v;
            }
        }
    }
    round_cents(Decimal::from(cents) * pct / Decimal::ONE_HUNDRED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_amount_accepts_french_and_english_forms() {
        assert_eq!(parse_amount("amount", "1234.50").unwrap(), 123450);
        assert_eq!(parse_amount("amount", "1 234,5").unwrap(), 123450);
        assert_eq!(parse_amount("amount", "12").unwrap(), 1200);
        assert_eq!(parse_amount("amount", "0").unwrap(), 0);
    }

    #[test]
    fn parse_amount_refuses_negative_garbage_and_sub_cent() {
        assert!(matches!(
            parse_amount("amount", "-3"),
            Err(ValidationError::Negative { .. })
        ));
        assert!(matches!(
            parse_amount("amount", "abc"),
            Err(ValidationError::BadAmount { .. })
        ));
        assert!(matches!(
            parse_amount("amount", "1.005"),
            Err(ValidationError::BadAmount { .. })
        ));
        assert!(parse_amount("amount", "").is_err());
    }

    #[test]
    fn rounding_is_half_up_to_the_cent() {
        assert_eq!(round_cents(Decimal::from_str("12.5").unwrap()), 13);
        assert_eq!(round_cents(Decimal::from_str("12.49").unwrap()), 12);
        assert_eq!(percent_of(1005, Decimal::from(20)), 201);
        assert_eq!(percent_of(1, Decimal::from(50)), 1);
        assert_eq!(percent_of(1, Decimal::from_str("5.5").unwrap()), 0);
    }

    #[test]
    fn integer_percent_path_matches_decimal_rounding() {
        let pcts = [
            "0", "5.5", "2.1", "12.345", "33.3333", "100", "0.0001", "12.34567",
        ];
        for p in pcts {
            let pct = Decimal::from_str(p).unwrap();
            for cents in [0i64, 1, 5, 99, 1005, 123_456, 987_654_321, -1005, -5] {
                let slow = round_cents(Decimal::from(cents) * pct / Decimal::ONE_HUNDRED);
                assert_eq!(percent_of(cents, pct), slow, "{cents} × {p} %");
            }
        }
    }

    #[test]
    fn format_cents_pads_and_signs() {
        assert_eq!(format_cents(123450), "1234.50");
        assert_eq!(format_cents(5), "0.05");
        assert_eq!(format_cents(-5), "-0.05");
    }
}
