//! A customer file ("dossier client") and the records it holds: contacts,
//! deals ("affaires"), follow-up actions ("relances"), notes, quotes, orders.

use std::collections::BTreeMap;

use automerge::ObjId;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use super::quote::{Order, Quote};
use super::{read_date, read_decimal, read_string};
use crate::doc::CrmDoc;
use crate::error::{CoreError, Result};
use crate::ids::{DocId, DocKind};
use crate::money::Money;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Account {
    pub id: DocId,
    pub name: String,
    pub kind: String,
    pub status: String,
    pub siret: Option<String>,
    pub siren: Option<String>,
    pub vat_number: Option<String>,
    pub naf: Option<String>,
    pub tags: Vec<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub postcode: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub returned_mail: bool,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub website: Option<String>,
    pub owner: String,
    pub territory: Option<String>,
    pub source: Option<String>,
    pub expectations: String,
    pub consent_email: bool,
    pub consent_phone: bool,
    pub consent_post: bool,
    pub custom: BTreeMap<String, String>,
    pub created_at: i64,
    pub schema: u64,
}

impl Account {
    pub fn read(doc: &CrmDoc) -> Result<Account> {
        if doc.kind() != DocKind::Account {
            return Err(CoreError::WrongKind {
                doc: doc.id(),
                expected: "account",
                found: doc.kind().to_string(),
            });
        }
        let a = doc
            .map_at(&["account"])
            .ok_or_else(|| CoreError::CorruptDoc {
                doc: doc.id(),
                reason: "no account map".into(),
            })?;
        let mut custom = BTreeMap::new();
        if let Some(c) = doc.map_at(&["account", "custom"]) {
            for k in doc.keys(&c) {
                if let Some(v) = doc.get_str(&c, &k) {
                    custom.insert(k, v);
                }
            }
        }
        Ok(Account {
            id: doc.id(),
            name: read_string(doc, &a, "name"),
            kind: doc.get_str(&a, "kind").unwrap_or_else(|| "company".into()),
            status: doc
                .get_str(&a, "status")
                .unwrap_or_else(|| "prospect".into()),
            siret: doc.get_str(&a, "siret"),
            siren: doc.get_str(&a, "siren"),
            vat_number: doc.get_str(&a, "vat_number"),
            naf: doc.get_str(&a, "naf"),
            tags: doc.get_tags(&a, "tags"),
            address_line1: doc.get_str(&a, "address_line1"),
            address_line2: doc.get_str(&a, "address_line2"),
            postcode: doc.get_str(&a, "postcode"),
            city: doc.get_str(&a, "city"),
            country: doc.get_str(&a, "country"),
            returned_mail: doc.get_bool(&a, "returned_mail").unwrap_or(false),
            phone: doc.get_str(&a, "phone"),
            email: doc.get_str(&a, "email"),
            website: doc.get_str(&a, "website"),
            owner: read_string(doc, &a, "owner"),
            territory: doc.get_str(&a, "territory"),
            source: doc.get_str(&a, "source"),
            expectations: doc.get_text(&a, "expectations").unwrap_or_default(),
            consent_email: doc.get_bool(&a, "consent_email").unwrap_or(false),
            consent_phone: doc.get_bool(&a, "consent_phone").unwrap_or(false),
            consent_post: doc.get_bool(&a, "consent_post").unwrap_or(false),
            custom,
            created_at: doc.get_i64(&a, "created_at").unwrap_or(0),
            schema: doc.schema_version(),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Contact {
    pub id: String,
    pub name: String,
    pub role: Option<String>,
    pub phone: Option<String>,
    pub mobile: Option<String>,
    pub email: Option<String>,
    pub preferred_channel: Option<String>,
    pub consent_email: bool,
    pub consent_phone: bool,
    pub notes: String,
}

impl Contact {
    pub fn read(doc: &CrmDoc, id: String, o: &ObjId) -> Contact {
        Contact {
            name: read_string(doc, o, "name"),
            role: doc.get_str(o, "role"),
            phone: doc.get_str(o, "phone"),
            mobile: doc.get_str(o, "mobile"),
            email: doc.get_str(o, "email"),
            preferred_channel: doc.get_str(o, "preferred_channel"),
            consent_email: doc.get_bool(o, "consent_email").unwrap_or(false),
            consent_phone: doc.get_bool(o, "consent_phone").unwrap_or(false),
            notes: doc.get_text(o, "notes").unwrap_or_default(),
            id,
        }
    }
}

/// A deal ("affaire").
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Deal {
    pub id: String,
    pub title: String,
    pub stage: String,
    pub amount: Money,
    /// Set when the rep overrode the stage's default probability.
    pub probability: Option<Decimal>,
    pub close_date: Option<NaiveDate>,
    pub next_step: Option<String>,
    pub lost_reason: Option<String>,
    pub owner: String,
    pub contact: Option<String>,
}

impl Deal {
    pub fn read(doc: &CrmDoc, id: String, o: &ObjId) -> Deal {
        Deal {
            title: read_string(doc, o, "title"),
            stage: read_string(doc, o, "stage"),
            amount: Money::new(
                doc.get_i64(o, "amount").unwrap_or(0),
                doc.get_str(o, "currency").unwrap_or_else(|| "EUR".into()),
            ),
            probability: read_decimal(doc, o, "probability"),
            close_date: read_date(doc, o, "close_date"),
            next_step: doc.get_str(o, "next_step"),
            lost_reason: doc.get_str(o, "lost_reason"),
            owner: read_string(doc, o, "owner"),
            contact: doc.get_str(o, "contact"),
            id,
        }
    }
}

/// A follow-up action ("relance"): call, visit, email, ...
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Action {
    pub id: String,
    #[serde(rename = "type")]
    pub action_type: String,
    pub subject: String,
    pub due: Option<NaiveDate>,
    pub assignee: String,
    pub outcome: String,
    pub done_on: Option<NaiveDate>,
    pub deal: Option<String>,
    pub contact: Option<String>,
}

impl Action {
    pub fn read(doc: &CrmDoc, id: String, o: &ObjId) -> Action {
        Action {
            action_type: read_string(doc, o, "type"),
            subject: read_string(doc, o, "subject"),
            due: read_date(doc, o, "due"),
            assignee: read_string(doc, o, "assignee"),
            outcome: doc.get_text(o, "outcome").unwrap_or_default(),
            done_on: read_date(doc, o, "done_on"),
            deal: doc.get_str(o, "deal"),
            contact: doc.get_str(o, "contact"),
            id,
        }
    }
}

/// A free note on the account timeline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Note {
    pub id: String,
    pub body: String,
    pub author: String,
    pub created_at: i64,
}

impl Note {
    pub fn read(doc: &CrmDoc, id: String, o: &ObjId) -> Note {
        Note {
            body: doc.get_text(o, "body").unwrap_or_default(),
            author: read_string(doc, o, "author"),
            created_at: doc.get_i64(o, "created_at").unwrap_or(0),
            id,
        }
    }
}

/// Everything in one customer file, for the account screen.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AccountFile {
    pub account: Account,
    pub contacts: Vec<Contact>,
    pub deals: Vec<Deal>,
    pub actions: Vec<Action>,
    pub notes: Vec<Note>,
    pub quotes: Vec<Quote>,
    pub orders: Vec<Order>,
    /// Number of fields with concurrent values.
    pub conflicts: usize,
}

impl AccountFile {
    pub fn read(doc: &mut CrmDoc) -> Result<AccountFile> {
        let account = Account::read(doc)?;
        let mut contacts: Vec<Contact> = doc
            .records(&["contacts"])
            .into_iter()
            .map(|(id, o)| Contact::read(doc, id, &o))
            .collect();
        contacts.sort_by_key(|c| c.name.to_lowercase());
        let mut deals: Vec<Deal> = doc
            .records(&["deals"])
            .into_iter()
            .map(|(id, o)| Deal::read(doc, id, &o))
            .collect();
        deals.sort_by(|a, b| a.close_date.cmp(&b.close_date).then(a.id.cmp(&b.id)));
        let mut actions: Vec<Action> = doc
            .records(&["actions"])
            .into_iter()
            .map(|(id, o)| Action::read(doc, id, &o))
            .collect();
        actions.sort_by(|a, b| a.due.cmp(&b.due).then(a.id.cmp(&b.id)));
        let mut notes: Vec<Note> = doc
            .records(&["notes"])
            .into_iter()
            .map(|(id, o)| Note::read(doc, id, &o))
            .collect();
        notes.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        let mut quotes: Vec<Quote> = doc
            .records(&["quotes"])
            .into_iter()
            .map(|(id, o)| Quote::read(doc, id, &o))
            .collect();
        quotes.sort_by(|a, b| a.date.cmp(&b.date).then(a.id.cmp(&b.id)));
        let mut orders: Vec<Order> = doc
            .records(&["orders"])
            .into_iter()
            .map(|(id, o)| Order::read(doc, id, &o))
            .collect();
        orders.sort_by(|a, b| a.date.cmp(&b.date).then(a.id.cmp(&b.id)));
        let conflicts = doc.conflicts().len();
        Ok(AccountFile {
            account,
            contacts,
            deals,
            actions,
            notes,
            quotes,
            orders,
            conflicts,
        })
    }
}
