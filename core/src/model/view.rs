//! Read-only views of a hydrated document: one `hydrate` pass over the
//! Automerge document, then plain map lookups. Reading a customer file this
//! way is several times faster than one `get` per field, which matters for
//! the index (recomputed on every edit and every merged document).

use std::str::FromStr;

use automerge::hydrate::{Map, Value};
use automerge::ScalarValue;
use chrono::NaiveDate;
use rust_decimal::Decimal;

/// One record (or the document root) of a hydrated document.
#[derive(Clone, Copy)]
pub struct Rec<'a>(pub &'a Map);

impl<'a> Rec<'a> {
    fn scalar(&self, key: &str) -> Option<&'a ScalarValue> {
        match self.0.get(key)? {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }

    pub fn get_str(&self, key: &str) -> Option<String> {
        match self.scalar(key)? {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        }
    }

    /// The string, or empty.
    pub fn string(&self, key: &str) -> String {
        self.get_str(key).unwrap_or_default()
    }

    pub fn get_i64(&self, key: &str) -> Option<i64> {
        match self.scalar(key)? {
            ScalarValue::Int(i) => Some(*i),
            ScalarValue::Uint(u) => i64::try_from(*u).ok(),
            _ => None,
        }
    }

    pub fn get_bool(&self, key: &str) -> Option<bool> {
        match self.scalar(key)? {
            ScalarValue::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// Long text (Automerge Text), or a plain string from another writer.
    pub fn get_text(&self, key: &str) -> Option<String> {
        match self.0.get(key)? {
            Value::Text(t) => Some(t.to_string()),
            Value::Scalar(ScalarValue::Str(s)) => Some(s.to_string()),
            _ => None,
        }
    }

    pub fn get_tags(&self, key: &str) -> Vec<String> {
        match self.0.get(key) {
            Some(Value::Map(m)) => {
                let mut tags: Vec<String> = m
                    .iter()
                    .filter(|(_, v)| matches!(v.value, Value::Scalar(ScalarValue::Boolean(true))))
                    .map(|(k, _)| k.clone())
                    .collect();
                tags.sort();
                tags
            }
            _ => Vec::new(),
        }
    }

    pub fn date(&self, key: &str) -> Option<NaiveDate> {
        self.get_str(key)
            .and_then(|s| NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok())
    }

    pub fn decimal(&self, key: &str) -> Option<Decimal> {
        self.get_str(key).and_then(|s| Decimal::from_str(&s).ok())
    }

    pub fn map(&self, key: &str) -> Option<Rec<'a>> {
        match self.0.get(key)? {
            Value::Map(m) => Some(Rec(m)),
            _ => None,
        }
    }

    /// The records of a container map, keyed by id, in id order.
    pub fn records(&self, key: &str) -> Vec<(String, Rec<'a>)> {
        let mut out: Vec<(String, Rec<'a>)> = match self.0.get(key) {
            Some(Value::Map(m)) => m
                .iter()
                .filter_map(|(k, v)| match &v.value {
                    Value::Map(r) => Some((k.clone(), Rec(r))),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Scalar entries of this map (custom fields).
    pub fn scalars(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .0
            .iter()
            .filter_map(|(k, v)| match &v.value {
                Value::Scalar(ScalarValue::Str(s)) => Some((k.clone(), s.to_string())),
                _ => None,
            })
            .collect();
        out.sort();
        out
    }

    /// Does any scalar anywhere under this map have concurrent values?
    pub fn any_conflict(&self) -> bool {
        self.0.iter().any(|(_, v)| match &v.value {
            Value::Map(m) => Rec(m).any_conflict(),
            Value::Scalar(_) => v.conflict,
            _ => false,
        })
    }
}
