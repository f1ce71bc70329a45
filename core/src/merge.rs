//! Merging two customer files that are one company: every record of the
//! file that goes (contacts, deals, actions, notes, quotes, orders, outbox)
//! is copied into the one that stays under the same ids, the account
//! fields the latter lacks are filled in, and the former is marked merged
//! (it keeps its history and leaves every list). Edits made to the merged
//! file afterwards, by a device that was offline, are carried over by
//! `forward`, which the server runs whenever such a file changes.

use automerge::ChangeHash;

use crate::doc::CrmDoc;
use crate::error::{Result, ValidationError};
use crate::ids::DocKind;
use crate::model::Account;
use crate::schema::RecordKind;

/// The record containers of a customer file.
pub const CONTAINERS: [&str; 7] = [
    "contacts", "deals", "actions", "notes", "quotes", "orders", "emails",
];

/// Account fields a merge never takes from the file that goes.
const KEEP: [&str; 8] = [
    "name",
    "owner",
    "territory",
    "kind",
    "created_at",
    "created_by",
    "merged_into",
    "merged_heads",
];

fn merged_into(doc: &CrmDoc) -> Result<Option<String>> {
    Ok(Account::read(doc)?.merged_into)
}

/// Copies `loser` into `winner`: records it lacks, account fields it has
/// not set (custom fields included). Returns the records copied.
pub fn absorb(winner: &mut CrmDoc, loser: &CrmDoc) -> Result<usize> {
    if winner.kind() != DocKind::Account || loser.kind() != DocKind::Account {
        return Err(ValidationError::Rule("only customer files merge".into()).into());
    }
    if winner.id() == loser.id() {
        return Err(ValidationError::Rule("a file cannot merge into itself".into()).into());
    }
    if merged_into(winner)?.is_some() || merged_into(loser)?.is_some() {
        return Err(ValidationError::Rule("one of the files is already merged".into()).into());
    }
    let mut copied = 0;
    for c in CONTAINERS {
        let have = winner.record_ids(c);
        for id in loser.record_ids(c) {
            if !have.contains(&id) {
                winner.copy_record_from(loser, c, &id)?;
                copied += 1;
            }
        }
    }
    let here = winner.keys_at_path(&["account"]);
    for spec in RecordKind::Account.fields() {
        if KEEP.contains(&spec.name) || here.iter().any(|k| k == spec.name) {
            continue;
        }
        if loser
            .keys_at_path(&["account"])
            .iter()
            .any(|k| k == spec.name)
        {
            winner.copy_key_from(loser, &["account"], spec.name)?;
        }
    }
    let custom_here = winner.keys_at_path(&["account", "custom"]);
    if winner
        .keys_at_path(&["account"])
        .iter()
        .any(|k| k == "custom")
    {
        for k in loser.keys_at_path(&["account", "custom"]) {
            if !custom_here.contains(&k) {
                winner.copy_key_from(loser, &["account", "custom"], &k)?;
            }
        }
    }
    Ok(copied)
}

/// Hex heads, comma-separated, as kept in `merged_heads`.
pub fn heads_text(heads: &[ChangeHash]) -> String {
    heads
        .iter()
        .map(|h| h.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

pub fn parse_heads(text: &str) -> Vec<ChangeHash> {
    text.split(',')
        .filter_map(|h| h.trim().parse().ok())
        .collect()
}

/// Carries into `winner` what changed in `loser` after `since`: records
/// added, and fields of records (and of the account, its identity aside)
/// edited. Returns the fields and records written.
pub fn forward(winner: &mut CrmDoc, loser: &CrmDoc, since: &[ChangeHash]) -> Result<usize> {
    let mut n = 0;
    for c in CONTAINERS {
        let have = winner.record_ids(c);
        for id in loser.record_ids(c) {
            if !have.contains(&id) {
                winner.copy_record_from(loser, c, &id)?;
                n += 1;
                continue;
            }
            for key in loser.keys_at_path(&[c, &id]) {
                if loser.changed_since(&[c, &id], &key, since) {
                    winner.copy_key_from(loser, &[c, &id], &key)?;
                    n += 1;
                }
            }
        }
    }
    for key in loser.keys_at_path(&["account"]) {
        if !KEEP.contains(&key.as_str()) && loser.changed_since(&["account"], &key, since) {
            winner.copy_key_from(loser, &["account"], &key)?;
            n += 1;
        }
    }
    Ok(n)
}

/// Marks `loser` merged into `winner`, as of `heads` (the loser's heads
/// that `absorb` copied): `forward` carries what comes after.
pub fn mark_merged(
    loser: &mut CrmDoc,
    winner: crate::ids::DocId,
    heads: &[ChangeHash],
) -> Result<()> {
    use crate::doc::FieldValue;
    for (key, value) in [
        ("merged_into", winner.to_string()),
        ("merged_heads", heads_text(heads)),
    ] {
        let path = crate::schema::resolve(DocKind::Account, &format!("account/{key}"))?;
        loser.put_field(&path, &FieldValue::Str(value))?;
    }
    Ok(())
}
