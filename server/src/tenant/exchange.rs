//! One document's turn in a sync exchange with one connection, and whole
//! document fetches. Incoming changes are applied to a fork of the document
//! and judged there (`judge`: shape, schema, read-only fields, numbers, and
//! the authorization decision on what the change produces) on the blocking
//! pool; only an accepted fork replaces the document, is stored durably,
//! and is acknowledged.
//!
//! A document the user may not see takes exactly the path of one that does
//! not exist (`Standing::Absent`): same checks, same replies, same words.
//! A document the device lost in this session (`Standing::Graced`) takes
//! the device's own pending edits, and nothing new goes back to it.

use std::time::Instant;

use automerge::sync::{self, SyncDoc};
use automerge::{AutoCommit, ChangeHash, ReadDoc};
use carnet_core::doc::chunks;
use carnet_core::index::DocRows;
use carnet_core::store::Store;
use carnet_core::sync::message::{self as sync_message, MAX_HEADS};
use carnet_core::{DocId, DocKind};

use super::erase::ERASED_REASON;
use super::judge::{Accepted, Before, Judge};
use super::{Meta, Result, Slot, Tenant};
use crate::acl::NOT_PERMITTED;

/// Most bytes of sync messages one connection may pour into a document it
/// is creating before its history is complete.
pub const MAX_PHANTOM_BYTES: usize = 16 * 1024 * 1024;

/// A document a device is creating through Automerge sync messages whose
/// dependencies have not all arrived yet (per connection).
#[derive(Default)]
pub struct Phantom {
    am: AutoCommit,
    bytes: usize,
}

pub type Phantoms = std::collections::HashMap<DocId, Phantom>;

/// Whole documents found (id, stored bytes), and the ids reported missing.
pub type Fetched = (Vec<(DocId, Vec<u8>)>, Vec<DocId>);

#[derive(Debug, Default)]
pub struct DocOutcome {
    /// The server's next sync message (empty: nothing more to say).
    pub reply: Vec<u8>,
    /// Heads durably stored, when this turn stored changes.
    pub ack: Option<Vec<[u8; 32]>>,
    pub reject: Option<String>,
    /// The document is now known to this device (record the grant).
    pub granted: bool,
    /// The device's copy is of a history an erasure rewrote: it must
    /// replace it (`reject` says so to a device of protocol 1).
    pub replace: bool,
}

/// How the user stands with a document they send something about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Standing {
    Visible,
    /// Lost in this session: the device's own pending edits only.
    Graced,
    /// Missing, or hidden: both answer alike.
    Absent {
        exists: bool,
    },
}

fn generate(am: &mut AutoCommit, state: &mut sync::State) -> Vec<u8> {
    am.sync()
        .generate_sync_message(state)
        .map(|m| m.encode())
        .unwrap_or_default()
}

/// The reply to a device in grace: what the server needs of it, never a
/// change it lacks, and as heads only the device's own that are stored
/// (so the device's exchange ends once its edits are in).
fn grace_reply(am: &mut AutoCommit, state: &sync::State, device_heads: &[ChangeHash]) -> Vec<u8> {
    let mut scratch = state.clone();
    let Some(mut m) = am.sync().generate_sync_message(&mut scratch) else {
        return Vec::new();
    };
    m.changes = Vec::<Vec<u8>>::new().into();
    m.heads = device_heads
        .iter()
        .filter(|h| am.get_change_by_hash(h).is_some())
        .copied()
        .collect();
    m.encode()
}

fn hashes(heads: &[ChangeHash]) -> Vec<[u8; 32]> {
    heads.iter().map(|h| h.0).collect()
}

/// What became of a device's changes on the blocking pool.
enum Step {
    /// Their dependencies are missing: ask for more (or a full exchange).
    More(Box<AutoCommit>),
    Refused(String),
    Accepted(Box<Accepted>),
    /// They build on a history an erasure rewrote.
    Replaced,
}

impl From<Result<Accepted, String>> for Step {
    fn from(judged: Result<Accepted, String>) -> Step {
        match judged {
            Ok(a) => Step::Accepted(Box::new(a)),
            Err(reason) => Step::Refused(reason),
        }
    }
}

impl Before {
    /// The held document as it stands, with its index rows.
    pub(super) fn of(d: &mut carnet_core::doc::CrmDoc, rows: DocRows) -> Before {
        Before {
            kind: d.kind(),
            rows,
            heads: d.heads(),
            numbers: d.numbers(),
        }
    }
}

impl Tenant {
    fn standing(&self, user: &str, slot: &Slot, rows: Option<&DocRows>, grace: bool) -> Standing {
        if slot.doc.is_none() {
            return Standing::Absent { exists: false };
        }
        match rows {
            Some(r) if self.acl().can_see(user, r) => Standing::Visible,
            Some(_) if grace => Standing::Graced,
            _ => Standing::Absent { exists: true },
        }
    }

    pub(super) fn judge(&self, user: &str) -> Judge {
        Judge {
            user: user.to_string(),
            acl: self.acl(),
            vocab: self.vocab(),
        }
    }

    pub async fn exchange(
        &self,
        user: &str,
        state: &mut sync::State,
        phantom: &mut Option<Phantom>,
        doc: DocId,
        msg: &[u8],
        grace: bool,
    ) -> Result<DocOutcome> {
        let started = Instant::now();
        // Counts and Bloom parameters here (cheap); the changes, if any,
        // are verified on the blocking pool before they are applied.
        let message = match sync_message::decode_summary(msg) {
            Ok(m) => m,
            Err(e) => return Ok(DocOutcome::refused(e.to_string())),
        };
        let slot = self.slot(doc).await?;
        let mut slot = slot.lock().await;
        let rows = self.rows(doc);
        let out = match (self.standing(user, &slot, rows.as_ref(), grace), rows) {
            (Standing::Absent { exists }, _) => {
                self.sync_absent(
                    user,
                    &mut slot,
                    state,
                    phantom,
                    doc,
                    message,
                    msg.len(),
                    exists,
                )
                .await?
            }
            (standing, Some(rows)) => {
                let graced = standing == Standing::Graced;
                self.sync_held(user, &mut slot, state, doc, message, rows, graced)
                    .await?
            }
            (_, None) => DocOutcome::default(),
        };
        self.metrics.record_merge(started.elapsed());
        Ok(out)
    }

    /// A sync message about a document the user cannot reach: a creation
    /// in progress, or nothing to tell.
    #[allow(clippy::too_many_arguments)]
    async fn sync_absent(
        &self,
        user: &str,
        slot: &mut Slot,
        state: &mut sync::State,
        phantom: &mut Option<Phantom>,
        doc: DocId,
        message: sync::Message,
        size: usize,
        exists: bool,
    ) -> Result<DocOutcome> {
        let mut ph = phantom.take().unwrap_or_default();
        let refuse = |reason: String, state: &mut sync::State| DocOutcome {
            reject: Some(reason),
            reply: generate(&mut AutoCommit::new(), state),
            ..Default::default()
        };
        if message.changes.is_empty() {
            let _ = ph.am.sync().receive_sync_message(state, message);
            let reply = generate(&mut ph.am, state);
            if ph.bytes > 0 {
                *phantom = Some(ph);
            }
            return Ok(DocOutcome {
                reply,
                ..Default::default()
            });
        }
        ph.bytes += size;
        if ph.bytes > MAX_PHANTOM_BYTES {
            self.metrics.record_reject();
            return Ok(refuse(
                format!("a new document over {MAX_PHANTOM_BYTES} bytes"),
                state,
            ));
        }
        let judge = self.judge(user);
        let mut st = state.clone();
        let mut am = ph.am;
        let step = self
            .on_cpu(move || {
                if let Err(e) = sync_message::verify_changes(&message) {
                    return (Step::Refused(e.to_string()), st);
                }
                if am.sync().receive_sync_message(&mut st, message).is_err() {
                    return (Step::Refused("changes could not be applied".into()), st);
                }
                if am.get_heads().is_empty() || !am.get_missing_deps(&[]).is_empty() {
                    return (Step::More(Box::new(am)), st);
                }
                (judge.create(doc, am).into(), st)
            })
            .await;
        let (step, st) = match step {
            Ok(s) => s,
            Err(refusal) => (Step::Refused(refusal), state.clone()),
        };
        match step {
            // Never made for a document nobody reaches.
            Step::Replaced => Ok(DocOutcome::default()),
            Step::More(mut am) => {
                *state = st;
                let reply = generate(&mut am, state);
                *phantom = Some(Phantom {
                    am: *am,
                    bytes: ph.bytes,
                });
                Ok(DocOutcome {
                    reply,
                    ..Default::default()
                })
            }
            Step::Refused(reason) => {
                self.metrics.record_reject();
                Ok(refuse(reason, state))
            }
            // Hidden: the answer a missing document gets when the user may
            // not create it.
            Step::Accepted(_) if exists => {
                self.metrics.record_reject();
                Ok(refuse(NOT_PERMITTED.into(), state))
            }
            Step::Accepted(acc) => {
                *state = st;
                self.store_new(slot, *acc, user).await?;
                let d = slot.doc.as_mut().ok_or_else(vanished)?;
                self.metrics.record_ack();
                let ack = Some(hashes(&d.heads()));
                Ok(DocOutcome {
                    ack,
                    reply: generate(d.automerge(), state),
                    granted: true,
                    ..Default::default()
                })
            }
        }
    }

    /// A sync message about a document the user holds (or lost in this
    /// session: `graced`).
    #[allow(clippy::too_many_arguments)]
    async fn sync_held(
        &self,
        user: &str,
        slot: &mut Slot,
        state: &mut sync::State,
        doc: DocId,
        message: sync::Message,
        rows: DocRows,
        graced: bool,
    ) -> Result<DocOutcome> {
        let Some(d) = slot.doc.as_mut() else {
            return Ok(DocOutcome::default());
        };
        let device_heads = message.heads.clone();
        let lineage = self.lineage(doc);
        if lineage
            .as_ref()
            .is_some_and(|l| l.clashes(&device_heads, None))
        {
            return Ok(DocOutcome::replaced());
        }
        let reply = |am: &mut AutoCommit, state: &mut sync::State| {
            if graced {
                grace_reply(am, state, &device_heads)
            } else {
                generate(am, state)
            }
        };
        if message.changes.is_empty() {
            // Everything the device has is already stored here (say its
            // earlier upload was stored but the ack lost in a crash): ack it.
            let am = d.automerge();
            let covered = !device_heads.is_empty()
                && device_heads
                    .iter()
                    .all(|h| am.get_change_by_hash(h).is_some());
            let _ = am.sync().receive_sync_message(state, message);
            let ack = covered.then(|| {
                if graced {
                    hashes(&device_heads)
                } else {
                    hashes(&am.get_heads())
                }
            });
            return Ok(DocOutcome {
                reply: reply(am, state),
                ack,
                granted: true,
                ..Default::default()
            });
        }
        let before = Before::of(d, rows);
        let before_heads = before.heads.clone();
        let fork = d.automerge().fork();
        let judge = self.judge(user);
        let mut st = state.clone();
        let verdict = self
            .on_cpu(move || {
                if let Err(e) = sync_message::verify_changes(&message) {
                    return (Err(e.to_string()), st);
                }
                let mut fork = fork;
                let applied = fork.sync().receive_sync_message(&mut st, message);
                match applied {
                    Err(e) => (Err(format!("changes could not be applied: {e}")), st),
                    Ok(()) if lineage.is_some_and(|l| l.clashes(&[], Some(&mut fork))) => {
                        (Err(ERASED_REASON.to_string()), st)
                    }
                    Ok(()) => (judge.update(doc, &before, fork, graced), st),
                }
            })
            .await;
        let (verdict, st) = match verdict {
            Ok(v) => v,
            Err(refusal) => (Err(refusal), state.clone()),
        };
        let acc = match verdict {
            Err(reason) => {
                self.metrics.record_reject();
                tracing::info!(%doc, %user, %reason, "changes rejected");
                if reason == ERASED_REASON {
                    return Ok(DocOutcome::replaced());
                }
                return Ok(DocOutcome {
                    reply: reply(d.automerge(), state),
                    reject: Some(reason),
                    granted: true,
                    ..Default::default()
                });
            }
            Ok(acc) => acc,
        };
        *state = st;
        self.store_update(slot, acc, &before_heads, user).await?;
        let d = slot.doc.as_mut().ok_or_else(vanished)?;
        let am = d.automerge();
        let ack = if graced {
            device_heads
                .iter()
                .all(|h| am.get_change_by_hash(h).is_some())
                .then(|| hashes(&device_heads))
        } else {
            Some(hashes(&am.get_heads()))
        };
        self.metrics.record_ack();
        Ok(DocOutcome {
            reply: reply(am, state),
            ack,
            granted: true,
            ..Default::default()
        })
    }

    /// Stores a document a device created (first snapshot, numbers).
    pub(super) async fn store_new(&self, slot: &mut Slot, acc: Accepted, user: &str) -> Result<()> {
        let Accepted { mut doc, rows } = acc;
        let (meta, renumbered) = self.assign_numbers(&mut doc, user)?;
        slot.doc = Some(doc);
        slot.chunks = 0;
        self.commit(slot, &[], meta, (!renumbered).then_some(rows))
            .await?;
        Ok(())
    }

    /// Replaces the held document with an accepted fork and stores what it
    /// adds (nothing when the device's changes were all known).
    pub(super) async fn store_update(
        &self,
        slot: &mut Slot,
        acc: Accepted,
        before: &[ChangeHash],
        user: &str,
    ) -> Result<()> {
        let Accepted { mut doc, rows } = acc;
        let (meta, renumbered) = self.assign_numbers(&mut doc, user)?;
        let changed = doc.heads() != before;
        slot.doc = Some(doc);
        if changed {
            self.commit(slot, before, meta, (!renumbered).then_some(rows))
                .await?;
        }
        Ok(())
    }

    /// Gives every quote and order without a final number the next number
    /// of the user's own gap-free series, as a change authored by the
    /// server. Each user has a series (`DEV-2026-03-00012` is the twelfth
    /// quote of series 03), so a number tells a rep nothing about how many
    /// quotes others made. Returns the counter entries to store with the
    /// change, and whether the document changed.
    fn assign_numbers(&self, d: &mut carnet_core::doc::CrmDoc, user: &str) -> Result<(Meta, bool)> {
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
            return Ok((Vec::new(), false));
        }
        let settings = self
            .singleton(DocKind::Settings)
            .and_then(|id| self.store.load(id).ok().flatten().map(|s| (id, s)))
            .and_then(|(id, s)| carnet_core::doc::CrmDoc::load(id, &s.bytes).ok())
            .map(|d| carnet_core::model::Settings::read(&d));
        let (qp, op) = settings
            .map(|s| (s.quote_prefix, s.order_prefix))
            .unwrap_or(("DEV".into(), "CMD".into()));
        let year = chrono::Utc::now().format("%Y").to_string();
        let (series, mut meta) = self.series_of(user);
        let w = self.server_writer();
        d.begin(&w);
        for (container, id) in missing {
            let (prefix, counter) = if container == "quotes" {
                (&qp, format!("quote/{year}/{series}"))
            } else {
                (&op, format!("order/{year}/{series}"))
            };
            let Some(obj) = d.record(&[container.as_str()], &id) else {
                continue;
            };
            let (n, entry) = self.next_counter(&counter);
            automerge::transaction::Transactable::put(
                d.automerge(),
                &obj,
                "number",
                format!("{prefix}-{year}-{series}-{n:05}"),
            )
            .map_err(carnet_core::CoreError::from)?;
            meta.push(entry);
        }
        d.commit(&w);
        Ok((meta, true))
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

fn vanished() -> super::TenantError {
    super::TenantError::Invalid("document vanished".into())
}

impl DocOutcome {
    fn refused(reason: String) -> DocOutcome {
        DocOutcome {
            reject: Some(reason),
            ..Default::default()
        }
    }

    fn replaced() -> DocOutcome {
        DocOutcome {
            reject: Some(ERASED_REASON.to_string()),
            granted: true,
            replace: true,
            ..Default::default()
        }
    }
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
    /// As `DocOutcome::replace`.
    pub replace: bool,
}

impl UpOutcome {
    fn refused(reason: impl Into<String>) -> UpOutcome {
        UpOutcome {
            reject: Some(reason.into()),
            ..Default::default()
        }
    }

    fn replaced() -> UpOutcome {
        UpOutcome {
            reject: Some(ERASED_REASON.to_string()),
            granted: true,
            replace: true,
            ..Default::default()
        }
    }

    fn resync(granted: bool) -> UpOutcome {
        UpOutcome {
            resync: true,
            granted,
            ..Default::default()
        }
    }
}

impl Tenant {
    /// The star-topology fast path for one document: apply the device's
    /// changes (judged on a fork, as in `exchange`), acknowledge them once
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
        if heads.len() > MAX_HEADS {
            return Ok(UpOutcome::refused(format!(
                "{} heads (at most {MAX_HEADS})",
                heads.len()
            )));
        }
        let heads: Vec<ChangeHash> = heads.iter().map(|h| ChangeHash(*h)).collect();
        let slot = self.slot(doc).await?;
        let mut slot = slot.lock().await;
        let rows = self.rows(doc);
        let standing = self.standing(user, &slot, rows.as_ref(), grace);
        let step = match (standing, rows) {
            (Standing::Absent { .. }, _) if changes.is_empty() => {
                // The device has a document we do not: let it send all.
                return Ok(UpOutcome::resync(false));
            }
            (Standing::Absent { exists }, _) => {
                let judge = self.judge(user);
                let bytes = changes.to_vec();
                let step = self
                    .on_cpu(move || {
                        // `load` is strict: only the inflation bound first.
                        if let Err(e) = chunks::check_inflation(&bytes) {
                            return Step::Refused(format!("malformed changes: {e}"));
                        }
                        let am = match AutoCommit::load(&bytes) {
                            Ok(am) => am,
                            Err(e) => return Step::Refused(format!("malformed changes: {e}")),
                        };
                        if !am.get_missing_deps(&[]).is_empty() {
                            return Step::More(Box::new(am));
                        }
                        judge.create(doc, am).into()
                    })
                    .await
                    .unwrap_or_else(Step::Refused);
                match step {
                    Step::More(_) | Step::Replaced => return Ok(UpOutcome::resync(false)),
                    Step::Refused(reason) => {
                        self.metrics.record_reject();
                        return Ok(UpOutcome::refused(reason));
                    }
                    Step::Accepted(_) if exists => {
                        self.metrics.record_reject();
                        return Ok(UpOutcome::refused(NOT_PERMITTED));
                    }
                    Step::Accepted(acc) => {
                        self.store_new(&mut slot, *acc, user).await?;
                        None
                    }
                }
            }
            (_, None) => return Ok(UpOutcome::default()),
            (standing, Some(rows)) => {
                let graced = standing == Standing::Graced;
                let lineage = self.lineage(doc);
                if lineage.as_ref().is_some_and(|l| l.clashes(&heads, None)) {
                    return Ok(UpOutcome::replaced());
                }
                if changes.is_empty() {
                    Some(graced)
                } else {
                    let Some(d) = slot.doc.as_mut() else {
                        return Ok(UpOutcome::default());
                    };
                    let before = Before::of(d, rows);
                    let before_heads = before.heads.clone();
                    let fork = d.automerge().fork();
                    let judge = self.judge(user);
                    let bytes = changes.to_vec();
                    let step = self
                        .on_cpu(move || {
                            if let Err(e) = chunks::verify(&bytes) {
                                return Step::Refused(format!("malformed changes: {e}"));
                            }
                            let mut fork = fork;
                            if fork.load_incremental(&bytes).is_err() {
                                return Step::Refused("changes could not be applied".into());
                            }
                            if lineage.is_some_and(|l| l.clashes(&[], Some(&mut fork))) {
                                return Step::Replaced;
                            }
                            if !fork.get_missing_deps(&[]).is_empty() {
                                // We lack history the device assumed we had.
                                return Step::More(Box::new(fork));
                            }
                            judge.update(doc, &before, fork, graced).into()
                        })
                        .await
                        .unwrap_or_else(Step::Refused);
                    match step {
                        Step::Replaced => return Ok(UpOutcome::replaced()),
                        Step::More(_) => return Ok(UpOutcome::resync(true)),
                        Step::Refused(reason) => {
                            self.metrics.record_reject();
                            tracing::info!(%doc, %user, %reason, "changes rejected");
                            return Ok(UpOutcome {
                                reject: Some(reason),
                                granted: true,
                                ..Default::default()
                            });
                        }
                        Step::Accepted(acc) => {
                            self.store_update(&mut slot, *acc, &before_heads, user)
                                .await?;
                            Some(graced)
                        }
                    }
                }
            }
        };
        let graced = step.unwrap_or(false);
        let d = slot.doc.as_mut().ok_or_else(vanished)?;
        let am = d.automerge();
        let known = heads.iter().all(|h| am.get_change_by_hash(h).is_some());
        let out = if !known {
            UpOutcome::resync(true)
        } else if graced {
            // Acknowledge the device's own edits; send it nothing new.
            self.metrics.record_ack();
            UpOutcome {
                ack: Some(hashes(&heads)),
                granted: true,
                ..Default::default()
            }
        } else {
            self.metrics.record_ack();
            UpOutcome {
                down: if am.get_heads() == heads {
                    Vec::new()
                } else {
                    d.changes_since(&heads)
                },
                ack: Some(hashes(&d.heads())),
                granted: true,
                ..Default::default()
            }
        };
        self.metrics.record_merge(started.elapsed());
        Ok(out)
    }
}
