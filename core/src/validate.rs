//! Field validators for French business identifiers and common inputs.
//! Each returns the normalised value or a typed `ValidationError`.

use chrono::NaiveDate;

use crate::error::ValidationError;

fn digits_only(raw: &str) -> String {
    raw.chars().filter(|c| !c.is_whitespace()).collect()
}

fn luhn_ok(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, c) in digits.chars().rev().enumerate() {
        let Some(mut d) = c.to_digit(10) else {
            return false;
        };
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

/// SIREN: 9 digits with a Luhn key.
pub fn siren(raw: &str) -> Result<String, ValidationError> {
    let d = digits_only(raw);
    if d.len() == 9 && d.chars().all(|c| c.is_ascii_digit()) && luhn_ok(&d) {
        Ok(d)
    } else {
        Err(ValidationError::BadSiren {
            value: raw.to_string(),
        })
    }
}

/// The SIREN made of `base` (its first eight digits, zero-padded) and
/// the Luhn key that makes it valid: for examples, demos and fixtures.
pub fn siren_for(base: u32) -> String {
    let base = format!("{:08}", base % 100_000_000);
    (0..10)
        .map(|k| format!("{base}{k}"))
        .find(|s| luhn_ok(s))
        .unwrap_or_else(|| format!("{base}0"))
}

/// SIRET: 14 digits with a Luhn key. La Poste's establishments (SIREN
/// 356000000) use a different rule: the sum of the digits is a multiple of 5.
pub fn siret(raw: &str) -> Result<String, ValidationError> {
    let d = digits_only(raw);
    let well_formed = d.len() == 14 && d.chars().all(|c| c.is_ascii_digit());
    let key_ok = well_formed
        && if d.starts_with("356000000") && d != "35600000000048" {
            d.chars().filter_map(|c| c.to_digit(10)).sum::<u32>() % 5 == 0
        } else {
            luhn_ok(&d)
        };
    if key_ok {
        Ok(d)
    } else {
        Err(ValidationError::BadSiret {
            value: raw.to_string(),
        })
    }
}

/// Intra-community VAT number. French numbers (FR + 2-digit key + SIREN) have
/// their key checked; other EU numbers are checked for shape only.
pub fn vat_number(raw: &str) -> Result<String, ValidationError> {
    let v: String = raw
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    let bad = || ValidationError::BadVatNumber {
        value: raw.to_string(),
    };
    if v.len() < 4 || !v.is_char_boundary(2) {
        return Err(bad());
    }
    let (country, rest) = v.split_at(2);
    if !country.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(bad());
    }
    if country == "FR" {
        if rest.len() != 11 {
            return Err(bad());
        }
        let (key, siren_part) = rest.split_at(2);
        let siren_part = siren(siren_part).map_err(|_| bad())?;
        let siren_num: u64 = siren_part.parse().map_err(|_| bad())?;
        let expected = (12 + 3 * (siren_num % 97)) % 97;
        match key.parse::<u64>() {
            Ok(k) if k == expected => Ok(v),
            _ => Err(bad()),
        }
    } else if (2..=13).contains(&rest.len()) && rest.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(v)
    } else {
        Err(bad())
    }
}

/// NAF/APE code: `NN.NNL`, e.g. `62.01Z`.
pub fn naf(raw: &str) -> Result<String, ValidationError> {
    let v = raw.trim().to_ascii_uppercase();
    let b = v.as_bytes();
    let ok = b.len() == 6
        && b[0].is_ascii_digit()
        && b[1].is_ascii_digit()
        && b[2] == b'.'
        && b[3].is_ascii_digit()
        && b[4].is_ascii_digit()
        && b[5].is_ascii_uppercase();
    if ok {
        Ok(v)
    } else {
        Err(ValidationError::BadNaf {
            value: raw.to_string(),
        })
    }
}

/// A pragmatic email check: one `@`, a non-empty local part, a dotted domain
/// of letters, digits and hyphens, no spaces.
pub fn email(field: &str, raw: &str) -> Result<String, ValidationError> {
    let v = raw.trim().to_string();
    let bad = || ValidationError::BadEmail {
        field: field.to_string(),
        value: raw.to_string(),
    };
    let (local, domain) = v.split_once('@').ok_or_else(bad)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels.last().is_some_and(|tld| tld.len() >= 2);
    if local_ok && domain_ok {
        Ok(v.to_lowercase())
    } else {
        Err(bad())
    }
}

/// Phone numbers: digits, spaces, dots, dashes, parentheses and a leading
/// `+`; between 6 and 15 digits. Kept as typed (trimmed).
pub fn phone(field: &str, raw: &str) -> Result<String, ValidationError> {
    let v = raw.trim();
    let digits = v.chars().filter(|c| c.is_ascii_digit()).count();
    let chars_ok = v
        .chars()
        .enumerate()
        .all(|(i, c)| c.is_ascii_digit() || " .-()".contains(c) || (c == '+' && i == 0));
    if chars_ok && (6..=15).contains(&digits) {
        Ok(v.to_string())
    } else {
        Err(ValidationError::BadPhone {
            field: field.to_string(),
            value: raw.to_string(),
        })
    }
}

/// French postcodes: 5 digits (Corsica's 20xxx included).
pub fn postcode(raw: &str) -> Result<String, ValidationError> {
    let v = raw.trim();
    if v.len() == 5 && v.chars().all(|c| c.is_ascii_digit()) {
        Ok(v.to_string())
    } else {
        Err(ValidationError::BadPostcode {
            value: raw.to_string(),
        })
    }
}

/// `YYYY-MM-DD`.
pub fn date(field: &str, raw: &str) -> Result<NaiveDate, ValidationError> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| ValidationError::BadDate {
        field: field.to_string(),
        value: raw.to_string(),
    })
}

/// A required short text: trimmed, not empty.
pub fn non_empty(field: &str, raw: &str) -> Result<String, ValidationError> {
    let v = raw.trim();
    if v.is_empty() {
        Err(ValidationError::Empty {
            field: field.to_string(),
        })
    } else {
        Ok(v.to_string())
    }
}

/// yes/no in French or English.
pub fn boolean(field: &str, raw: &str) -> Result<bool, ValidationError> {
    match raw.trim().to_lowercase().as_str() {
        "true" | "yes" | "oui" | "1" | "y" | "o" => Ok(true),
        "false" | "no" | "non" | "0" | "n" => Ok(false),
        _ => Err(ValidationError::BadBool {
            field: field.to_string(),
            value: raw.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_sirens_are_valid() {
        for base in [0, 1, 73282932, 99_999_999, 123_456_789] {
            let s = siren_for(base);
            assert_eq!(s.len(), 9, "{s}");
            assert_eq!(siren(&s), Ok(s.clone()));
        }
    }

    #[test]
    fn siret_accepts_luhn_valid_numbers_with_spaces() {
        // INSEE's own SIRET
        assert_eq!(siret("120 027 016 00019").unwrap(), "12002701600019");
        assert_eq!(siret("73282932000074").unwrap(), "73282932000074");
    }

    #[test]
    fn siret_refuses_bad_key_length_and_letters() {
        assert!(siret("73282932000075").is_err());
        assert!(siret("7328293200007").is_err());
        assert!(siret("7328293200007A").is_err());
        assert!(siret("").is_err());
    }

    #[test]
    fn siret_of_la_poste_uses_the_sum_of_digits_rule() {
        // 356000000 + 00048 is the seat; other establishments sum to a multiple of 5.
        assert!(siret("35600000000048").is_ok());
        assert!(siret("35600000049837").is_ok());
        assert!(siret("35600000049838").is_err());
    }

    #[test]
    fn siren_checks_luhn() {
        assert!(siren("732829320").is_ok());
        assert!(siren("732829321").is_err());
    }

    #[test]
    fn french_vat_number_key_is_checked() {
        assert_eq!(vat_number("FR 44 732829320").unwrap(), "FR44732829320");
        assert!(vat_number("FR45732829320").is_err());
        assert!(vat_number("DE123456789").is_ok());
        assert!(vat_number("12").is_err());
        assert!(vat_number("é€").is_err());
    }

    #[test]
    fn naf_code_shape() {
        assert_eq!(naf("62.01z").unwrap(), "62.01Z");
        assert!(naf("6201Z").is_err());
    }

    #[test]
    fn email_shape() {
        assert_eq!(
            email("email", " Jean@Exemple.FR ").unwrap(),
            "jean@exemple.fr"
        );
        assert!(email("email", "jean@exemple").is_err());
        assert!(email("email", "jean exemple.fr").is_err());
        assert!(email("email", "@exemple.fr").is_err());
        assert!(email("email", "a..b@exemple.fr").is_err());
        assert!(email("email", "élodie@société.fr").is_err());
        assert!(email("email", "elodie@société.fr").is_ok());
    }

    #[test]
    fn phone_and_postcode() {
        assert!(phone("phone", "+33 1 23 45 67 89").is_ok());
        assert!(phone("phone", "01.23.45.67.89").is_ok());
        assert!(phone("phone", "12").is_err());
        assert!(phone("phone", "01 23 45 ab").is_err());
        assert!(postcode("75011").is_ok());
        assert!(postcode("7501").is_err());
    }

    #[test]
    fn dates_and_booleans() {
        assert!(date("due", "2026-02-30").is_err());
        assert!(date("due", "2026-02-28").is_ok());
        assert!(boolean("x", "oui").unwrap());
        assert!(!boolean("x", "Non").unwrap());
        assert!(boolean("x", "peut-être").is_err());
    }
}
