//! The shape of a document received from elsewhere, checked before anything
//! reads it as a tree. Automerge's `hydrate` recurses once per level of
//! nesting: a change holding ten thousand nested maps overflows the stack
//! of a server thread, and far fewer that of a phone. So every document that
//! comes from a peer is walked here first, with an explicit stack, and
//! refused when it nests deeper than any layout of ours, holds more objects
//! than a customer file ever does, or (written by an app of our schema
//! version or older) puts keys at its root that our layout does not have.
//!
//! A newer app may add root keys (its schema version says so): they are
//! kept, within the same depth and size bounds.

use automerge::{ObjId, ObjType, ReadDoc, ValueRef, ROOT};

use super::{CrmDoc, Problem};
use crate::schema::{self, SCHEMA_VERSION};

/// Deepest nesting accepted: root (0) → container → record → nested
/// container → record → text or tags is 5; the rest is room for newer
/// schema versions.
pub const MAX_DEPTH: usize = 12;
/// Most objects (maps, lists, texts) in one document.
pub const MAX_OBJECTS: usize = 200_000;

/// Root keys every document has besides its layout's.
const IDENTITY_KEYS: &[&str] = &["schema", "kind", "id"];

impl CrmDoc {
    /// Checks depth, object count and root keys without recursion.
    pub fn check_shape(&self) -> Result<(), Problem> {
        self.check_root_keys()?;
        let am = &self.am;
        let mut stack: Vec<(ObjId, ObjType, usize)> = vec![(ROOT, ObjType::Map, 0)];
        let mut objects = 0usize;
        while let Some((obj, ty, depth)) = stack.pop() {
            objects += 1;
            if objects > MAX_OBJECTS {
                return Err(format!("more than {MAX_OBJECTS} objects in one document"));
            }
            let mut children: Vec<(ObjId, ObjType)> = Vec::new();
            match ty {
                ObjType::Map | ObjType::Table => {
                    for item in am.map_range(&obj, ..) {
                        if item.conflict {
                            // Every concurrent value is read (conflicts, merged
                            // containers): the losing ones count too.
                            for (v, id) in am.get_all(&obj, item.key.as_ref()).unwrap_or_default() {
                                if let automerge::Value::Object(t) = v {
                                    children.push((id, t));
                                }
                            }
                        } else if let ValueRef::Object(t) = item.value {
                            children.push((item.id(), t));
                        }
                    }
                }
                ObjType::List => {
                    for item in am.list_range(&obj, ..) {
                        if item.conflict {
                            for (v, id) in am.get_all(&obj, item.index).unwrap_or_default() {
                                if let automerge::Value::Object(t) = v {
                                    children.push((id, t));
                                }
                            }
                        } else if let ValueRef::Object(t) = item.value {
                            children.push((item.id(), t));
                        }
                    }
                }
                // Texts are read as flat strings.
                ObjType::Text => {}
            }
            if !children.is_empty() && depth + 1 > MAX_DEPTH {
                return Err(format!("nested deeper than {MAX_DEPTH} levels"));
            }
            stack.extend(children.into_iter().map(|(id, t)| (id, t, depth + 1)));
        }
        Ok(())
    }

    /// Root keys are the identity and the layout of the kind, unless the
    /// document was written by a newer schema version.
    fn check_root_keys(&self) -> Result<(), Problem> {
        if self.schema_version() > SCHEMA_VERSION {
            return Ok(());
        }
        let lay = schema::layout(self.kind);
        for key in self.am.keys(ROOT) {
            let known = IDENTITY_KEYS.contains(&key.as_str())
                || lay.singletons.iter().any(|(k, _)| *k == key)
                || lay.containers.iter().any(|c| c.key == key);
            if !known {
                return Err(format!("unknown key {key:?} at the document's root"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::ActorId;

    use crate::doc::Writer;
    use crate::ids::{DocId, DocKind};

    use super::*;

    fn writer() -> Writer {
        Writer {
            user: "a@b.fr".into(),
            actor: ActorId::random(),
            now: 1,
        }
    }

    fn nest(d: &mut CrmDoc, under: &str, levels: usize) {
        let w = writer();
        d.begin(&w);
        let mut obj = d.map_at(&[under]).unwrap();
        for _ in 0..levels {
            obj = d.automerge().put_object(&obj, "n", ObjType::Map).unwrap();
        }
        d.commit(&w);
    }

    #[test]
    fn a_fresh_document_of_every_kind_has_a_good_shape() {
        for kind in [
            DocKind::Account,
            DocKind::Settings,
            DocKind::Catalog,
            DocKind::Directory,
            DocKind::Plan,
            DocKind::Library,
        ] {
            let d = CrmDoc::create(DocId::new(), kind, &writer()).unwrap();
            assert_eq!(d.check_shape(), Ok(()), "{kind}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_before_anything_recurses() {
        let mut d = CrmDoc::create(DocId::new(), DocKind::Account, &writer()).unwrap();
        nest(&mut d, "contacts", MAX_DEPTH - 1);
        assert_eq!(d.check_shape(), Ok(()));
        // Depth far past what would overflow a thread's stack in hydrate.
        let mut deep = CrmDoc::create(DocId::new(), DocKind::Account, &writer()).unwrap();
        nest(&mut deep, "contacts", 20_000);
        let err = deep.check_shape().unwrap_err();
        assert!(err.contains("nested deeper"), "{err}");
    }

    #[test]
    fn a_device_refuses_deep_documents_and_changes_from_a_peer() {
        let w = writer();
        let mut ours = CrmDoc::create(DocId::new(), DocKind::Account, &w).unwrap();
        let mut theirs = CrmDoc::load(ours.id(), &ours.save()).unwrap();
        let before = theirs.heads();
        nest(&mut theirs, "contacts", 20_000);
        let whole = theirs.save();
        let err = CrmDoc::load_foreign(theirs.id(), &whole).err().unwrap();
        assert!(err.to_string().contains("nested deeper"), "{err}");
        let changes = theirs.changes_since(&before);
        let err = ours.merge_bytes(&changes).unwrap_err();
        assert!(err.to_string().contains("nested deeper"), "{err}");
    }

    #[test]
    fn deep_nesting_hidden_in_a_losing_concurrent_value_is_found() {
        let w = writer();
        let mut base = CrmDoc::create(DocId::new(), DocKind::Account, &w).unwrap();
        let saved = base.save();
        let mut a = CrmDoc::load(base.id(), &saved).unwrap();
        let mut b = CrmDoc::load(base.id(), &saved).unwrap();
        for (d, depth) in [(&mut a, 1), (&mut b, 40)] {
            let w = writer();
            d.begin(&w);
            let mut obj = d
                .automerge()
                .put_object(ROOT, "deals", ObjType::Map)
                .unwrap();
            for _ in 0..depth {
                obj = d.automerge().put_object(&obj, "n", ObjType::Map).unwrap();
            }
            d.commit(&w);
        }
        a.merge(&mut b).unwrap();
        let err = a.check_shape().unwrap_err();
        assert!(err.contains("nested deeper"), "{err}");
    }

    #[test]
    fn unknown_root_keys_are_refused_unless_a_newer_schema_wrote_them() {
        let w = writer();
        let mut d = CrmDoc::create(DocId::new(), DocKind::Account, &w).unwrap();
        d.begin(&w);
        d.automerge().put(ROOT, "junk", 1).unwrap();
        d.commit(&w);
        let err = d.check_shape().unwrap_err();
        assert!(err.contains("junk"), "{err}");
        d.begin(&w);
        d.automerge()
            .put(ROOT, "schema", SCHEMA_VERSION + 1)
            .unwrap();
        d.commit(&w);
        assert_eq!(d.check_shape(), Ok(()));
    }
}
