//! The materialized index: summary rows for accounts, contacts, deals,
//! actions, quotes and orders, one `DocRows` per document. Rows are
//! recomputed from a document whenever it changes (a local edit or a merged
//! sync), stored beside the document in the same atomic batch, and loaded
//! into memory at open. Lists and reports read only this, never every
//! document, which is what keeps them instant with thousands of files.

mod search;

pub use search::{fold, SearchHit};

use std::collections::{BTreeSet, HashMap};

use automerge::hydrate;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::doc::CrmDoc;
use crate::error::Result;
use crate::ids::{DocId, DocKind};
use crate::model::{AccountFile, Plan};

/// Bump when the row format changes: a store with an older format rebuilds
/// its index from the documents at open.
pub const INDEX_FORMAT: u32 = 3;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountRow {
    pub name: String,
    pub kind: String,
    pub status: String,
    pub postcode: Option<String>,
    pub city: Option<String>,
    pub owner: String,
    pub territory: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub siret: Option<String>,
    /// Set for a business known by its SIREN only (no SIRET).
    #[serde(default)]
    pub siren: Option<String>,
    pub tags: Vec<String>,
    /// Accent- and case-folded text searched by `search`.
    pub search: String,
    /// Each key field that has a value, and since when it is known right
    /// (last verified, else entered): what data decay is measured on.
    #[serde(default)]
    pub checks: Vec<FieldCheck>,
    /// Mail came back from the address ("NPAI").
    #[serde(default)]
    pub returned_mail: bool,
    #[serde(default)]
    pub email_bounced: bool,
    /// The day the file was entered.
    #[serde(default)]
    pub created_on: Option<NaiveDate>,
    /// Merged into this file: out of every list, its records counted there.
    #[serde(default)]
    pub merged_into: Option<DocId>,
}

/// A key field of a customer file and the day it was last known right.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldCheck {
    /// `address`, `phone`, `email`, or `role/<contact id>`.
    pub field: String,
    pub since: NaiveDate,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContactRow {
    pub id: String,
    pub name: String,
    pub role: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub search: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DealRow {
    pub id: String,
    pub title: String,
    pub stage: String,
    pub amount: i64,
    pub currency: String,
    pub probability: Option<Decimal>,
    pub close_date: Option<NaiveDate>,
    pub owner: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionRow {
    pub id: String,
    pub action_type: String,
    pub subject: String,
    pub due: Option<NaiveDate>,
    pub assignee: String,
    pub done_on: Option<NaiveDate>,
    pub deal: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuoteRow {
    pub id: String,
    pub number: String,
    pub status: String,
    pub date: Option<NaiveDate>,
    pub net: i64,
    pub gross: i64,
    pub currency: String,
    pub owner: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderRow {
    pub id: String,
    pub number: String,
    pub status: String,
    pub date: Option<NaiveDate>,
    pub net: i64,
    pub currency: String,
    pub owner: String,
}

/// An outbox message: what the server's mailer and the outbox lists read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmailRow {
    pub id: String,
    pub to: String,
    pub subject: String,
    pub quote: Option<String>,
    pub status: String,
    pub attempts: i64,
    pub next_attempt: Option<i64>,
    pub error: Option<String>,
    pub sent_at: Option<i64>,
    pub message_id: Option<String>,
    pub created_by: String,
    pub created_at: i64,
}

/// Everything the index knows about one document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DocRows {
    pub kind: DocKind,
    pub account: Option<AccountRow>,
    pub contacts: Vec<ContactRow>,
    pub deals: Vec<DealRow>,
    pub actions: Vec<ActionRow>,
    pub quotes: Vec<QuoteRow>,
    pub orders: Vec<OrderRow>,
    pub emails: Vec<EmailRow>,
    /// For `plan` documents: whose plan it is.
    pub plan_user: Option<String>,
    /// Fields with concurrent values.
    pub conflicts: u32,
}

fn day_of(unix: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|d| d.date_naive())
        .unwrap_or_default()
}

/// The key fields of a file that have a value, with the day each was last
/// verified, else the day it was entered.
fn field_checks(file: &AccountFile) -> Vec<FieldCheck> {
    let a = &file.account;
    let created = day_of(a.created_at);
    let mut out = Vec::new();
    let has_address = a.address_line1.is_some() || a.postcode.is_some() || a.city.is_some();
    for (field, present, verified) in [
        ("address", has_address, a.verified_address),
        ("phone", a.phone.is_some(), a.verified_phone),
        ("email", a.email.is_some(), a.verified_email),
    ] {
        if present {
            out.push(FieldCheck {
                field: field.to_string(),
                since: verified.unwrap_or(created),
            });
        }
    }
    for c in &file.contacts {
        if c.role.is_some() {
            out.push(FieldCheck {
                field: format!("role/{}", c.id),
                since: c.verified_role.unwrap_or(day_of(c.created_at)),
            });
        }
    }
    out
}

impl DocRows {
    /// The customer file's row, unless it was merged into another (such a
    /// file stays for its history but leaves every list and count).
    pub fn listed_account(&self) -> Option<&AccountRow> {
        self.account.as_ref().filter(|a| a.merged_into.is_none())
    }

    /// The container (`contacts`, `deals`, `actions`, `quotes`, `orders`)
    /// holding the record `id` in this document.
    pub fn container_of(&self, id: &str) -> Option<&'static str> {
        if self.contacts.iter().any(|r| r.id == id) {
            Some("contacts")
        } else if self.deals.iter().any(|r| r.id == id) {
            Some("deals")
        } else if self.actions.iter().any(|r| r.id == id) {
            Some("actions")
        } else if self.quotes.iter().any(|r| r.id == id) {
            Some("quotes")
        } else if self.orders.iter().any(|r| r.id == id) {
            Some("orders")
        } else if self.emails.iter().any(|r| r.id == id) {
            Some("emails")
        } else {
            None
        }
    }

    fn empty(kind: DocKind) -> DocRows {
        DocRows {
            kind,
            account: None,
            contacts: Vec::new(),
            deals: Vec::new(),
            actions: Vec::new(),
            quotes: Vec::new(),
            orders: Vec::new(),
            emails: Vec::new(),
            plan_user: None,
            conflicts: 0,
        }
    }

    /// Computes the rows of a document.
    pub fn of(doc: &mut CrmDoc) -> Result<DocRows> {
        DocRows::of_tree(doc, None)
    }

    /// `of`, reading a customer file from `tree` when given: the tree a new
    /// file was built from (`CrmDoc::create_open`), so it is not hydrated
    /// back from Automerge.
    pub(crate) fn of_tree(doc: &mut CrmDoc, tree: Option<&hydrate::Map>) -> Result<DocRows> {
        let kind = doc.kind();
        let mut rows = DocRows::empty(kind);
        match kind {
            DocKind::Account => {
                let file = match tree {
                    Some(t) => AccountFile::read_hydrated(doc, t)?,
                    None => AccountFile::read(doc)?,
                };
                let a = &file.account;
                let mut search = fold(&a.name);
                for part in [&a.city, &a.postcode, &a.email, &a.siret, &a.phone]
                    .into_iter()
                    .flatten()
                {
                    search.push('\u{1f}');
                    search.push_str(&fold(part));
                }
                rows.account = Some(AccountRow {
                    name: a.name.clone(),
                    kind: a.kind.clone(),
                    status: a.status.clone(),
                    postcode: a.postcode.clone(),
                    city: a.city.clone(),
                    owner: a.owner.clone(),
                    territory: a.territory.clone(),
                    phone: a.phone.clone(),
                    email: a.email.clone(),
                    siret: a.siret.clone(),
                    siren: a.siren.clone(),
                    tags: a.tags.clone(),
                    search,
                    checks: field_checks(&file),
                    returned_mail: a.returned_mail,
                    email_bounced: a.email_bounced,
                    created_on: (a.created_at > 0).then(|| day_of(a.created_at)),
                    merged_into: a.merged_into.as_deref().and_then(|m| m.parse().ok()),
                });
                if a.merged_into.is_some() {
                    // Its records live on in the file it was merged into:
                    // counted there only, found there by id.
                    rows.conflicts = file.conflicts as u32;
                    return Ok(rows);
                }
                rows.contacts = file
                    .contacts
                    .into_iter()
                    .map(|c| ContactRow {
                        search: fold(&format!(
                            "{}\u{1f}{}",
                            c.name,
                            c.email.as_deref().unwrap_or("")
                        )),
                        id: c.id,
                        name: c.name,
                        role: c.role,
                        email: c.email,
                        phone: c.phone.or(c.mobile),
                    })
                    .collect();
                rows.deals = file
                    .deals
                    .into_iter()
                    .map(|d| DealRow {
                        id: d.id,
                        title: d.title,
                        stage: d.stage,
                        amount: d.amount.cents,
                        currency: d.amount.currency,
                        probability: d.probability,
                        close_date: d.close_date,
                        owner: d.owner,
                    })
                    .collect();
                rows.actions = file
                    .actions
                    .into_iter()
                    .map(|a| ActionRow {
                        id: a.id,
                        action_type: a.action_type,
                        subject: a.subject,
                        due: a.due,
                        assignee: a.assignee,
                        done_on: a.done_on,
                        deal: a.deal,
                    })
                    .collect();
                rows.quotes = file
                    .quotes
                    .into_iter()
                    .map(|q| QuoteRow {
                        id: q.id,
                        number: q.number,
                        status: q.status,
                        date: q.date,
                        net: q.totals.net,
                        gross: q.totals.gross,
                        currency: q.currency,
                        owner: q.owner,
                    })
                    .collect();
                rows.orders = file
                    .orders
                    .into_iter()
                    .map(|o| OrderRow {
                        id: o.id,
                        number: o.number,
                        status: o.status,
                        date: o.date,
                        net: o.totals.net,
                        currency: o.currency,
                        owner: o.owner,
                    })
                    .collect();
                rows.emails = file
                    .emails
                    .into_iter()
                    .map(|e| EmailRow {
                        id: e.id,
                        to: e.to,
                        subject: e.subject,
                        quote: e.quote,
                        status: e.status,
                        attempts: e.attempts,
                        next_attempt: e.next_attempt,
                        error: e.error,
                        sent_at: e.sent_at,
                        message_id: e.message_id,
                        created_by: e.created_by,
                        created_at: e.created_at,
                    })
                    .collect();
                rows.conflicts = file.conflicts as u32;
            }
            DocKind::Plan => {
                rows.plan_user = Some(Plan::read(doc).user);
                rows.conflicts = doc.conflicts().len() as u32;
            }
            _ => {
                rows.conflicts = doc.conflicts().len() as u32;
            }
        }
        Ok(rows)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = INDEX_FORMAT.to_be_bytes().to_vec();
        // Serializing plain owned data into a Vec cannot fail.
        out.extend(postcard::to_stdvec(self).unwrap_or_default());
        out
    }

    /// `None` when the bytes are from another index format or corrupt: the
    /// caller rebuilds the rows from the document.
    pub fn decode(bytes: &[u8]) -> Option<DocRows> {
        let (format, rest) = bytes.split_at_checked(4)?;
        if u32::from_be_bytes(format.try_into().ok()?) != INDEX_FORMAT {
            return None;
        }
        postcard::from_bytes(rest).ok()
    }

    fn record_ids(&self) -> impl Iterator<Item = &str> {
        self.contacts
            .iter()
            .map(|r| r.id.as_str())
            .chain(self.deals.iter().map(|r| r.id.as_str()))
            .chain(self.actions.iter().map(|r| r.id.as_str()))
            .chain(self.quotes.iter().map(|r| r.id.as_str()))
            .chain(self.orders.iter().map(|r| r.id.as_str()))
            .chain(self.emails.iter().map(|r| r.id.as_str()))
    }
}

/// What reports read: the customer files' rows, from a whole index or a
/// part of one (`Index::filtered`).
pub trait AccountRows {
    fn account_rows(&self) -> impl Iterator<Item = (DocId, &AccountRow, &DocRows)>;
}

impl AccountRows for Index {
    fn account_rows(&self) -> impl Iterator<Item = (DocId, &AccountRow, &DocRows)> {
        self.accounts()
    }
}

/// The documents of an index that a filter kept (what one user may see):
/// references into the index, collected in one pass, so a page that reads
/// them several times tests each document once.
pub struct Filtered<'a> {
    docs: Vec<(DocId, &'a DocRows)>,
}

impl<'a> Filtered<'a> {
    /// Every kept document.
    pub fn docs(&self) -> impl Iterator<Item = (DocId, &'a DocRows)> + '_ {
        self.docs.iter().copied()
    }
}

impl AccountRows for Filtered<'_> {
    fn account_rows(&self) -> impl Iterator<Item = (DocId, &AccountRow, &DocRows)> {
        self.docs
            .iter()
            .filter_map(|(id, r)| r.listed_account().map(|a| (*id, a, *r)))
    }
}

/// The in-memory index of every document in a store.
#[derive(Debug, Default, Clone)]
pub struct Index {
    docs: HashMap<DocId, DocRows>,
    records: HashMap<Uuid, DocId>,
    /// Each user's plan documents (one, unless created offline twice).
    plans: HashMap<String, BTreeSet<DocId>>,
}

impl Index {
    pub fn new() -> Index {
        Index::default()
    }

    /// Replaces the rows of a document.
    pub fn put(&mut self, doc: DocId, rows: DocRows) {
        self.remove(doc);
        for id in rows.record_ids() {
            if let Ok(u) = Uuid::parse_str(id) {
                self.records.insert(u, doc);
            }
        }
        if let (DocKind::Plan, Some(u)) = (rows.kind, &rows.plan_user) {
            self.plans.entry(u.clone()).or_default().insert(doc);
        }
        self.docs.insert(doc, rows);
    }

    pub fn remove(&mut self, doc: DocId) {
        if let Some(old) = self.docs.remove(&doc) {
            if let Some(u) = &old.plan_user {
                if let Some(set) = self.plans.get_mut(u) {
                    set.remove(&doc);
                    if set.is_empty() {
                        self.plans.remove(u);
                    }
                }
            }
            for id in old.record_ids() {
                if let Ok(u) = Uuid::parse_str(id) {
                    self.records.remove(&u);
                }
            }
        }
    }

    pub fn get(&self, doc: DocId) -> Option<&DocRows> {
        self.docs.get(&doc)
    }

    /// The document holding a record (contact, deal, action, quote, order).
    pub fn doc_of(&self, record: &str) -> Option<DocId> {
        Uuid::parse_str(record)
            .ok()
            .and_then(|u| self.records.get(&u).copied())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&DocId, &DocRows)> {
        self.docs.iter()
    }

    /// The customer files, those merged into another left out.
    pub fn accounts(&self) -> impl Iterator<Item = (DocId, &AccountRow, &DocRows)> {
        self.docs
            .iter()
            .filter_map(|(id, r)| r.listed_account().map(|a| (*id, a, r)))
    }

    /// This index seen through `keep`.
    pub fn filtered(&self, keep: impl Fn(&DocRows) -> bool) -> Filtered<'_> {
        Filtered {
            docs: self
                .docs
                .iter()
                .filter(|(_, r)| keep(r))
                .map(|(id, r)| (*id, r))
                .collect(),
        }
    }

    /// This index's documents among `ids`, seen through `keep` (ids the
    /// index does not hold are skipped): a narrower candidate set, such as
    /// the files one user can reach, read instead of the whole index.
    pub fn filtered_among(&self, ids: &[DocId], keep: impl Fn(&DocRows) -> bool) -> Filtered<'_> {
        Filtered {
            docs: ids
                .iter()
                .filter_map(|id| self.docs.get(id).map(|r| (*id, r)))
                .filter(|(_, r)| keep(r))
                .collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// The plan of `user`; the first by id if two exist for one user
    /// (created offline twice), so every reader picks the same.
    pub fn plan_of(&self, user: &str) -> Option<DocId> {
        self.plans.get(user)?.iter().next().copied()
    }

    /// Same content as `other`, whatever the insertion order.
    pub fn same_as(&self, other: &Index) -> bool {
        self.docs == other.docs && self.records == other.records
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(user: &str) -> DocRows {
        DocRows {
            kind: DocKind::Plan,
            account: None,
            contacts: vec![],
            deals: vec![],
            actions: vec![],
            quotes: vec![],
            orders: vec![],
            emails: Vec::new(),
            plan_user: Some(user.into()),
            conflicts: 0,
        }
    }

    #[test]
    fn a_users_plan_is_found_by_lookup_and_follows_changes() {
        let mut idx = Index::new();
        let mut two = [DocId::new(), DocId::new()];
        two.sort();
        // Created offline twice: every reader picks the first by id.
        idx.put(two[1], plan("alice"));
        idx.put(two[0], plan("alice"));
        assert_eq!(idx.plan_of("alice"), Some(two[0]));
        assert_eq!(idx.plan_of("bob"), None);
        // The first is handed to Bob: Alice keeps the other.
        idx.put(two[0], plan("bob"));
        assert_eq!(idx.plan_of("alice"), Some(two[1]));
        assert_eq!(idx.plan_of("bob"), Some(two[0]));
        idx.remove(two[1]);
        assert_eq!(idx.plan_of("alice"), None);
        let mut copy = Index::new();
        copy.put(two[0], plan("bob"));
        assert!(idx.same_as(&copy));
    }
}
