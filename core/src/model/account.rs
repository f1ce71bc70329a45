//! A customer file ("dossier client") and the records it holds: contacts,
//! deals ("affaires"), follow-up actions ("relances"), notes, quotes, orders.

use std::collections::BTreeMap;

use automerge::hydrate;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use super::email::Email;
use super::quote::{Order, Quote};
use super::view::Rec;
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
    /// The account said no to prospecting email (`consent_email` set to
    /// no, not merely never asked): the mailer sends it nothing.
    pub refused_email: bool,
    /// When each key field was last confirmed (`ops::verify`).
    pub verified_address: Option<NaiveDate>,
    pub verified_phone: Option<NaiveDate>,
    pub verified_email: Option<NaiveDate>,
    /// Mail to the address came back ("NPAI"), or email bounced.
    pub email_bounced: bool,
    /// The file this one was merged into (`crate::merge`).
    pub merged_into: Option<String>,
    pub custom: BTreeMap<String, String>,
    pub created_at: i64,
    pub schema: u64,
}

impl Account {
    pub fn read(doc: &CrmDoc) -> Result<Account> {
        Account::read_root(doc, Rec(&doc.hydrated()))
    }

    fn read_root(doc: &CrmDoc, root: Rec<'_>) -> Result<Account> {
        if doc.kind() != DocKind::Account {
            return Err(CoreError::WrongKind {
                doc: doc.id(),
                expected: "account",
                found: doc.kind().to_string(),
            });
        }
        let a = root.map("account").ok_or_else(|| CoreError::CorruptDoc {
            doc: doc.id(),
            reason: "no account map".into(),
        })?;
        let custom: BTreeMap<String, String> = a
            .map("custom")
            .map(|c| c.scalars().into_iter().collect())
            .unwrap_or_default();
        Ok(Account {
            id: doc.id(),
            name: a.string("name"),
            kind: a.get_str("kind").unwrap_or_else(|| "company".into()),
            status: a.get_str("status").unwrap_or_else(|| "prospect".into()),
            siret: a.get_str("siret"),
            siren: a.get_str("siren"),
            vat_number: a.get_str("vat_number"),
            naf: a.get_str("naf"),
            tags: a.get_tags("tags"),
            address_line1: a.get_str("address_line1"),
            address_line2: a.get_str("address_line2"),
            postcode: a.get_str("postcode"),
            city: a.get_str("city"),
            country: a.get_str("country"),
            returned_mail: a.get_bool("returned_mail").unwrap_or(false),
            phone: a.get_str("phone"),
            email: a.get_str("email"),
            website: a.get_str("website"),
            owner: a.string("owner"),
            territory: a.get_str("territory"),
            source: a.get_str("source"),
            expectations: a.get_text("expectations").unwrap_or_default(),
            consent_email: a.get_bool("consent_email").unwrap_or(false),
            consent_phone: a.get_bool("consent_phone").unwrap_or(false),
            consent_post: a.get_bool("consent_post").unwrap_or(false),
            refused_email: a.get_bool("consent_email") == Some(false),
            verified_address: a.date("verified_address"),
            verified_phone: a.date("verified_phone"),
            verified_email: a.date("verified_email"),
            email_bounced: a.get_bool("email_bounced").unwrap_or(false),
            merged_into: a.get_str("merged_into"),
            custom,
            created_at: a.get_i64("created_at").unwrap_or(0),
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
    pub consent_post: bool,
    /// As `Account::refused_email`.
    pub refused_email: bool,
    pub notes: String,
    pub verified_role: Option<NaiveDate>,
    pub created_at: i64,
}

impl Contact {
    pub fn read(o: Rec<'_>, id: String) -> Contact {
        Contact {
            name: o.string("name"),
            role: o.get_str("role"),
            phone: o.get_str("phone"),
            mobile: o.get_str("mobile"),
            email: o.get_str("email"),
            preferred_channel: o.get_str("preferred_channel"),
            consent_email: o.get_bool("consent_email").unwrap_or(false),
            consent_phone: o.get_bool("consent_phone").unwrap_or(false),
            consent_post: o.get_bool("consent_post").unwrap_or(false),
            refused_email: o.get_bool("consent_email") == Some(false),
            notes: o.get_text("notes").unwrap_or_default(),
            verified_role: o.date("verified_role"),
            created_at: o.get_i64("created_at").unwrap_or(0),
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
    pub fn read(o: Rec<'_>, id: String) -> Deal {
        Deal {
            title: o.string("title"),
            stage: o.string("stage"),
            amount: Money::new(
                o.get_i64("amount").unwrap_or(0),
                o.get_str("currency").unwrap_or_else(|| "EUR".into()),
            ),
            probability: o.decimal("probability"),
            close_date: o.date("close_date"),
            next_step: o.get_str("next_step"),
            lost_reason: o.get_str("lost_reason"),
            owner: o.string("owner"),
            contact: o.get_str("contact"),
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
    pub fn read(o: Rec<'_>, id: String) -> Action {
        Action {
            action_type: o.string("type"),
            subject: o.string("subject"),
            due: o.date("due"),
            assignee: o.string("assignee"),
            outcome: o.get_text("outcome").unwrap_or_default(),
            done_on: o.date("done_on"),
            deal: o.get_str("deal"),
            contact: o.get_str("contact"),
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
    pub fn read(o: Rec<'_>, id: String) -> Note {
        Note {
            body: o.get_text("body").unwrap_or_default(),
            author: o.string("author"),
            created_at: o.get_i64("created_at").unwrap_or(0),
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
    /// The outbox: messages queued, sent or failed, newest first.
    pub emails: Vec<Email>,
    /// Number of fields with concurrent values.
    pub conflicts: usize,
}

impl AccountFile {
    /// An order of this file and the number of the quote it came from.
    pub fn order(&self, id: &str) -> Option<(&Order, Option<&str>)> {
        let o = self.orders.iter().find(|o| o.id == id.trim())?;
        Some((o, self.quote_number_of(o)))
    }

    /// The number of the quote an order came from, if it is in this file.
    pub fn quote_number_of(&self, o: &Order) -> Option<&str> {
        let q = o.quote.as_deref()?;
        self.quotes
            .iter()
            .find(|x| x.id == q)
            .map(|q| q.number.as_str())
    }

    pub fn read(doc: &mut CrmDoc) -> Result<AccountFile> {
        let h = doc.hydrated();
        AccountFile::read_hydrated(doc, &h)
    }

    /// `read`, from the document's tree already hydrated (or, for a new
    /// file, the tree it was built from).
    pub(crate) fn read_hydrated(doc: &mut CrmDoc, h: &hydrate::Map) -> Result<AccountFile> {
        let root = Rec(h);
        let account = Account::read_root(doc, root)?;
        let mut contacts: Vec<Contact> = root
            .records("contacts")
            .into_iter()
            .map(|(id, o)| Contact::read(o, id))
            .collect();
        contacts.sort_by_key(|c| c.name.to_lowercase());
        let mut deals: Vec<Deal> = root
            .records("deals")
            .into_iter()
            .map(|(id, o)| Deal::read(o, id))
            .collect();
        deals.sort_by(|a, b| a.close_date.cmp(&b.close_date).then(a.id.cmp(&b.id)));
        let mut actions: Vec<Action> = root
            .records("actions")
            .into_iter()
            .map(|(id, o)| Action::read(o, id))
            .collect();
        actions.sort_by(|a, b| a.due.cmp(&b.due).then(a.id.cmp(&b.id)));
        let mut notes: Vec<Note> = root
            .records("notes")
            .into_iter()
            .map(|(id, o)| Note::read(o, id))
            .collect();
        notes.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        let mut quotes: Vec<Quote> = root
            .records("quotes")
            .into_iter()
            .map(|(id, o)| Quote::read(o, id))
            .collect();
        quotes.sort_by(|a, b| a.date.cmp(&b.date).then(a.id.cmp(&b.id)));
        let mut orders: Vec<Order> = root
            .records("orders")
            .into_iter()
            .map(|(id, o)| Order::read(o, id))
            .collect();
        orders.sort_by(|a, b| a.date.cmp(&b.date).then(a.id.cmp(&b.id)));
        let mut emails: Vec<Email> = root
            .records("emails")
            .into_iter()
            .map(|(id, o)| Email::read(o, id))
            .collect();
        emails.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        for e in emails.iter_mut().filter(|e| e.subject.is_empty()) {
            if let Some(q) = quotes.iter().find(|q| e.quote.as_deref() == Some(&q.id)) {
                let lang = e.lang.parse().unwrap_or_default();
                e.subject = crate::mail::quote_subject(q, lang);
            }
        }
        // The hydrated flags are cheap; listing (which drops same-value
        // "conflicts") only runs when one is set.
        let conflicts = if root.any_conflict() {
            doc.conflicts().len()
        } else {
            0
        };
        Ok(AccountFile {
            account,
            contacts,
            deals,
            actions,
            notes,
            quotes,
            orders,
            emails,
            conflicts,
        })
    }
}
