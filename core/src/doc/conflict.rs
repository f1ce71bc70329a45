//! Concurrent values of one field: listed, never hidden. Two devices that
//! edited the same scalar apart leave several values; Automerge picks a
//! deterministic winner for reads, and we show all of them with who wrote
//! each and when, until someone resolves the conflict with an ordinary edit.

use automerge::{ObjId, ReadDoc, ScalarValue, Value};
use serde::Serialize;

use super::value::display_scalar;
use super::CrmDoc;
use crate::ids::DocId;
use crate::schema::{self, Container, FieldType, RecordKind};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConflictValue {
    /// The value as shown to people.
    pub value: String,
    /// The user who wrote it (the change's author).
    pub author: Option<String>,
    /// The device actor that wrote it.
    pub actor: String,
    /// Unix seconds of the change.
    pub time: i64,
    /// True for the value reads currently show.
    pub shown: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Conflict {
    pub doc: DocId,
    /// Field path, usable with `conflict resolve`.
    pub path: String,
    pub record: &'static str,
    pub field: String,
    pub values: Vec<ConflictValue>,
}

struct Found {
    path: String,
    record: RecordKind,
    field: String,
    ty: Option<FieldType>,
    values: Vec<(ScalarValue, ObjId)>,
}

pub(super) fn list(doc: &mut CrmDoc) -> Vec<Conflict> {
    let mut found = Vec::new();
    let lay = schema::layout(doc.kind());
    for (key, record) in lay.singletons {
        if let Some(obj) = doc.map_at(&[*key]) {
            scan(doc, &obj, key, *record, &mut found);
            if let Some(custom) = doc.map_at(&[*key, "custom"]) {
                scan(doc, &custom, &format!("{key}/custom"), *record, &mut found);
            }
        }
    }
    for c in lay.containers {
        scan_container(doc, &[c.key.to_string()], c, &mut found);
    }
    let id = doc.id();
    found
        .into_iter()
        .map(|f| {
            let values = f
                .values
                .iter()
                .enumerate()
                .map(|(i, (v, opid))| {
                    let (author, time) = doc
                        .am
                        .hash_for_opid(opid)
                        .and_then(|h| doc.am.get_change_by_hash(&h))
                        .map(|c| (doc.author_of(c.actor_id()), c.timestamp()))
                        .unwrap_or((None, 0));
                    let actor = match opid {
                        ObjId::Id(_, actor, _) => actor.to_hex_string(),
                        ObjId::Root => String::new(),
                    };
                    ConflictValue {
                        value: display_scalar(f.ty, v),
                        author,
                        actor,
                        time,
                        // get_all lists the winning value last.
                        shown: i + 1 == f.values.len(),
                    }
                })
                .collect();
            Conflict {
                doc: id,
                path: f.path,
                record: f.record.name(),
                field: f.field,
                values,
            }
        })
        .collect()
}

fn scan_container(doc: &CrmDoc, prefix: &[String], c: &Container, found: &mut Vec<Found>) {
    for (rid, obj) in doc.records(prefix) {
        let mut here = prefix.to_vec();
        here.push(rid);
        scan(doc, &obj, &here.join("/"), c.kind, found);
        for n in c.nested {
            let mut nested = here.clone();
            nested.push(n.key.to_string());
            scan_container(doc, &nested, n, found);
        }
    }
}

fn scan(doc: &CrmDoc, obj: &ObjId, prefix: &str, record: RecordKind, found: &mut Vec<Found>) {
    for key in doc.am.keys(obj) {
        let Ok(all) = doc.am.get_all(obj, key.as_str()) else {
            continue;
        };
        if all.len() < 2 {
            continue;
        }
        let scalars: Vec<(ScalarValue, ObjId)> = all
            .into_iter()
            .filter_map(|(v, id)| match v {
                Value::Scalar(s) => Some((s.into_owned(), id)),
                Value::Object(_) => None,
            })
            .collect();
        let distinct = scalars.iter().any(|(v, _)| *v != scalars[0].0);
        if scalars.len() < 2 || !distinct {
            continue;
        }
        found.push(Found {
            path: format!("{prefix}/{key}"),
            record,
            ty: record.field(&key).map(|s| s.ty),
            field: key,
            values: scalars,
        });
    }
}
