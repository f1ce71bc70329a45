//! Typed views of documents, read field by field from a `CrmDoc` (never
//! written back as a whole: writes go through `doc::CrmDoc::put_field`).
//! Reading is lenient: a missing or malformed optional field reads as empty,
//! so a document from a newer or older app still opens.

pub mod account;
pub mod quote;
pub mod settings;

pub use account::{Account, AccountFile, Action, Contact, Deal, Note};
pub use quote::{Line, Order, Quote, Totals, VatLine};
pub use settings::{Catalog, Directory, Plan, Product, Settings, Stage, StageOutcome, Tier, User};

use std::str::FromStr;

use automerge::ObjId;
use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::doc::CrmDoc;

pub(crate) fn read_date(doc: &CrmDoc, obj: &ObjId, key: &str) -> Option<NaiveDate> {
    doc.get_str(obj, key)
        .and_then(|s| NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok())
}

pub(crate) fn read_decimal(doc: &CrmDoc, obj: &ObjId, key: &str) -> Option<Decimal> {
    doc.get_str(obj, key)
        .and_then(|s| Decimal::from_str(&s).ok())
}

pub(crate) fn read_string(doc: &CrmDoc, obj: &ObjId, key: &str) -> String {
    doc.get_str(obj, key).unwrap_or_default()
}
