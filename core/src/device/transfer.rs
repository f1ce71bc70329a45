//! Lists and contacts leaving or entering the device: customer files as
//! CSV (`crate::export`), contacts as vCard (`crate::vcard`).

use std::collections::HashMap;

use serde::Serialize;

use super::Device;
use crate::dedup::{name_key, phone_e164};
use crate::error::{CoreError, Result, ValidationError};
use crate::export::{self, Audience};
use crate::ids::DocId;
use crate::import;
use crate::index::fold;
use crate::model::AccountFile;
use crate::reports::Scope;
use crate::store::Store;
use crate::vcard::{self, Card};

/// What a vCard import did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct VcardReport {
    pub contacts_added: u64,
    pub accounts_created: u64,
    pub duplicates: u64,
    /// Card number (from 1) and why it was left out.
    pub rejected: Vec<(usize, String)>,
}

impl<S: Store> Device<S> {
    /// The files of `scope`, by name.
    fn files_of(&self, scope: &Scope) -> Result<Vec<AccountFile>> {
        let mut ids: Vec<(String, DocId)> = self
            .index
            .accounts()
            .filter(|(_, a, _)| scope.covers(&a.owner))
            .map(|(id, a, _)| (a.name.clone(), id))
            .collect();
        ids.sort();
        ids.into_iter()
            .map(|(_, id)| self.account_file(id))
            .collect()
    }

    /// The files of `scope` as CSV for `audience` (`crate::export`).
    pub fn export_accounts(&self, scope: &Scope, audience: Audience) -> Result<Vec<u8>> {
        export::accounts_csv(&self.files_of(scope)?, audience)
    }

    /// The contacts of one file, or of every file of `scope`, as vCard 4.0.
    pub fn export_vcard(&self, account: Option<DocId>, scope: &Scope) -> Result<String> {
        let files = match account {
            Some(id) => vec![self.account_file(id)?],
            None => self.files_of(scope)?,
        };
        let cards: Vec<Card> = files
            .iter()
            .flat_map(|f| {
                f.contacts.iter().map(|c| Card {
                    uid: Some(c.id.clone()),
                    name: c.name.clone(),
                    org: Some(f.account.name.clone()),
                    role: c.role.clone(),
                    phone: c.phone.clone(),
                    mobile: c.mobile.clone(),
                    email: c.email.clone(),
                    notes: (!c.notes.is_empty()).then(|| c.notes.clone()),
                })
            })
            .collect();
        Ok(vcard::write(&cards))
    }

    /// Adds the contacts of a vCard file: to `account`, else to the file
    /// whose name is the card's company (ORG), created when there is none.
    /// A contact the file already has (same name or email) is skipped.
    pub fn import_vcard(&mut self, text: &str, account: Option<DocId>) -> Result<VcardReport> {
        let cards = vcard::parse(text)?;
        if let Some(id) = account {
            self.require_account(id)?;
        }
        let mut by_name: HashMap<String, Vec<DocId>> = HashMap::new();
        for (id, a, _) in self.index.accounts() {
            by_name.entry(name_key(&a.name)).or_default().push(id);
        }
        let mut report = VcardReport::default();
        for (i, card) in cards.into_iter().enumerate() {
            let n = i + 1;
            if card.name.trim().is_empty() {
                report.rejected.push((n, "no name (FN or N)".into()));
                continue;
            }
            let target = match (account, &card.org) {
                (Some(id), _) => id,
                (None, Some(org)) => match by_name.get(&name_key(org)).map(Vec::as_slice) {
                    Some([one]) => *one,
                    Some(_) => {
                        report
                            .rejected
                            .push((n, format!("several files are named {org:?}")));
                        continue;
                    }
                    None => {
                        let id = self.create_account(&[("name", org.clone())])?;
                        by_name.entry(name_key(org)).or_default().push(id);
                        report.accounts_created += 1;
                        id
                    }
                },
                (None, None) => {
                    report
                        .rejected
                        .push((n, "no company (ORG) and no account given".into()));
                    continue;
                }
            };
            let known: Vec<(String, Option<String>)> = self
                .index
                .get(target)
                .map(import::contacts_in)
                .unwrap_or_default()
                .into_iter()
                .map(|(n, e)| (fold(&n), e))
                .collect();
            let email = card.email.as_ref().map(|e| e.trim().to_lowercase());
            if import::knows_contact(&known, &fold(&card.name), email.as_deref()) {
                report.duplicates += 1;
                continue;
            }
            let phone = |p: &Option<String>| {
                p.as_ref()
                    .map(|p| phone_e164(p).unwrap_or_else(|| p.trim().to_string()))
            };
            let fields: Vec<(&str, String)> = [
                ("name", Some(card.name.trim().to_string())),
                ("role", card.role.clone()),
                ("phone", phone(&card.phone)),
                ("mobile", phone(&card.mobile)),
                ("email", email),
                ("notes", card.notes.clone()),
            ]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
            match self.add_contact(target, &fields) {
                Ok(_) => report.contacts_added += 1,
                Err(CoreError::Invalid(e)) => report.rejected.push((n, e.message_fr())),
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }
}

/// Everything a customer file holds about one person (their right of
/// access): the contact, what names them, what was sent to them, and the
/// history of their record.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PersonData {
    pub account_id: DocId,
    pub account: String,
    pub contact: crate::model::Contact,
    pub deals: Vec<crate::model::Deal>,
    pub actions: Vec<crate::model::Action>,
    /// Notes that name them.
    pub notes: Vec<crate::model::Note>,
    pub emails: Vec<crate::model::Email>,
    /// Changes to their record: who, when, what.
    pub history: Vec<crate::doc::HistoryEntry>,
}

impl<S: Store> Device<S> {
    /// What this device holds about the contact `contact` (an id).
    pub fn person_data(&self, contact: &str) -> Result<PersonData> {
        let contact = contact.trim();
        let doc = self.account_of(contact)?;
        let file = self.account_file(doc)?;
        let c = file
            .contacts
            .iter()
            .find(|c| c.id == contact)
            .cloned()
            .ok_or_else(|| ValidationError::Rule(format!("no contact {contact}")))?;
        let name = fold(&c.name);
        let email = c.email.clone();
        let prefix = format!("contacts/{contact}/");
        let history = self
            .history(doc)?
            .into_iter()
            .filter_map(|mut h| {
                h.changes.retain(|ch| ch.path.starts_with(&prefix));
                (!h.changes.is_empty()).then_some(h)
            })
            .collect();
        Ok(PersonData {
            account_id: doc,
            account: file.account.name.clone(),
            deals: file
                .deals
                .into_iter()
                .filter(|d| d.contact.as_deref() == Some(contact))
                .collect(),
            actions: file
                .actions
                .into_iter()
                .filter(|a| a.contact.as_deref() == Some(contact))
                .collect(),
            notes: file
                .notes
                .into_iter()
                .filter(|n| !name.is_empty() && fold(&n.body).contains(&name))
                .collect(),
            emails: file
                .emails
                .into_iter()
                .filter(|e| {
                    email
                        .as_deref()
                        .is_some_and(|m| e.to.eq_ignore_ascii_case(m))
                })
                .collect(),
            history,
            contact: c,
        })
    }
}

/// A vCard file read from disk, bounded before it is read.
pub fn read_vcard_file(path: &std::path::Path) -> Result<String> {
    let bytes = import::read_bounded(path, vcard::MAX_BYTES as u64, || {
        format!("more than {} MB", vcard::MAX_BYTES >> 20)
    })?;
    String::from_utf8(bytes)
        .map_err(|_| ValidationError::Rule("vCard: the file is not UTF-8".into()).into())
}
