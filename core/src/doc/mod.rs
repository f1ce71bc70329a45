//! One CRM document: an Automerge document of a given kind with the layout of
//! `schema::layout`. This module owns how records are created and fields are
//! written (always one put on the changed path, never a whole-struct
//! reconcile), how conflicts and history are read, and how a document is
//! exchanged as bytes. It does no I/O.

mod check;
pub mod chunks;
mod conflict;
mod copy;
mod history;
mod shape;
pub mod value;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{hydrate, TextEncoding, Value, ROOT};
use automerge::{ActorId, Author, AutoCommit, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue};
use std::collections::HashMap;

pub use check::Problem;
pub use conflict::{Conflict, ConflictValue};
pub use copy::Rewrite;
pub use history::{FieldChange, HistoryEntry};
pub use shape::{MAX_DEPTH, MAX_OBJECTS};
pub use value::{FieldValue, Vocab};

use crate::error::{CoreError, Result, ValidationError};
use crate::ids::{DocId, DocKind};
use crate::schema::{self, FieldPath, FieldSpec, FieldType, RecordKind, SCHEMA_VERSION};

/// Who is writing: every change carries the user as its Automerge author and
/// the device's actor id.
#[derive(Clone, Debug)]
pub struct Writer {
    pub user: String,
    pub actor: ActorId,
    /// Unix seconds stamped on the change.
    pub now: i64,
}

/// A loaded document.
pub struct CrmDoc {
    id: DocId,
    kind: DocKind,
    am: AutoCommit,
}

impl CrmDoc {
    /// A new document with its skeleton: schema version, kind, id, and every
    /// record container created up front, so two devices never create the
    /// same container concurrently (which would hide one side's records).
    pub fn create(id: DocId, kind: DocKind, writer: &Writer) -> Result<Self> {
        let (mut doc, _) = CrmDoc::create_open(id, kind, writer, &[], &[])?;
        doc.commit(writer);
        Ok(doc)
    }

    /// `create`, with `first` (validated fields) already in the document's
    /// singleton record (the account of a customer file) and `records` in
    /// their containers, left uncommitted: the caller's first edit joins
    /// the same change, so a new file is one change. The whole tree goes in
    /// as one batch, which costs Automerge two splices of its op set
    /// instead of one per value. Returns the tree too: what hydrating the
    /// document would give, for its index rows.
    pub(crate) fn create_open(
        id: DocId,
        kind: DocKind,
        writer: &Writer,
        first: &[(&str, FieldValue)],
        records: &[NewRecord],
    ) -> Result<(Self, hydrate::Map)> {
        let mut am = AutoCommit::new();
        set_writer(&mut am, writer);
        let enc = am.text_encoding();
        let mut root: HashMap<String, hydrate::Value> = HashMap::new();
        root.insert("schema".into(), ScalarValue::from(SCHEMA_VERSION).into());
        root.insert("kind".into(), kind.as_str().into());
        root.insert("id".into(), id.to_string().as_str().into());
        let lay = schema::layout(kind);
        if let Some(r) = records
            .iter()
            .find(|r| !lay.containers.iter().any(|c| c.key == r.container))
        {
            return Err(ValidationError::UnknownField {
                path: r.container.to_string(),
                what: format!("a {kind} document"),
            }
            .into());
        }
        for (i, (key, record)) in lay.singletons.iter().enumerate() {
            let mut m: HashMap<String, hydrate::Value> = HashMap::new();
            if *record == RecordKind::Account {
                m.insert("custom".into(), hydrate::Value::map());
                m.insert("tags".into(), hydrate::Value::map());
                m.insert("expectations".into(), hydrate::Value::text(enc, ""));
            }
            if i == 0 {
                fill(&mut m, first, enc);
            }
            root.insert(key.to_string(), hydrate::Map::from(m).into());
        }
        for c in lay.containers {
            let mut m: HashMap<String, hydrate::Value> = HashMap::new();
            for r in records.iter().filter(|r| r.container == c.key) {
                if r.kind != c.kind {
                    return Err(ValidationError::Rule(format!(
                        "a {} is not kept in {}",
                        r.kind.name(),
                        c.key
                    ))
                    .into());
                }
                check_required(r.kind, &r.fields)?;
                m.insert(
                    r.id.clone(),
                    record_value(kind, &[c.key], r.kind, &r.fields, enc),
                );
            }
            root.insert(c.key.to_string(), hydrate::Map::from(m).into());
        }
        let tree = hydrate::Map::from(root);
        am.init_root_from_hydrate(&tree)?;
        Ok((CrmDoc { id, kind, am }, tree))
    }

    /// Loads a document from stored or received bytes and checks that it
    /// is the document it claims to be.
    pub fn load(id: DocId, bytes: &[u8]) -> Result<Self> {
        let am = AutoCommit::load(bytes).map_err(|e| CoreError::CorruptDoc {
            doc: id,
            reason: e.to_string(),
        })?;
        let corrupt = |reason: &str| CoreError::CorruptDoc {
            doc: id,
            reason: reason.to_string(),
        };
        let kind = match am.get(ROOT, "kind")? {
            Some((Value::Scalar(s), _)) => match s.as_ref() {
                ScalarValue::Str(k) => DocKind::parse(k).ok_or_else(|| corrupt("unknown kind"))?,
                _ => return Err(corrupt("kind is not a string")),
            },
            _ => return Err(corrupt("no kind")),
        };
        let doc = CrmDoc { id, kind, am };
        match doc.get_str(&ROOT, "id") {
            Some(s) if s == id.to_string() => Ok(doc),
            _ => Err(corrupt("id does not match")),
        }
    }

    /// Loads a whole document received from a peer: its compressed parts
    /// inflate within bounds, it is the document it claims to be, and its
    /// shape (depth, size, root keys) is checked before anything reads it.
    pub fn load_foreign(id: DocId, bytes: &[u8]) -> Result<Self> {
        // `load` is strict: only the inflation bound is needed first.
        chunks::check_inflation(bytes)
            .map_err(|reason| CoreError::CorruptDoc { doc: id, reason })?;
        let doc = CrmDoc::load(id, bytes)?;
        doc.check_shape()
            .map_err(|reason| CoreError::CorruptDoc { doc: id, reason })?;
        Ok(doc)
    }

    pub fn id(&self) -> DocId {
        self.id
    }

    pub fn kind(&self) -> DocKind {
        self.kind
    }

    /// The schema version this document was last written with (the highest
    /// seen: a newer app's fields are kept untouched).
    pub fn schema_version(&self) -> u64 {
        match self.am.get(ROOT, "schema") {
            Ok(Some((Value::Scalar(s), _))) => match s.as_ref() {
                ScalarValue::Uint(v) => *v,
                ScalarValue::Int(v) => (*v).max(0) as u64,
                _ => 0,
            },
            _ => 0,
        }
    }

    pub fn automerge(&mut self) -> &mut AutoCommit {
        &mut self.am
    }

    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.am.get_heads()
    }

    /// The whole document, compacted.
    pub fn save(&mut self) -> Vec<u8> {
        self.am.save()
    }

    /// Changes made after `heads`, encoded for a store chunk or a peer.
    pub fn changes_since(&mut self, heads: &[ChangeHash]) -> Vec<u8> {
        self.am.save_after(heads)
    }

    /// Merges changes received from elsewhere (a peer's chunk or a whole
    /// document). Returns the number of new changes applied. On an error
    /// the document may hold part of what was merged: drop it (callers
    /// work on a copy loaded from the store, or on a fork).
    pub fn merge_bytes(&mut self, bytes: &[u8]) -> Result<usize> {
        let id = self.id;
        let corrupt = |e: automerge::AutomergeError| CoreError::CorruptDoc {
            doc: id,
            reason: e.to_string(),
        };
        // `load_incremental` keeps what it could parse of damaged input and
        // drops the rest silently: check strictly first.
        chunks::verify(bytes).map_err(|reason| CoreError::CorruptDoc { doc: id, reason })?;
        let before = self.am.get_heads();
        self.am.load_incremental(bytes).map_err(corrupt)?;
        self.check_shape()
            .map_err(|reason| CoreError::CorruptDoc { doc: id, reason })?;
        Ok(self.am.get_changes(&before).len())
    }

    /// The user who wrote changes with `actor` (recorded with the actor's
    /// first change in this document).
    pub fn author_of(&self, actor: &ActorId) -> Option<String> {
        self.am
            .get_author_for_actor(actor)
            .map(|a| String::from_utf8_lossy(a.as_bytes()).into_owned())
    }

    /// Merges another in-memory replica of the same document.
    pub fn merge(&mut self, other: &mut CrmDoc) -> Result<()> {
        self.am.merge(&mut other.am)?;
        Ok(())
    }

    /// Starts writing as `writer`. Cheap; call before every edit.
    pub fn begin(&mut self, writer: &Writer) {
        set_writer(&mut self.am, writer);
    }

    /// Commits pending operations as one change stamped with the writer's time.
    pub fn commit(&mut self, writer: &Writer) -> Option<ChangeHash> {
        self.am
            .commit_with(CommitOptions::default().with_time(writer.now))
    }

    /// Drops pending (uncommitted) operations.
    pub fn rollback(&mut self) {
        self.am.rollback();
    }

    // ----- navigation -------------------------------------------------

    /// The map at `segments` from the root, following winning values.
    pub fn map_at<S: AsRef<str>>(&self, segments: &[S]) -> Option<ObjId> {
        let mut obj = ROOT;
        for seg in segments {
            match self.am.get(&obj, seg.as_ref()).ok()?? {
                (Value::Object(ObjType::Map), id) => obj = id,
                _ => return None,
            }
        }
        Some(obj)
    }

    /// Record ids and objects in a container map. Where two replicas created
    /// the same container concurrently, the records of every copy are listed.
    pub fn records<S: AsRef<str>>(&self, container: &[S]) -> Vec<(String, ObjId)> {
        let (parent, last) = match container.split_last() {
            Some((last, parent)) => (parent, last.as_ref()),
            None => return Vec::new(),
        };
        let Some(parent) = self.map_at(parent) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let copies = self.am.get_all(&parent, last).unwrap_or_default();
        for (v, obj) in copies {
            if !matches!(v, Value::Object(ObjType::Map)) {
                continue;
            }
            for key in self.am.keys(&obj) {
                if let Ok(Some((Value::Object(ObjType::Map), rec))) = self.am.get(&obj, &key) {
                    if !out.iter().any(|(k, _)| *k == key) {
                        out.push((key, rec));
                    }
                }
            }
        }
        out
    }

    /// The whole document as plain maps (one pass), for fast reading. Where
    /// two replicas created the same container concurrently, the records of
    /// every copy are merged in, as `records` does.
    pub fn hydrated(&self) -> automerge::hydrate::Map {
        self.hydrated_at(None)
    }

    /// `hydrated` as the document was at `heads` (`None`: now).
    pub fn hydrated_at(&self, heads: Option<&[ChangeHash]>) -> automerge::hydrate::Map {
        use automerge::hydrate::{Map, MapValue, Value as H};
        let mut root = match self.am.hydrate(ROOT, heads) {
            Ok(H::Map(m)) => m,
            _ => Map::default(),
        };
        for c in schema::layout(self.kind).containers {
            let conflicted = std::ops::Deref::deref(&root)
                .get(c.key)
                .is_some_and(|v| v.conflict);
            if !conflicted {
                continue;
            }
            let mut merged = Map::default();
            let copies = match heads {
                Some(h) => self.am.get_all_at(ROOT, c.key, h),
                None => self.am.get_all(ROOT, c.key),
            };
            for (v, obj) in copies.unwrap_or_default() {
                if !matches!(v, Value::Object(ObjType::Map)) {
                    continue;
                }
                if let Ok(H::Map(copy)) = self.am.hydrate(&obj, heads) {
                    for (k, mv) in copy.iter() {
                        std::ops::DerefMut::deref_mut(&mut merged)
                            .entry(k.clone())
                            .or_insert_with(|| mv.clone());
                    }
                }
            }
            std::ops::DerefMut::deref_mut(&mut root).insert(
                c.key.to_string(),
                MapValue {
                    value: H::Map(merged),
                    conflict: false,
                },
            );
        }
        root
    }

    /// One object (a record) as plain maps.
    pub fn hydrated_obj(&self, obj: &ObjId) -> automerge::hydrate::Map {
        match self.am.hydrate(obj, None) {
            Ok(automerge::hydrate::Value::Map(m)) => m,
            _ => automerge::hydrate::Map::default(),
        }
    }

    /// The object of one record.
    pub fn record(&self, container: &[&str], id: &str) -> Option<ObjId> {
        self.records(container)
            .into_iter()
            .find(|(k, _)| k == id)
            .map(|(_, o)| o)
    }

    pub fn keys(&self, obj: &ObjId) -> Vec<String> {
        self.am.keys(obj).collect()
    }

    // ----- typed reads ---------------------------------------------------

    pub fn get_scalar(&self, obj: &ObjId, key: &str) -> Option<ScalarValue> {
        match self.am.get(obj, key).ok()?? {
            (Value::Scalar(s), _) => Some(s.into_owned()),
            _ => None,
        }
    }

    pub fn get_str(&self, obj: &ObjId, key: &str) -> Option<String> {
        match self.get_scalar(obj, key)? {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        }
    }

    pub fn get_i64(&self, obj: &ObjId, key: &str) -> Option<i64> {
        match self.get_scalar(obj, key)? {
            ScalarValue::Int(i) => Some(i),
            ScalarValue::Uint(u) => i64::try_from(u).ok(),
            _ => None,
        }
    }

    pub fn get_bool(&self, obj: &ObjId, key: &str) -> Option<bool> {
        match self.get_scalar(obj, key)? {
            ScalarValue::Boolean(b) => Some(b),
            _ => None,
        }
    }

    /// Long text; a plain string written by an older or foreign writer is
    /// read too.
    pub fn get_text(&self, obj: &ObjId, key: &str) -> Option<String> {
        match self.am.get(obj, key).ok()?? {
            (Value::Object(ObjType::Text), id) => self.am.text(&id).ok(),
            (Value::Scalar(s), _) => match s.as_ref() {
                ScalarValue::Str(s) => Some(s.to_string()),
                _ => None,
            },
            _ => None,
        }
    }

    /// Keys of a tag map whose value is true.
    pub fn get_tags(&self, obj: &ObjId, key: &str) -> Vec<String> {
        match self.am.get(obj, key) {
            Ok(Some((Value::Object(ObjType::Map), tags))) => self
                .am
                .keys(&tags)
                .filter(|t| self.get_bool(&tags, t) == Some(true))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Renders any field for people.
    pub fn display_field(&self, obj: &ObjId, spec: Option<&FieldSpec>, key: &str) -> String {
        match spec.map(|s| s.ty) {
            Some(FieldType::Text) => self.get_text(obj, key).unwrap_or_default(),
            Some(FieldType::Tags) => self.get_tags(obj, key).join(", "),
            ty => self
                .get_scalar(obj, key)
                .map(|v| value::display_scalar(ty, &v))
                .unwrap_or_default(),
        }
    }

    // ----- writes --------------------------------------------------------

    /// Writes one field (already validated) at a resolved path. The record
    /// must exist. Call between `begin` and `commit`.
    pub fn put_field(&mut self, path: &FieldPath, value: &FieldValue) -> Result<()> {
        let parent = self
            .map_at(&path.parent)
            .ok_or_else(|| ValidationError::UnknownField {
                path: path.display(),
                what: "this document (no such record)".to_string(),
            })?;
        self.put_at(&parent, &path.key, value)
    }

    fn put_at(&mut self, parent: &ObjId, key: &str, value: &FieldValue) -> Result<()> {
        match value {
            FieldValue::Text(text) => {
                let existing = match self.am.get(parent, key)? {
                    Some((Value::Object(ObjType::Text), id)) => Some(id),
                    _ => None,
                };
                let obj = match existing {
                    Some(id) => id,
                    None => self.am.put_object(parent, key, ObjType::Text)?,
                };
                // A character-level diff: concurrent edits of other parts merge.
                self.am.update_text(&obj, text)?;
            }
            FieldValue::Tags(tags) => {
                let obj = match self.am.get(parent, key)? {
                    Some((Value::Object(ObjType::Map), id)) => id,
                    _ => self.am.put_object(parent, key, ObjType::Map)?,
                };
                let current: Vec<String> = self.am.keys(&obj).collect();
                for t in &current {
                    if !tags.contains(t) {
                        self.am.delete(&obj, t.as_str())?;
                    }
                }
                for t in tags {
                    if self.get_bool(&obj, t) != Some(true) {
                        self.am.put(&obj, t.as_str(), true)?;
                    }
                }
            }
            FieldValue::Clear => {
                if self.am.get(parent, key)?.is_some() {
                    self.am.delete(parent, key)?;
                }
            }
            other => {
                if let Some(s) = other.to_scalar() {
                    // Writing the value already there (and unconflicted)
                    // would only add noise to history.
                    let all = self.am.get_all(parent, key)?;
                    let same = all.len() == 1
                        && matches!(&all[0].0, Value::Scalar(cur) if cur.as_ref() == &s);
                    if !same {
                        self.am.put(parent, key, s)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Creates a record in `container` with `fields` (key, validated value),
    /// after checking every required field of `kind` is present. Nested
    /// containers of the record (quote lines) are created with it.
    pub fn create_record(
        &mut self,
        container: &[&str],
        id: &str,
        kind: RecordKind,
        fields: &[(&str, FieldValue)],
    ) -> Result<ObjId> {
        check_required(kind, fields)?;
        let parent = self
            .map_at(container)
            .ok_or_else(|| ValidationError::UnknownField {
                path: container.join("/"),
                what: format!("a {} document", self.kind),
            })?;
        // The record, its text fields, nested containers and values as one
        // batch (two splices of the op set instead of one per value).
        let value = record_value(self.kind, container, kind, fields, self.am.text_encoding());
        Ok(self.am.batch_create_object(&parent, id, &value, false)?)
    }

    /// Deletes a record from its container.
    pub fn delete_record(&mut self, container: &[&str], id: &str) -> Result<()> {
        if let Some(parent) = self.map_at(container) {
            self.am.delete(&parent, id)?;
        }
        Ok(())
    }

    /// Raises the stored schema version to ours if it is older.
    pub fn stamp_schema(&mut self) -> Result<()> {
        if self.schema_version() < SCHEMA_VERSION {
            self.am.put(ROOT, "schema", SCHEMA_VERSION)?;
        }
        Ok(())
    }

    /// All values of a conflicted field.
    pub fn conflicts(&mut self) -> Vec<Conflict> {
        conflict::list(self)
    }

    /// Who changed what, change by change.
    pub fn history(&mut self) -> Vec<HistoryEntry> {
        history::read(self)
    }
}

/// A record to create with a new document (`CrmDoc::create_open`): its
/// container (`contacts`, ...), id, kind and validated fields.
pub(crate) struct NewRecord {
    pub container: &'static str,
    pub id: String,
    pub kind: RecordKind,
    pub fields: Vec<(&'static str, FieldValue)>,
}

/// Refuses a new record of `kind` without one of its required fields.
fn check_required(kind: RecordKind, fields: &[(&str, FieldValue)]) -> Result<()> {
    for spec in kind.fields() {
        let given = fields
            .iter()
            .any(|(k, v)| *k == spec.name && *v != FieldValue::Clear);
        if spec.required && !given {
            return Err(ValidationError::Empty {
                field: spec.name.to_string(),
            }
            .into());
        }
    }
    Ok(())
}

/// A new record of `kind` in `container` of a `doc_kind` document, as a
/// tree: an empty text for each text field, its nested containers (quote
/// lines), then `fields`.
fn record_value(
    doc_kind: DocKind,
    container: &[&str],
    kind: RecordKind,
    fields: &[(&str, FieldValue)],
    enc: TextEncoding,
) -> hydrate::Value {
    let mut m: HashMap<String, hydrate::Value> = HashMap::new();
    for spec in kind.fields() {
        if spec.ty == FieldType::Text {
            m.insert(spec.name.into(), hydrate::Value::text(enc, ""));
        }
    }
    if let Some(c) = schema::layout(doc_kind)
        .containers
        .iter()
        .find(|c| Some(&c.key) == container.first())
    {
        if container.len() == 1 {
            for n in c.nested {
                m.insert(n.key.into(), hydrate::Value::map());
            }
        }
    }
    fill(&mut m, fields, enc);
    hydrate::Map::from(m).into()
}

/// Adds validated `fields` to a record being built, as `put_at` writes
/// them: text as text, tags as a map of `true`, nothing for `Clear`.
fn fill(m: &mut HashMap<String, hydrate::Value>, fields: &[(&str, FieldValue)], enc: TextEncoding) {
    for (k, v) in fields {
        let value = match v {
            FieldValue::Text(t) => hydrate::Value::text(enc, t),
            FieldValue::Tags(tags) => hydrate::Map::from(
                tags.iter()
                    .map(|t| (t.clone(), hydrate::Value::from(ScalarValue::Boolean(true))))
                    .collect::<HashMap<String, hydrate::Value>>(),
            )
            .into(),
            other => match other.to_scalar() {
                Some(s) => s.into(),
                None => continue,
            },
        };
        m.insert(k.to_string(), value);
    }
}

fn set_writer(am: &mut AutoCommit, writer: &Writer) {
    let author = Author::from(writer.user.as_bytes().to_vec());
    if am.get_author() != Some(&author) {
        am.set_author(Some(author));
    }
    // After set_author: it picks a fresh random actor we do not want, one
    // per edit would bloat the document. The device's actor is stable.
    // Only when it differs: setting either closes (commits) an open
    // transaction, which would split a new document's first change.
    if am.get_actor() != &writer.actor {
        am.set_actor(writer.actor.clone());
    }
}

#[cfg(test)]
mod tests;
