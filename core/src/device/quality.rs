//! Keeping the file true on the device: importing a CSV, duplicate checks
//! (at creation, offline, against the device's copy), and the groups of
//! duplicates among the files it holds.

use std::io::Read;

use serde::Serialize;

use super::{Device, NewFile};
use crate::dedup::{self, Keys, Reason};
use crate::error::Result;
use crate::ids::DocId;
use crate::import::{self, Fields, Held, Overrides, Report};
use crate::ops;
use crate::store::{Batch, Durability, Store};

const META_IMPORT_MAPPING: &str = "import-mapping";

/// A file a new one would duplicate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DuplicateHit {
    pub id: DocId,
    pub name: String,
    pub postcode: Option<String>,
    pub city: Option<String>,
    pub reason: Reason,
}

/// The device's side of an import: new files are held, then stored in
/// groups of `GROUP_FILES` (or `GROUP_BYTES`), each group one store batch.
/// A contact for a held file is built into it (`import::Held`); one for a
/// file stored before is an edit of it.
struct DeviceSink<'a, S: Store> {
    device: &'a mut Device<S>,
    held: Held<NewFile>,
}

const GROUP_FILES: usize = 256;
const GROUP_BYTES: usize = 4 << 20;

impl<S: Store> DeviceSink<'_, S> {
    fn store_group(&mut self) -> Result<()> {
        if self.held.is_empty() {
            return Ok(());
        }
        self.device.store_new(self.held.take())
    }
}

impl<S: Store> import::Sink for DeviceSink<'_, S> {
    fn create(&mut self, account: &Fields, contacts: &[Fields]) -> Result<DocId> {
        let id = DocId::new();
        let file = self.device.plan_account(id, account, contacts)?;
        self.held.push(id, account, contacts, file);
        let bytes: usize = self.held.files().map(NewFile::size).sum();
        if self.held.len() >= GROUP_FILES || bytes >= GROUP_BYTES {
            self.store_group()?;
        }
        Ok(id)
    }

    fn add_contact(&mut self, account: DocId, contact: &Fields) -> Result<()> {
        let device = &mut *self.device;
        match self
            .held
            .add_contact(account, contact, |id, a, c| device.plan_account(id, a, c))
        {
            Some(built) => built,
            None => device.add_contact(account, contact).map(|_| ()),
        }
    }

    fn contacts_of(&mut self, account: DocId) -> Vec<(String, Option<String>)> {
        // The index, not the held files: only files there before the
        // import are asked for.
        self.device
            .index
            .get(account)
            .map(import::contacts_in)
            .unwrap_or_default()
    }
}

impl<S: Store> Device<S> {
    /// Imports accounts and contacts from a CSV (`crate::import`). Writes
    /// are buffered and flushed once at the end, before the report says
    /// they are saved; `overrides` also become the saved mapping when not
    /// empty (`import_mapping`).
    pub fn import_accounts(
        &mut self,
        input: impl Read,
        overrides: &Overrides,
        opts: &import::Options,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Report> {
        let mut mapping = self.import_mapping();
        mapping.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
        let existing = import::existing_in(&self.index);
        let vocab = self.settings().vocab();
        let before = self.durability;
        self.durability = Durability::Buffered;
        let mut sink = DeviceSink {
            device: self,
            held: Held::default(),
        };
        let out = import::accounts(input, &mapping, &vocab, existing, &mut sink, opts, progress)
            .and_then(|report| sink.store_group().map(|()| report));
        self.durability = before;
        let report = out?;
        if !opts.dry_run {
            if !overrides.is_empty() {
                let mut b = Batch::new();
                b.put_meta(
                    META_IMPORT_MAPPING,
                    serde_json::to_vec(&mapping).unwrap_or_default(),
                );
                self.store.write(b, Durability::Buffered)?;
            }
            self.flush()?;
        }
        Ok(report)
    }

    /// Marks the files a list of returned mail names (`bounced`: a list of
    /// bounced email addresses), from a CSV (`import::returned`).
    pub fn import_returned(
        &mut self,
        input: impl Read,
        bounced: bool,
    ) -> Result<import::returned::ReturnedReport> {
        let existing = import::existing_in(&self.index);
        let field = if bounced {
            "email_bounced"
        } else {
            "returned_mail"
        };
        let marked: std::collections::HashSet<DocId> = self
            .index
            .accounts()
            .filter(|(_, a, _)| {
                if bounced {
                    a.email_bounced
                } else {
                    a.returned_mail
                }
            })
            .map(|(id, _, _)| id)
            .collect();
        import::returned::returned(input, existing, |id| marked.contains(&id), &mut |id| {
            self.set_account_field(id, field, "yes")
        })
    }

    /// The column mapping saved by the last import given one.
    pub fn import_mapping(&self) -> Overrides {
        self.store
            .meta(META_IMPORT_MAPPING)
            .ok()
            .flatten()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// The files this device holds that an account with `fields` (as typed
    /// for `create_account`) would duplicate, strongest reason first: what
    /// to warn about before creating it, offline too.
    pub fn duplicates_of(&self, fields: &[(&str, String)]) -> Vec<DuplicateHit> {
        let mut ix = dedup::DupIndex::new();
        for (id, a, _) in self.index.accounts() {
            ix.insert(id, &Keys::of_row(a));
        }
        ix.find(&Keys::of_fields(fields))
            .into_iter()
            .filter_map(|(id, reason)| {
                let a = self.index.get(id)?.account.as_ref()?;
                Some(DuplicateHit {
                    id,
                    name: a.name.clone(),
                    postcode: a.postcode.clone(),
                    city: a.city.clone(),
                    reason,
                })
            })
            .collect()
    }

    /// Records that key fields of a customer file were checked today
    /// (`ops::VERIFIABLE`; all of them when `fields` is empty).
    pub fn verify_account(&mut self, account: DocId, fields: &[String]) -> Result<()> {
        self.require_account(account)?;
        self.edit(account, |d, ctx| ops::verify(d, ctx, fields))
    }

    /// Marks the address as returned by the post ("n'habite pas à
    /// l'adresse indiquée"), or clears the mark; editing the address
    /// clears it too.
    pub fn mark_returned_mail(&mut self, account: DocId, returned: bool) -> Result<()> {
        self.set_account_field(
            account,
            "returned_mail",
            if returned { "yes" } else { "no" },
        )
    }

    /// Marks the account's email as bouncing, or clears the mark.
    pub fn mark_email_bounced(&mut self, account: DocId, bounced: bool) -> Result<()> {
        self.set_account_field(account, "email_bounced", if bounced { "yes" } else { "no" })
    }

    /// Files of `scope` with key fields to check, visits planned first.
    pub fn stale_accounts(
        &self,
        scope: &crate::reports::Scope,
        limit: usize,
    ) -> Vec<crate::reports::StaleAccount> {
        crate::reports::stale_accounts(&self.index, scope, self.today(), limit)
    }

    /// Share of key fields not verified for over a year, and the files
    /// mail or email could not reach.
    pub fn data_quality(&self, scope: &crate::reports::Scope) -> crate::reports::Quality {
        crate::reports::quality(&self.index, scope, self.today())
    }

    /// Prospects of `scope` with no contact for three years: to re-ask
    /// their consent or erase.
    pub fn dormant_prospects(&self, scope: &crate::reports::Scope) -> Vec<crate::reports::Dormant> {
        crate::reports::dormant_prospects(&self.index, scope, self.today())
    }

    /// Groups of files this device holds that look like one company.
    pub fn duplicate_groups(&self) -> Vec<dedup::Group<DocId>> {
        dedup::groups_in(&self.index)
    }
}
