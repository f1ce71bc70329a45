//! Whole-document validation, as the server runs it on a fork of a document
//! after applying a device's changes and before storing them: the document
//! keeps its kind and id, every record has its required fields, and every
//! field present has the right type and a valid value. The same check is
//! available on devices so the apps do not offer what will be refused.

use automerge::hydrate::Value as HValue;
use automerge::{ReadDoc, ScalarValue, Value, ROOT};

use super::value::{self, Vocab};
use super::CrmDoc;
use crate::ids::{DocId, DocKind};
use crate::model::Rec;
use crate::schema::{self, Container, FieldSpec, FieldType, RecordKind};

/// Why a document is refused, for people.
pub type Problem = String;

impl CrmDoc {
    /// Checks the document against the schema and the settings' vocabularies.
    pub fn check(&self, vocab: &Vocab) -> Result<(), Problem> {
        self.check_identity()?;
        // One hydrate pass, then plain lookups (a `get` per field is slow).
        let h = self.hydrated();
        let root = Rec(&h);
        let lay = schema::layout(self.kind());
        for (key, record) in lay.singletons {
            let obj = root.map(key).ok_or_else(|| format!("{key}: missing"))?;
            check_record(obj, key, *record, vocab)?;
        }
        for c in lay.containers {
            check_container(root, c.key, c, vocab)?;
        }
        Ok(())
    }

    /// Fields nobody edits after a record's creation (`editable: false` in
    /// the schema: authors, creation times, numbers, a plan's user, an
    /// order's quote) have the values they had at `before` in every record
    /// that existed then. The server runs it on a device's change.
    pub fn check_read_only(&self, before: &[automerge::ChangeHash]) -> Result<(), Problem> {
        let old = self.hydrated_at(Some(before));
        let new = self.hydrated();
        let (old, new) = (Rec(&old), Rec(&new));
        let lay = schema::layout(self.kind());
        for (key, record) in lay.singletons {
            if let (Some(o), Some(n)) = (old.map(key), new.map(key)) {
                same_read_only(o, n, key, *record)?;
            }
        }
        for c in lay.containers {
            read_only_in(old, new, c.key, c)?;
        }
        Ok(())
    }

    /// The document still says it is the kind and id it was loaded as.
    pub fn check_identity(&self) -> Result<(), Problem> {
        if self.get_str(&ROOT, "kind").as_deref() != Some(self.kind().as_str()) {
            return Err("the document's kind changed".into());
        }
        if self.get_str(&ROOT, "id") != Some(self.id().to_string()) {
            return Err("the document's id changed".into());
        }
        Ok(())
    }

    /// The `number` of every quote and order, to detect a device assigning one.
    pub fn numbers(&self) -> Vec<(String, Option<String>)> {
        let mut out = Vec::new();
        if self.kind() != DocKind::Account {
            return out;
        }
        for container in ["quotes", "orders"] {
            for (id, o) in self.records(&[container]) {
                out.push((format!("{container}/{id}"), self.get_str(&o, "number")));
            }
        }
        out.sort();
        out
    }

    /// Wraps an Automerge document received from elsewhere, checking it
    /// claims the expected id and has a sound shape (`check_shape`), so
    /// that reading it as a tree afterwards is safe.
    pub fn from_automerge(id: DocId, am: automerge::AutoCommit) -> Result<CrmDoc, Problem> {
        let kind = match am.get(ROOT, "kind") {
            Ok(Some((Value::Scalar(s), _))) => match s.as_ref() {
                ScalarValue::Str(k) => DocKind::parse(k).ok_or("unknown kind")?,
                _ => return Err("kind is not a string".into()),
            },
            _ => return Err("no kind".into()),
        };
        let doc = CrmDoc { id, kind, am };
        if doc.get_str(&ROOT, "id") != Some(id.to_string()) {
            return Err("id does not match".into());
        }
        doc.check_shape()?;
        Ok(doc)
    }
}

fn check_container(
    parent: Rec<'_>,
    path: &str,
    c: &Container,
    vocab: &Vocab,
) -> Result<(), Problem> {
    // A container holds records (maps) only: anything else would be
    // skipped by every reader, and stored as is.
    if let Some(HValue::Map(m)) = parent.0.get(c.key) {
        if let Some((key, _)) = m.iter().find(|(_, v)| !matches!(v.value, HValue::Map(_))) {
            return Err(format!("{path}/{key}: not a record"));
        }
    }
    for (rid, rec) in parent.records(c.key) {
        let here = format!("{path}/{rid}");
        check_record(rec, &here, c.kind, vocab)?;
        for n in c.nested {
            check_container(rec, &format!("{here}/{}", n.key), n, vocab)?;
        }
    }
    Ok(())
}

fn read_only_in(old: Rec<'_>, new: Rec<'_>, path: &str, c: &Container) -> Result<(), Problem> {
    let after = new.records(c.key);
    for (rid, o) in old.records(c.key) {
        let Some((_, n)) = after.iter().find(|(id, _)| *id == rid) else {
            continue; // deleted: allowed
        };
        let here = format!("{path}/{rid}");
        same_read_only(o, *n, &here, c.kind)?;
        for nested in c.nested {
            read_only_in(o, *n, &format!("{here}/{}", nested.key), nested)?;
        }
    }
    Ok(())
}

fn same_read_only(
    old: Rec<'_>,
    new: Rec<'_>,
    path: &str,
    record: RecordKind,
) -> Result<(), Problem> {
    for spec in record.fields().iter().filter(|s| !s.editable) {
        if old.0.get(spec.name) != new.0.get(spec.name) {
            return Err(format!("{path}/{}: read-only", spec.name));
        }
    }
    Ok(())
}

fn check_record(
    rec: Rec<'_>,
    path: &str,
    record: RecordKind,
    vocab: &Vocab,
) -> Result<(), Problem> {
    for spec in record.fields() {
        match rec.0.get(spec.name) {
            None if spec.required => {
                return Err(format!("{path}/{}: required", spec.name));
            }
            None => {}
            Some(v) => {
                check_field(spec, v, vocab).map_err(|e| format!("{path}/{}: {e}", spec.name))?
            }
        }
    }
    Ok(())
}

fn check_field(spec: &FieldSpec, v: &HValue, vocab: &Vocab) -> Result<(), Problem> {
    use FieldType::*;
    let scalar = match v {
        HValue::Scalar(s) => s,
        HValue::Text(_) if spec.ty == Text => return Ok(()),
        HValue::Map(_) if spec.ty == Tags => return Ok(()),
        HValue::Text(_) => return Err("a text is not allowed here".into()),
        HValue::Map(_) => return Err("a map is not allowed here".into()),
        HValue::List(_) => return Err("a list is not allowed here".into()),
    };
    // Re-validate the stored value exactly as a user's input is validated.
    let as_text = match (spec.ty, scalar) {
        (Amount | Int | Timestamp, ScalarValue::Int(i)) => i.to_string(),
        (Amount | Int | Timestamp, ScalarValue::Uint(u)) => u.to_string(),
        (Bool, ScalarValue::Boolean(b)) => b.to_string(),
        (Text, ScalarValue::Str(s)) => s.to_string(),
        (Tags | Text | Amount | Int | Timestamp | Bool, other) => {
            return Err(format!("{other:?} has the wrong type"))
        }
        (_, ScalarValue::Str(s)) => s.to_string(),
        (_, other) => return Err(format!("{other:?} has the wrong type")),
    };
    let mut writable = *spec;
    writable.editable = true;
    writable.required = false;
    match value::parse(Some(&writable), &as_text, vocab) {
        Ok(_) => {
            if spec.ty == Amount && as_text.starts_with('-') {
                return Err("must not be negative".into());
            }
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{ActorId, ObjType};

    use super::*;
    use crate::doc::{FieldValue, Writer};

    fn vocab() -> Vocab {
        Vocab {
            stages: vec!["prospection".into()],
            action_types: vec!["call".into()],
            vat_rates: vec![rust_decimal::Decimal::from(20)],
        }
    }

    fn account() -> (CrmDoc, Writer) {
        let w = Writer {
            user: "a@b.fr".into(),
            actor: ActorId::random(),
            now: 1,
        };
        let mut d = CrmDoc::create(DocId::new(), DocKind::Account, &w).unwrap();
        d.begin(&w);
        let acc = d.map_at(&["account"]).unwrap();
        for (k, v) in [
            ("name", "Acme"),
            ("kind", "company"),
            ("status", "client"),
            ("owner", "a@b.fr"),
        ] {
            d.automerge().put(&acc, k, v).unwrap();
        }
        d.commit(&w);
        (d, w)
    }

    #[test]
    fn a_valid_document_passes() {
        let (mut d, w) = account();
        d.begin(&w);
        d.create_record(
            &["deals"],
            "d1",
            RecordKind::Deal,
            &[
                ("title", FieldValue::Str("x".into())),
                ("stage", FieldValue::Str("prospection".into())),
                ("amount", FieldValue::Int(100)),
                ("currency", FieldValue::Str("EUR".into())),
                ("owner", FieldValue::Str("a@b.fr".into())),
            ],
        )
        .unwrap();
        d.commit(&w);
        assert_eq!(d.check(&vocab()), Ok(()));
    }

    #[test]
    fn read_only_fields_keep_their_values_after_a_change() {
        let (mut d, w) = account();
        let before = d.heads();
        d.begin(&w);
        let acc = d.map_at(&["account"]).unwrap();
        d.automerge().put(&acc, "name", "Acme 2").unwrap();
        d.commit(&w);
        assert_eq!(d.check_read_only(&before), Ok(()), "editable fields change");
        let before = d.heads();
        d.begin(&w);
        d.automerge().put(&acc, "created_by", "x@y.fr").unwrap();
        d.commit(&w);
        let err = d.check_read_only(&before).unwrap_err();
        assert!(err.contains("account/created_by"), "{err}");
        // A field only the server writes, absent before.
        let before = d.heads();
        d.begin(&w);
        d.automerge()
            .put(&acc, "merged_into", crate::ids::DocId::new().to_string())
            .unwrap();
        d.commit(&w);
        let err = d.check_read_only(&before).unwrap_err();
        assert!(err.contains("account/merged_into"), "{err}");
    }

    #[test]
    fn wrong_types_missing_fields_and_bad_values_are_refused() {
        type Mutation = Box<dyn Fn(&mut CrmDoc)>;
        let cases: Vec<(&str, Mutation)> = vec![
            (
                "account/name",
                Box::new(|d: &mut CrmDoc| {
                    let acc = d.map_at(&["account"]).unwrap();
                    d.automerge().delete(&acc, "name").unwrap();
                }),
            ),
            (
                "account/siret",
                Box::new(|d: &mut CrmDoc| {
                    let acc = d.map_at(&["account"]).unwrap();
                    d.automerge().put(&acc, "siret", "123").unwrap();
                }),
            ),
            (
                "deals/x/amount",
                Box::new(|d: &mut CrmDoc| {
                    let deals = d.map_at(&["deals"]).unwrap();
                    let x = d.automerge().put_object(&deals, "x", ObjType::Map).unwrap();
                    for (k, v) in [
                        ("title", "t"),
                        ("stage", "prospection"),
                        ("currency", "EUR"),
                        ("owner", "a@b.fr"),
                    ] {
                        d.automerge().put(&x, k, v).unwrap();
                    }
                    d.automerge().put(&x, "amount", "12").unwrap();
                }),
            ),
            (
                "kind",
                Box::new(|d: &mut CrmDoc| {
                    d.automerge().put(ROOT, "kind", "settings").unwrap();
                }),
            ),
            (
                "account/status",
                Box::new(|d: &mut CrmDoc| {
                    let acc = d.map_at(&["account"]).unwrap();
                    d.automerge().put(&acc, "status", "vip").unwrap();
                }),
            ),
            (
                "deals/x: not a record",
                Box::new(|d: &mut CrmDoc| {
                    let deals = d.map_at(&["deals"]).unwrap();
                    d.automerge()
                        .put_object(&deals, "x", ObjType::List)
                        .unwrap();
                }),
            ),
        ];
        for (what, mutate) in cases {
            let (mut d, w) = account();
            d.begin(&w);
            mutate(&mut d);
            d.commit(&w);
            let err = d.check(&vocab()).unwrap_err();
            assert!(err.contains(what), "{what}: {err}");
        }
    }
}
