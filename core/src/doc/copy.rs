//! Copying records and fields from one document into another, whole (nested
//! maps, lists and texts included): what merging two customer files does.
//! Depth is bounded by the shape every stored document already passed.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ChangeHash, ObjId, ObjType, ReadDoc, Value};

use super::CrmDoc;
use crate::error::{Result, ValidationError};

fn copy_obj(
    src: &AutoCommit,
    from: &ObjId,
    t: ObjType,
    dst: &mut AutoCommit,
    to: &ObjId,
) -> Result<()> {
    match t {
        ObjType::Map | ObjType::Table => {
            for key in src.keys(from).collect::<Vec<_>>() {
                match src.get(from, &key)? {
                    Some((Value::Scalar(s), _)) => dst.put(to, &key, s.into_owned())?,
                    Some((Value::Object(t), id)) => {
                        let child = dst.put_object(to, &key, t)?;
                        copy_obj(src, &id, t, dst, &child)?;
                    }
                    None => {}
                }
            }
        }
        ObjType::List => {
            for i in 0..src.length(from) {
                match src.get(from, i)? {
                    Some((Value::Scalar(s), _)) => dst.insert(to, i, s.into_owned())?,
                    Some((Value::Object(t), id)) => {
                        let child = dst.insert_object(to, i, t)?;
                        copy_obj(src, &id, t, dst, &child)?;
                    }
                    None => {}
                }
            }
        }
        ObjType::Text => {
            let text = src.text(from)?;
            dst.splice_text(to, 0, 0, &text)?;
        }
    }
    Ok(())
}

fn missing(what: String) -> crate::error::CoreError {
    ValidationError::Rule(what).into()
}

impl CrmDoc {
    /// The ids of the records in a top-level container (`contacts`, ...).
    pub fn record_ids(&self, container: &str) -> Vec<String> {
        self.records(&[container])
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    }

    /// Copies record `id` of `container` from `src`, replacing any record
    /// of that id here.
    pub fn copy_record_from(&mut self, src: &CrmDoc, container: &str, id: &str) -> Result<()> {
        let from = src
            .record(&[container], id)
            .ok_or_else(|| missing(format!("no record {container}/{id} to copy")))?;
        let parent = self
            .map_at(&[container])
            .ok_or_else(|| missing(format!("no container {container} here")))?;
        let to = self.am.put_object(&parent, id, ObjType::Map)?;
        copy_obj(&src.am, &from, ObjType::Map, &mut self.am, &to)
    }

    /// Copies the value of `key` in the map at `path` from `src` (a scalar,
    /// a text, or a whole object), replacing the value here.
    pub fn copy_key_from(&mut self, src: &CrmDoc, path: &[&str], key: &str) -> Result<()> {
        let (Some(from), Some(to)) = (src.map_at(path), self.map_at(path)) else {
            return Err(missing(format!("no map {} to copy into", path.join("/"))));
        };
        match src.am.get(&from, key)? {
            Some((Value::Scalar(s), _)) => {
                let same =
                    matches!(self.am.get(&to, key)?, Some((Value::Scalar(cur), _)) if cur == s);
                if !same {
                    self.am.put(&to, key, s.into_owned())?;
                }
            }
            Some((Value::Object(ObjType::Text), id)) => {
                let text = src.am.text(&id)?;
                let here = match self.am.get(&to, key)? {
                    Some((Value::Object(ObjType::Text), t)) => t,
                    _ => self.am.put_object(&to, key, ObjType::Text)?,
                };
                self.am.update_text(&here, &text)?;
            }
            Some((Value::Object(t), id)) => {
                let child = self.am.put_object(&to, key, t)?;
                copy_obj(&src.am, &id, t, &mut self.am, &child)?;
            }
            None => {
                if self.am.get(&to, key)?.is_some() {
                    self.am.delete(&to, key)?;
                }
            }
        }
        Ok(())
    }

    /// Whether `key` in the map at `path` holds something other than at
    /// `heads` (texts compared as text; a map that did not exist then
    /// counts as changed).
    pub fn changed_since(&self, path: &[&str], key: &str, heads: &[ChangeHash]) -> bool {
        let Some(obj) = self.map_at(path) else {
            return false;
        };
        let now = self.am.get(&obj, key).ok().flatten();
        let then = self.am.get_at(&obj, key, heads).ok().flatten();
        match (now, then) {
            (None, None) => false,
            (Some((Value::Scalar(a), _)), Some((Value::Scalar(b), _))) => a != b,
            (Some((Value::Object(ObjType::Text), a)), Some((Value::Object(ObjType::Text), b)))
                if a == b =>
            {
                self.am.text(&a).ok() != self.am.text_at(&b, heads).ok()
            }
            (Some((Value::Object(_), a)), Some((Value::Object(_), b))) => a != b,
            _ => true,
        }
    }

    /// The keys of the map at `path`.
    pub fn keys_at_path(&self, path: &[&str]) -> Vec<String> {
        self.map_at(path)
            .map(|o| self.am.keys(&o).collect())
            .unwrap_or_default()
    }
}
