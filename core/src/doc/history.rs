//! The history of a document: change by change, which field changed from
//! what to what, who made the change and when. Built from Automerge's own
//! change graph and diffs, so it needs no separate audit log and cannot
//! drift from the data.

use std::collections::BTreeMap;

use automerge::{ObjId, Patch, PatchAction, Prop, ReadDoc, Value};
use serde::Serialize;

use super::value::display_scalar;
use super::CrmDoc;
use crate::schema::{self, FieldType};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldChange {
    /// Field path, e.g. `account/name` or `deals/<id>/stage`.
    pub path: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistoryEntry {
    pub hash: String,
    pub author: Option<String>,
    pub actor: String,
    /// Unix seconds.
    pub time: i64,
    pub changes: Vec<FieldChange>,
}

/// Root keys that identify the document rather than hold data.
const BOOKKEEPING: &[&str] = &["id", "kind", "schema"];

pub(super) fn read(doc: &mut CrmDoc) -> Vec<HistoryEntry> {
    let kind = doc.kind();
    let changes = doc.am.get_changes(&[]);
    let mut out = Vec::with_capacity(changes.len());
    for change in changes {
        let hash = change.hash();
        let deps = change.deps().to_vec();
        let patches = doc.am.diff(&deps, &[hash]);
        let mut fields: Vec<FieldChange> = Vec::new();
        let mut texts: BTreeMap<String, ObjId> = BTreeMap::new();
        for p in &patches {
            let base = path_of(p);
            match &p.action {
                PatchAction::PutMap { key, .. } | PatchAction::DeleteMap { key }
                    if base.is_empty() && BOOKKEEPING.contains(&key.as_str()) => {}
                PatchAction::PutMap { key, value, .. } => {
                    let path = join(&base, key);
                    let ty = field_type(kind, &path);
                    let new = match &value.0 {
                        Value::Scalar(s) => Some(display_scalar(ty, s)),
                        Value::Object(_) => continue,
                    };
                    let old = old_scalar(doc, &p.obj, key, &deps, ty);
                    fields.push(FieldChange { path, old, new });
                }
                PatchAction::DeleteMap { key } => {
                    let path = join(&base, key);
                    let ty = field_type(kind, &path);
                    let old = old_scalar(doc, &p.obj, key, &deps, ty);
                    fields.push(FieldChange {
                        path,
                        old,
                        new: None,
                    });
                }
                PatchAction::SpliceText { .. } | PatchAction::DeleteSeq { .. } => {
                    texts.insert(base, p.obj.clone());
                }
                _ => {}
            }
        }
        for (path, obj) in texts {
            let old = doc.am.text_at(&obj, &deps).ok().filter(|t| !t.is_empty());
            let new = doc.am.text_at(&obj, &[hash]).ok();
            fields.push(FieldChange { path, old, new });
        }
        out.push(HistoryEntry {
            hash: hash.to_string(),
            author: doc.author_of(change.actor_id()),
            actor: change.actor_id().to_hex_string(),
            time: change.timestamp(),
            changes: fields,
        });
    }
    out
}

fn old_scalar(
    doc: &CrmDoc,
    obj: &ObjId,
    key: &str,
    deps: &[automerge::ChangeHash],
    ty: Option<FieldType>,
) -> Option<String> {
    if deps.is_empty() {
        return None;
    }
    match doc.am.get_at(obj, key, deps) {
        Ok(Some((Value::Scalar(s), _))) => Some(display_scalar(ty, &s)),
        _ => None,
    }
}

fn path_of(p: &Patch) -> String {
    p.path
        .iter()
        .map(|(_, prop)| match prop {
            Prop::Map(k) => k.clone(),
            Prop::Seq(i) => i.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn join(base: &str, key: &str) -> String {
    if base.is_empty() {
        key.to_string()
    } else {
        format!("{base}/{key}")
    }
}

fn field_type(kind: crate::ids::DocKind, path: &str) -> Option<FieldType> {
    schema::resolve(kind, path)
        .ok()
        .and_then(|p| p.spec)
        .map(|s| s.ty)
}
