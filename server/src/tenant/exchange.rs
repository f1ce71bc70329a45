//! One document's turn in a sync exchange with one connection, and whole
//! document fetches. Incoming changes are applied to a fork of the document
//! and validated there (schema, access rights, server-assigned fields);
//! only an accepted fork replaces the document, is stored durably, and is
//! acknowledged. A document the user may not see answers exactly like one
//! that does not exist.

use std::time::Instant;

use automerge::sync::{self, SyncDoc};
use automerge::transaction::Transactable;
use automerge::AutoCommit;
use carnet_core::doc::CrmDoc;
use carnet_core::index::DocRows;
use carnet_core::store::Store;
use carnet_core::{DocId, DocKind};

use super::{Result, Slot, Tenant};

/// Stand-in empty documents, per connection, for ids the user may not see
/// or that do not exist yet.
pub type Phantoms = std::collections::HashMap<DocId, AutoCommit>;

/// Whole documents found (id, stored bytes), and the ids reported missing.
pub type Fetched = (Vec<(DocId, Vec<u8>)>, Vec<DocId>);

pub const NOT_PERMITTED: &str = "document not found or not permitted";
const NUMBERS_BY_SERVER: &str = "quote and order numbers are assigned by the server";

#[derive(Debug, Default)]
pub struct DocOutcome {
    /// The server's next sync message (empty: nothing more to say).
    pub reply: Vec<u8>,
    /// Heads durably stored, when this turn stored changes.
    pub ack: Option<Vec<[u8; 32]>>,
    pub reject: Option<String>,
    /// The document is now known to this device (record the grant).
    pub granted: bool,
}

fn generate(am: &mut AutoCommit, state: &mut sync::State) -> Vec<u8> {
    am.sync()
        .generate_sync_message(state)
        .map(|m| m.encode())
        .unwrap_or_default()
}

impl Tenant {
    pub async fn exchange(
        &self,
        user: &str,
        state: &mut sync::State,
        phantom: &mut Option<AutoCommit>,
        doc: DocId,
        msg: &[u8],
        grace: bool,
    ) -> Result<DocOutcome> {
        let started = Instant::now();
        let message = match sync::Message::decode(msg) {
            Ok(m) => m,
            Err(e) => {
                return Ok(DocOutcome {
                    reject: Some(format!("malformed sync message: {e}")),
                    ..Default::default()
                })
            }
        };
        let has_changes = !message.changes.is_empty();
        let slot = self.slot(doc).await?;
        let mut slot = slot.lock().await;
        let acl = self.acl();
        let rows = self.rows(doc);
        // `grace`: the device lost this document in this session and may
        // still push the edits it made while it had it.
        let visible =
            slot.doc.is_some() && (grace || rows.as_ref().is_some_and(|r| acl.can_see(user, r)));
        if !visible {
            let exists = slot.doc.is_some();
            let out = if has_changes && !exists {
                self.create_from_device(user, &mut slot, state, phantom, doc, message)
                    .await?
            } else if has_changes {
                DocOutcome {
                    reject: Some(NOT_PERMITTED.into()),
                    reply: generate(phantom.get_or_insert_with(AutoCommit::new), state),
                    ..Default::default()
                }
            } else {
                let ph = phantom.get_or_insert_with(AutoCommit::new);
                let _ = ph.sync().receive_sync_message(state, message);
                DocOutcome {
                    reply: generate(ph, state),
                    ..Default::default()
                }
            };
            self.metrics.record_merge(started.elapsed());
            return Ok(out);
        }

        let Some(d) = slot.doc.as_mut() else {
            return Ok(DocOutcome::default());
        };
        if !has_changes {
            // Everything the device has is already stored here (say its
            // earlier upload was stored but the ack lost in a crash): ack it.
            let am = d.automerge();
            let covered = !message.heads.is_empty()
                && message
                    .heads
                    .iter()
                    .all(|h| am.get_change_by_hash(h).is_some());
            let _ = am.sync().receive_sync_message(state, message);
            let reply = generate(am, state);
            let ack = covered.then(|| am.get_heads().iter().map(|h| h.0).collect());
            return Ok(DocOutcome {
                reply,
                ack,
                granted: true,
                ..Default::default()
            });
        }
        let writable = grace || rows.as_ref().is_some_and(|r| acl.can_write(user, r));
        let before = d.heads();
        let numbers_before = d.numbers();
        let mut fork = d.automerge().fork();
        let mut st = state.clone();
        let applied = fork.sync().receive_sync_message(&mut st, message);
        let verdict = match applied {
            Err(e) => Err(format!("changes could not be applied: {e}")),
            Ok(()) => CrmDoc::from_automerge(doc, fork)
                .and_then(|c| self.vet_update(d.kind(), writable, &numbers_before, c)),
        };
        let out = match verdict {
            Err(reason) => {
                self.metrics.record_reject();
                tracing::info!(%doc, %user, %reason, "changes rejected");
                DocOutcome {
                    reply: generate(d.automerge(), state),
                    reject: Some(reason),
                    granted: true,
                    ..Default::default()
                }
            }
            Ok(candidate) => {
                *d = candidate;
                *state = st;
                let meta = self.assign_numbers(d)?;
                let changed = d.heads() != before;
                let ack = if changed {
                    self.commit(&mut slot, &before, meta).await?;
                    let d = slot
                        .doc
                        .as_mut()
                        .ok_or_else(|| super::TenantError::Invalid("document vanished".into()))?;
                    Some(d.heads().iter().map(|h| h.0).collect())
                } else {
                    Some(before.iter().map(|h| h.0).collect())
                };
                let d = slot
                    .doc
                    .as_mut()
                    .ok_or_else(|| super::TenantError::Invalid("document vanished".into()))?;
                self.metrics.record_ack();
                DocOutcome {
                    reply: generate(d.automerge(), state),
                    ack,
                    granted: true,
                    ..Default::default()
                }
            }
        };
        self.metrics.record_merge(started.elapsed());
        Ok(out)
    }

    /// A device creates a document offline (a new customer file): accepted
    /// if it is valid and the user may see and write what it creates.
    async fn create_from_device(
        &self,
        user: &str,
        slot: &mut Slot,
        state: &mut sync::State,
        phantom: &mut Option<AutoCommit>,
        doc: DocId,
        message: sync::Message,
    ) -> Result<DocOutcome> {
        let mut fork = phantom.take().unwrap_or_default();
        let mut st = state.clone();
        let refuse =
            |reason: &str, ph: &mut Option<AutoCommit>, state: &mut sync::State| DocOutcome {
                reject: Some(reason.to_string()),
                reply: generate(ph.get_or_insert_with(AutoCommit::new), state),
                ..Default::default()
            };
        if fork.sync().receive_sync_message(&mut st, message).is_err() {
            return Ok(refuse("changes could not be applied", phantom, state));
        }
        if fork.get_heads().is_empty() {
            // Changes whose dependencies have not arrived yet: ask for more.
            let reply = generate(&mut fork, &mut st);
            *state = st;
            *phantom = Some(fork);
            return Ok(DocOutcome {
                reply,
                ..Default::default()
            });
        }
        let mut candidate = match CrmDoc::from_automerge(doc, fork) {
            Ok(c) => c,
            Err(e) => {
                return Ok(refuse(
                    &format!("not a valid document: {e}"),
                    phantom,
                    state,
                ))
            }
        };
        if let Err(reason) = self.vet_new(user, &mut candidate)? {
            self.metrics.record_reject();
            return Ok(refuse(&reason, phantom, state));
        }
        let meta = self.assign_numbers(&mut candidate)?;
        slot.doc = Some(candidate);
        slot.chunks = 0;
        *state = st;
        self.commit(slot, &[], meta).await?;
        let d = slot
            .doc
            .as_mut()
            .ok_or_else(|| super::TenantError::Invalid("document vanished".into()))?;
        self.metrics.record_ack();
        Ok(DocOutcome {
            ack: Some(d.heads().iter().map(|h| h.0).collect()),
            reply: generate(d.automerge(), state),
            granted: true,
            ..Default::default()
        })
    }

    /// A device's version of a document it may hold: it may write it, it
    /// changed no server-assigned number, and it passes the schema.
    fn vet_update(
        &self,
        kind: DocKind,
        writable: bool,
        numbers_before: &[(String, Option<String>)],
        candidate: CrmDoc,
    ) -> std::result::Result<CrmDoc, String> {
        if !writable {
            Err(format!("{kind} is read-only for you"))
        } else if !numbers_unchanged(numbers_before, &candidate) {
            Err(NUMBERS_BY_SERVER.into())
        } else {
            candidate.check(&self.vocab()).map(|()| candidate)
        }
    }

    /// A document a device created offline: a customer file (or a plan)
    /// the user may see and write, valid, without server-assigned numbers.
    /// The outer error is a server failure; the inner one a refusal.
    fn vet_new(
        &self,
        user: &str,
        candidate: &mut CrmDoc,
    ) -> Result<std::result::Result<(), String>> {
        let acl = self.acl();
        let rows = DocRows::of(candidate)?;
        let allowed = matches!(candidate.kind(), DocKind::Account | DocKind::Plan)
            && acl.can_see(user, &rows)
            && acl.can_write(user, &rows);
        Ok(if !allowed {
            Err(NOT_PERMITTED.into())
        } else if let Err(reason) = candidate.check(&self.vocab()) {
            Err(reason)
        } else if candidate.numbers().iter().any(|(_, n)| n.is_some()) {
            Err(NUMBERS_BY_SERVER.into())
        } else {
            Ok(())
        })
    }

    /// Gives every quote and order without a final number the next number
    /// of the tenant's gap-free counter, as a change authored by the server.
    /// Returns the counter entries to store with the change.
    fn assign_numbers(&self, d: &mut CrmDoc) -> Result<Vec<(String, Vec<u8>)>> {
        let missing: Vec<(String, String)> = d
            .numbers()
            .into_iter()
            .filter(|(_, n)| n.is_none())
            .filter_map(|(path, _)| {
                let (container, id) = path.split_once('/')?;
                Some((container.to_string(), id.to_string()))
            })
            .collect();
        if missing.is_empty() {
            return Ok(Vec::new());
        }
        let settings = self
            .singleton(DocKind::Settings)
            .and_then(|id| self.store.load(id).ok().flatten().map(|s| (id, s)))
            .and_then(|(id, s)| CrmDoc::load(id, &s.bytes).ok())
            .map(|d| carnet_core::model::Settings::read(&d));
        let (qp, op) = settings
            .map(|s| (s.quote_prefix, s.order_prefix))
            .unwrap_or(("DEV".into(), "CMD".into()));
        let year = chrono::Utc::now().format("%Y").to_string();
        let w = self.server_writer();
        d.begin(&w);
        let mut meta = Vec::new();
        for (container, id) in missing {
            let (prefix, counter) = if container == "quotes" {
                (&qp, format!("quote/{year}"))
            } else {
                (&op, format!("order/{year}"))
            };
            let (n, entry) = self.next_counter(&counter);
            let Some(obj) = d.record(&[container.as_str()], &id) else {
                continue;
            };
            d.automerge()
                .put(&obj, "number", format!("{prefix}-{year}-{n:05}"))
                .map_err(carnet_core::CoreError::from)?;
            meta.push(entry);
        }
        d.commit(&w);
        Ok(meta)
    }

    /// Whole documents for a device that has none of them; ids the user may
    /// not see are reported missing, like ids that do not exist.
    pub fn fetch(&self, user: &str, docs: &[DocId]) -> Result<Fetched> {
        let acl = self.acl();
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for doc in docs {
            let visible = self.rows(*doc).is_some_and(|r| acl.can_see(user, &r));
            match (
                visible,
                if visible {
                    self.store.load(*doc)?
                } else {
                    None
                },
            ) {
                (true, Some(stored)) => found.push((*doc, stored.bytes)),
                _ => missing.push(*doc),
            }
        }
        Ok((found, missing))
    }
}

/// The device changed no number: existing records keep theirs, new ones
/// come without (the server assigns them).
fn numbers_unchanged(before: &[(String, Option<String>)], after: &CrmDoc) -> bool {
    after
        .numbers()
        .iter()
        .all(|(path, n)| match before.iter().find(|(p, _)| p == path) {
            Some((_, old)) => old == n,
            None => n.is_none(),
        })
}

/// What one document of an `Up` frame comes to.
#[derive(Debug, Default)]
pub struct UpOutcome {
    /// Changes the device lacks (empty: none).
    pub down: Vec<u8>,
    pub ack: Option<Vec<[u8; 32]>>,
    pub reject: Option<String>,
    /// Histories do not line up: the device must run an Automerge exchange.
    pub resync: bool,
    pub granted: bool,
}

impl Tenant {
    /// The star-topology fast path for one document: apply the device's
    /// changes (validated on a fork, as in `exchange`), acknowledge them once
    /// durable, and return what the device lacks after its heads.
    pub async fn up(
        &self,
        user: &str,
        doc: DocId,
        heads: &[[u8; 32]],
        changes: &[u8],
        grace: bool,
    ) -> Result<UpOutcome> {
        let started = Instant::now();
        let heads: Vec<automerge::ChangeHash> =
            heads.iter().map(|h| automerge::ChangeHash(*h)).collect();
        let slot = self.slot(doc).await?;
        let mut slot = slot.lock().await;
        let acl = self.acl();
        let rows = self.rows(doc);
        let exists = slot.doc.is_some();
        let visible = exists && (grace || rows.as_ref().is_some_and(|r| acl.can_see(user, r)));
        let refuse = |reason: &str| UpOutcome {
            reject: Some(reason.to_string()),
            ..Default::default()
        };
        // Parse strictly: damaged bytes are refused whole.
        let parsed = if changes.is_empty() {
            None
        } else {
            match carnet_core::doc::chunks::verify(changes) {
                Ok(()) => Some(changes),
                Err(e) => return Ok(refuse(&format!("malformed changes: {e}"))),
            }
        };
        if exists && !visible {
            self.metrics.record_reject();
            return Ok(refuse(NOT_PERMITTED));
        }
        if !exists {
            let Some(bytes) = parsed else {
                // The device has a document we do not: let it send all.
                return Ok(UpOutcome {
                    resync: true,
                    ..Default::default()
                });
            };
            let mut am = match AutoCommit::load(bytes) {
                Ok(am) => am,
                Err(e) => return Ok(refuse(&format!("malformed changes: {e}"))),
            };
            if !am.get_missing_deps(&[]).is_empty() {
                return Ok(UpOutcome {
                    resync: true,
                    ..Default::default()
                });
            }
            let mut candidate = match CrmDoc::from_automerge(doc, am) {
                Ok(c) => c,
                Err(e) => return Ok(refuse(&format!("not a valid document: {e}"))),
            };
            if let Err(reason) = self.vet_new(user, &mut candidate)? {
                self.metrics.record_reject();
                return Ok(refuse(&reason));
            }
            let meta = self.assign_numbers(&mut candidate)?;
            slot.doc = Some(candidate);
            slot.chunks = 0;
            self.commit(&mut slot, &[], meta).await?;
        } else if let Some(bytes) = parsed {
            let Some(d) = slot.doc.as_mut() else {
                return Ok(UpOutcome::default());
            };
            let writable = grace || rows.as_ref().is_some_and(|r| acl.can_write(user, r));
            let before = d.heads();
            let numbers_before = d.numbers();
            let mut fork = d.automerge().fork();
            if fork.load_incremental(bytes).is_err() {
                return Ok(refuse("changes could not be applied"));
            }
            if !fork.get_missing_deps(&[]).is_empty() {
                // We lack history the device assumed we had.
                return Ok(UpOutcome {
                    resync: true,
                    granted: true,
                    ..Default::default()
                });
            }
            let verdict = CrmDoc::from_automerge(doc, fork)
                .and_then(|c| self.vet_update(d.kind(), writable, &numbers_before, c));
            match verdict {
                Err(reason) => {
                    self.metrics.record_reject();
                    tracing::info!(%doc, %user, %reason, "changes rejected");
                    return Ok(UpOutcome {
                        reject: Some(reason),
                        granted: true,
                        ..Default::default()
                    });
                }
                Ok(candidate) => {
                    *d = candidate;
                    let meta = self.assign_numbers(d)?;
                    if d.heads() != before {
                        self.commit(&mut slot, &before, meta).await?;
                    }
                }
            }
        }
        let d = slot
            .doc
            .as_mut()
            .ok_or_else(|| super::TenantError::Invalid("document vanished".into()))?;
        let am = d.automerge();
        let known = heads.iter().all(|h| am.get_change_by_hash(h).is_some());
        let out = if known {
            self.metrics.record_ack();
            UpOutcome {
                down: if am.get_heads() == heads {
                    Vec::new()
                } else {
                    d.changes_since(&heads)
                },
                ack: Some(d.heads().iter().map(|h| h.0).collect()),
                granted: true,
                ..Default::default()
            }
        } else {
            UpOutcome {
                resync: true,
                granted: true,
                ..Default::default()
            }
        };
        self.metrics.record_merge(started.elapsed());
        Ok(out)
    }
}
