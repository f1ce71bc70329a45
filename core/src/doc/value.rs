//! Parsing user input into typed field values, and rendering stored values
//! back to text. Validation happens here, before anything touches a document.

use automerge::ScalarValue;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::error::ValidationError;
use crate::money::{format_cents, parse_amount, parse_bounded_decimal};
use crate::schema::{FieldSpec, FieldType};
use crate::validate;

/// The vocabularies from settings that some fields must belong to.
#[derive(Clone, Debug, Default)]
pub struct Vocab {
    pub stages: Vec<String>,
    pub action_types: Vec<String>,
    pub vat_rates: Vec<Decimal>,
}

/// A validated value ready to be written.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum FieldValue {
    Str(String),
    /// Long text, written as an Automerge Text diff.
    Text(String),
    Bool(bool),
    Int(i64),
    Tags(Vec<String>),
    /// Remove the value.
    Clear,
}

impl FieldValue {
    pub fn to_scalar(&self) -> Option<ScalarValue> {
        match self {
            FieldValue::Str(s) => Some(ScalarValue::Str(s.as_str().into())),
            FieldValue::Bool(b) => Some(ScalarValue::Boolean(*b)),
            FieldValue::Int(i) => Some(ScalarValue::Int(*i)),
            _ => None,
        }
    }
}

/// Parses `raw` for a field. `spec == None` is a free custom field (short text).
pub fn parse(
    spec: Option<&FieldSpec>,
    raw: &str,
    vocab: &Vocab,
) -> Result<FieldValue, ValidationError> {
    let Some(spec) = spec else {
        let v = raw.trim();
        return Ok(if v.is_empty() {
            FieldValue::Clear
        } else {
            FieldValue::Str(v.to_string())
        });
    };
    let name = spec.name;
    if !spec.editable {
        return Err(ValidationError::ReadOnly {
            field: name.to_string(),
        });
    }
    if raw.trim().is_empty() && spec.ty != FieldType::Text {
        return if spec.required {
            Err(ValidationError::Empty {
                field: name.to_string(),
            })
        } else {
            Ok(FieldValue::Clear)
        };
    }
    let v = raw.trim();
    Ok(match spec.ty {
        FieldType::Short => FieldValue::Str(validate::non_empty(name, v)?),
        FieldType::Text => FieldValue::Text(raw.to_string()),
        FieldType::Bool => FieldValue::Bool(validate::boolean(name, v)?),
        FieldType::Date => FieldValue::Str(validate::date(name, v)?.format("%Y-%m-%d").to_string()),
        FieldType::Amount => FieldValue::Int(parse_amount(name, v)?),
        FieldType::Quantity => {
            FieldValue::Str(parse_bounded_decimal(name, v, Decimal::ZERO, None)?.to_string())
        }
        FieldType::Percent => FieldValue::Str(
            parse_bounded_decimal(name, v, Decimal::ZERO, Some(Decimal::ONE_HUNDRED))?.to_string(),
        ),
        FieldType::VatRate => {
            let d = parse_bounded_decimal(name, v, Decimal::ZERO, Some(Decimal::ONE_HUNDRED))?;
            if !vocab.vat_rates.iter().any(|r| r.normalize() == d) {
                return Err(ValidationError::UnknownVatRate {
                    value: v.to_string(),
                    allowed: vocab
                        .vat_rates
                        .iter()
                        .map(|r| r.normalize().to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            FieldValue::Str(d.to_string())
        }
        FieldType::Email => FieldValue::Str(validate::email(name, v)?),
        FieldType::Phone => FieldValue::Str(validate::phone(name, v)?),
        FieldType::Siret => FieldValue::Str(validate::siret(v)?),
        FieldType::Siren => FieldValue::Str(validate::siren(v)?),
        FieldType::VatNumber => FieldValue::Str(validate::vat_number(v)?),
        FieldType::Naf => FieldValue::Str(validate::naf(v)?),
        FieldType::Postcode => FieldValue::Str(validate::postcode(v)?),
        FieldType::Choice(allowed) => {
            let lower = v.to_lowercase();
            if !allowed.contains(&lower.as_str()) {
                return Err(ValidationError::NotAllowed {
                    field: name.to_string(),
                    value: v.to_string(),
                    allowed: allowed.join(", "),
                });
            }
            FieldValue::Str(lower)
        }
        FieldType::Stage => {
            if !vocab.stages.iter().any(|s| s == v) {
                return Err(ValidationError::UnknownStage {
                    value: v.to_string(),
                    allowed: vocab.stages.join(", "),
                });
            }
            FieldValue::Str(v.to_string())
        }
        FieldType::ActionType => {
            if !vocab.action_types.iter().any(|s| s == v) {
                return Err(ValidationError::UnknownActionType {
                    value: v.to_string(),
                    allowed: vocab.action_types.join(", "),
                });
            }
            FieldValue::Str(v.to_string())
        }
        FieldType::Ref => {
            let id = uuid::Uuid::parse_str(v).map_err(|_| ValidationError::BadId(v.to_string()))?;
            FieldValue::Str(id.to_string())
        }
        FieldType::Sha256 => {
            if !crate::model::library::is_sha256(v) {
                return Err(ValidationError::BadBlob(v.to_string()));
            }
            FieldValue::Str(v.to_string())
        }
        FieldType::Tags => {
            let mut tags: Vec<String> = v
                .split(',')
                .map(|t| t.trim().to_lowercase())
                .filter(|t| !t.is_empty())
                .collect();
            tags.sort();
            tags.dedup();
            FieldValue::Tags(tags)
        }
        FieldType::Timestamp | FieldType::Int => {
            FieldValue::Int(v.parse().map_err(|_| ValidationError::BadNumber {
                field: name.to_string(),
                value: v.to_string(),
            })?)
        }
    })
}

/// Renders a stored scalar for people (history, conflicts), using the
/// field's type where known: amounts as `1234.50`.
pub fn display_scalar(ty: Option<FieldType>, v: &ScalarValue) -> String {
    match (ty, v) {
        (Some(FieldType::Amount), ScalarValue::Int(c)) => format_cents(*c),
        (Some(FieldType::Timestamp), ScalarValue::Int(t)) => {
            chrono::DateTime::from_timestamp(*t, 0)
                .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_else(|| t.to_string())
        }
        (_, ScalarValue::Str(s)) => s.to_string(),
        (_, ScalarValue::Int(i)) => i.to_string(),
        (_, ScalarValue::Uint(i)) => i.to_string(),
        (_, ScalarValue::F64(f)) => f.to_string(),
        (_, ScalarValue::Boolean(b)) => if *b { "oui" } else { "non" }.to_string(),
        (_, ScalarValue::Timestamp(t)) => t.to_string(),
        (_, ScalarValue::Null) => String::new(),
        (_, other) => format!("{other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::RecordKind;

    fn vocab() -> Vocab {
        Vocab {
            stages: vec!["qualification".into(), "won".into()],
            action_types: vec!["call".into()],
            vat_rates: vec![Decimal::from(20), Decimal::new(55, 1)],
        }
    }

    #[test]
    fn parses_each_type_or_refuses_with_a_typed_error() {
        let deal = RecordKind::Deal;
        let v = vocab();
        assert_eq!(
            parse(deal.field("amount"), "10,5", &v).unwrap(),
            FieldValue::Int(1050)
        );
        assert!(matches!(
            parse(deal.field("amount"), "-1", &v),
            Err(ValidationError::Negative { .. })
        ));
        assert!(matches!(
            parse(deal.field("stage"), "nope", &v),
            Err(ValidationError::UnknownStage { .. })
        ));
        assert!(matches!(
            parse(deal.field("probability"), "120", &v),
            Err(ValidationError::OutOfRange { .. })
        ));
        assert!(matches!(
            parse(deal.field("title"), "  ", &v),
            Err(ValidationError::Empty { .. })
        ));
        assert_eq!(
            parse(deal.field("close_date"), "", &v).unwrap(),
            FieldValue::Clear
        );
        assert!(matches!(
            parse(deal.field("created_at"), "1", &v),
            Err(ValidationError::ReadOnly { .. })
        ));
        let line = RecordKind::QuoteLine;
        assert_eq!(
            parse(line.field("vat_rate"), "5,50", &v).unwrap(),
            FieldValue::Str("5.5".into())
        );
        assert!(matches!(
            parse(line.field("vat_rate"), "7", &v),
            Err(ValidationError::UnknownVatRate { .. })
        ));
        assert_eq!(
            parse(RecordKind::Account.field("tags"), "PME, industrie,pme", &v).unwrap(),
            FieldValue::Tags(vec!["industrie".into(), "pme".into()])
        );
        assert_eq!(
            parse(RecordKind::Account.field("status"), "Client", &v).unwrap(),
            FieldValue::Str("client".into())
        );
    }
}
