//! Copying records and fields from one document into another, whole (nested
//! maps, lists and texts included): what merging two customer files does,
//! and, through a `Rewrite` that skips and scrubs, what erasing a person
//! does (a document rewritten without its history, edits replayed on it).
//! Depth is bounded by the shape every stored document already passed.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ChangeHash, ObjId, ObjType, ReadDoc, Value};

use super::CrmDoc;
use crate::error::{Result, ValidationError};

/// A copy as it is: nothing skipped, nothing scrubbed.
struct AsIs;

impl Rewrite for AsIs {
    fn skip(&self, _: &[String], _: &str, _: &Value<'_>) -> bool {
        false
    }
    fn scrub(&self, _: &str) -> Option<String> {
        None
    }
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
        self.copy_record_with(src, container, id, &AsIs)
    }

    /// `copy_record_from` through a rewrite (what it skips and scrubs).
    pub fn copy_record_with(
        &mut self,
        src: &CrmDoc,
        container: &str,
        id: &str,
        rw: &dyn Rewrite,
    ) -> Result<()> {
        let from = src
            .record(&[container], id)
            .ok_or_else(|| missing(format!("no record {container}/{id} to copy")))?;
        let parent = self
            .map_at(&[container])
            .ok_or_else(|| missing(format!("no container {container} here")))?;
        let to = self.am.put_object(&parent, id, ObjType::Map)?;
        let mut path = vec![container.to_string(), id.to_string()];
        copy_rewritten(
            &src.am,
            &from,
            ObjType::Map,
            &mut self.am,
            &to,
            &mut path,
            rw,
        )
    }

    /// Copies the value of `key` in the map at `path` from `src` (a scalar,
    /// a text, or a whole object), replacing the value here.
    pub fn copy_key_from(&mut self, src: &CrmDoc, path: &[&str], key: &str) -> Result<()> {
        self.copy_key_with(src, path, key, &AsIs)
    }

    /// `copy_key_from` through a rewrite (strings scrubbed; a value it
    /// skips is left as it is here).
    pub fn copy_key_with(
        &mut self,
        src: &CrmDoc,
        path: &[&str],
        key: &str,
        rw: &dyn Rewrite,
    ) -> Result<()> {
        let (Some(from), Some(to)) = (src.map_at(path), self.map_at(path)) else {
            return Err(missing(format!("no map {} to copy into", path.join("/"))));
        };
        let here_path: Vec<String> = path.iter().map(|p| p.to_string()).collect();
        let value = src.am.get(&from, key)?;
        if let Some((v, _)) = &value {
            if rw.skip(&here_path, key, v) {
                return Ok(());
            }
        }
        match value {
            Some((Value::Scalar(s), _)) => {
                let s = scrubbed(rw, s);
                let same =
                    matches!(self.am.get(&to, key)?, Some((Value::Scalar(cur), _)) if cur == s);
                if !same {
                    self.am.put(&to, key, s.into_owned())?;
                }
            }
            Some((Value::Object(ObjType::Text), id)) => {
                let text = src.am.text(&id)?;
                let text = rw.scrub(&text).unwrap_or(text);
                let here = match self.am.get(&to, key)? {
                    Some((Value::Object(ObjType::Text), t)) => t,
                    _ => self.am.put_object(&to, key, ObjType::Text)?,
                };
                self.am.update_text(&here, &text)?;
            }
            Some((Value::Object(t), id)) => {
                let child = self.am.put_object(&to, key, t)?;
                let mut at = here_path;
                at.push(key.to_string());
                copy_rewritten(&src.am, &id, t, &mut self.am, &child, &mut at, rw)?;
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

/// What a rewrite keeps and how it changes strings (`CrmDoc::rewritten`).
pub trait Rewrite {
    /// Whether the value at `key` of the map at `path` is left out.
    fn skip(&self, path: &[String], key: &str, value: &Value<'_>) -> bool;
    /// The string to write instead of `s`, if it must change.
    fn scrub(&self, s: &str) -> Option<String>;
}

/// `s` with its string scrubbed by `rw` (other scalars as they are).
fn scrubbed<'a>(
    rw: &dyn Rewrite,
    s: std::borrow::Cow<'a, automerge::ScalarValue>,
) -> std::borrow::Cow<'a, automerge::ScalarValue> {
    match s.as_ref() {
        automerge::ScalarValue::Str(text) => match rw.scrub(text) {
            Some(clean) => std::borrow::Cow::Owned(automerge::ScalarValue::Str(clean.into())),
            None => s,
        },
        _ => s,
    }
}

fn copy_rewritten(
    src: &AutoCommit,
    from: &ObjId,
    t: ObjType,
    dst: &mut AutoCommit,
    to: &ObjId,
    path: &mut Vec<String>,
    rw: &dyn Rewrite,
) -> Result<()> {
    let scalar = |s| scrubbed(rw, s).into_owned();
    match t {
        ObjType::Map | ObjType::Table => {
            for key in src.keys(from).collect::<Vec<_>>() {
                let Some((value, id)) = src.get(from, &key)? else {
                    continue;
                };
                if rw.skip(path, &key, &value) {
                    continue;
                }
                match value {
                    Value::Scalar(s) => dst.put(to, &key, scalar(s))?,
                    Value::Object(t) => {
                        let child = dst.put_object(to, &key, t)?;
                        path.push(key);
                        copy_rewritten(src, &id, t, dst, &child, path, rw)?;
                        path.pop();
                    }
                }
            }
        }
        ObjType::List => {
            let mut at = 0;
            for i in 0..src.length(from) {
                match src.get(from, i)? {
                    Some((Value::Scalar(s), _)) => dst.insert(to, at, scalar(s))?,
                    Some((Value::Object(t), id)) => {
                        let child = dst.insert_object(to, at, t)?;
                        path.push(i.to_string());
                        copy_rewritten(src, &id, t, dst, &child, path, rw)?;
                        path.pop();
                    }
                    None => continue,
                }
                at += 1;
            }
        }
        ObjType::Text => {
            let text = src.text(from)?;
            let text = rw.scrub(&text).unwrap_or(text);
            dst.splice_text(to, 0, 0, &text)?;
        }
    }
    Ok(())
}

impl CrmDoc {
    /// This document as a new one without its history: what it holds now,
    /// less what `rw` skips and with its strings scrubbed, written as one
    /// change by `writer`. It keeps its id and kind; it shares no change
    /// with this one (a new lineage), so nothing of the old history can
    /// reach it through a merge. Concurrent values keep only the winner.
    pub fn rewritten(&self, writer: &super::Writer, rw: &dyn Rewrite) -> Result<CrmDoc> {
        let mut am = AutoCommit::new();
        super::set_writer(&mut am, writer);
        copy_rewritten(
            &self.am,
            &automerge::ROOT,
            ObjType::Map,
            &mut am,
            &automerge::ROOT,
            &mut Vec::new(),
            rw,
        )?;
        let mut doc = CrmDoc {
            id: self.id,
            kind: self.kind,
            am,
        };
        doc.commit(writer);
        Ok(doc)
    }

    /// The ids of the records a top-level container held at `heads`.
    pub fn record_ids_at(&self, container: &str, heads: &[ChangeHash]) -> Vec<String> {
        let Some(obj) = self.map_at(&[container]) else {
            return Vec::new();
        };
        self.am.keys_at(&obj, heads).collect()
    }

    /// Every change of this document: (hash, actor, dependencies).
    pub fn change_graph(&mut self) -> Vec<(ChangeHash, automerge::ActorId, Vec<ChangeHash>)> {
        self.am
            .get_changes(&[])
            .into_iter()
            .map(|c| (c.hash(), c.actor_id().clone(), c.deps().to_vec()))
            .collect()
    }
}
