//! Erasing a person from a customer file (decision 007): the file is
//! rewritten without its history and without the person — their contact
//! record goes, references to it go, and their name, email and phone
//! numbers are replaced by `[effacé]` wherever a string or text of the file
//! holds them (notes, action subjects, the outbox). The rewritten file
//! shares no change with the old one, so no merge can bring the old bytes
//! back. A device holding the old file replays its unacknowledged edits
//! on the new one (`replay`), except edits of the erased person.

use std::collections::HashSet;

use automerge::{ActorId, ChangeHash, ScalarValue, Value};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::doc::{CrmDoc, Rewrite, Writer};
use crate::error::{Result, ValidationError};
use crate::ids::DocKind;
use crate::merge::CONTAINERS;

/// What replaces an erased name, email or phone number.
pub const ERASED: &str = "[effacé]";

/// Shortest name matched in free text: shorter ones would erase words.
const MIN_NAME_CHARS: usize = 3;
/// Fewest digits of a phone number matched in free text.
const MIN_PHONE_DIGITS: usize = 6;

/// What identifies a person in free text, folded for matching.
#[derive(Clone, Debug, Default)]
pub struct Person {
    /// Erased records (`contacts/<id>`'s id).
    pub contacts: Vec<String>,
    /// Names and emails, folded (lower case, no accents).
    words: Vec<Vec<char>>,
    /// Phone numbers as digits (international and national forms).
    phones: Vec<Vec<char>>,
}

fn fold_char(c: char) -> char {
    let mut s = [0u8; 4];
    c.encode_utf8(&mut s)
        .nfd()
        .find(|c| !is_combining_mark(*c))
        .and_then(|c| c.to_lowercase().next())
        .unwrap_or(c)
}

fn folded(s: &str) -> Vec<char> {
    s.chars().map(fold_char).collect()
}

impl Person {
    /// The contact `id` of `doc` (a customer file): their name (both
    /// orders), email and phone numbers.
    pub fn of(doc: &CrmDoc, id: &str) -> Result<Person> {
        let mut p = Person::default();
        p.add(doc, id)?;
        Ok(p)
    }

    /// Adds contact `id` of `doc` to what is erased.
    pub fn add(&mut self, doc: &CrmDoc, id: &str) -> Result<()> {
        if doc.kind() != DocKind::Account {
            return Err(ValidationError::Rule("only a customer file holds contacts".into()).into());
        }
        let rec = doc
            .record(&["contacts"], id)
            .ok_or_else(|| ValidationError::Rule(format!("no contact {id}")))?;
        self.contacts.push(id.to_string());
        if let Some(name) = doc.get_str(&rec, "name") {
            let words: Vec<&str> = name.split_whitespace().collect();
            let mut forms = vec![words.join(" ")];
            if words.len() > 1 {
                let mut rev = words.clone();
                rev.rotate_left(1);
                forms.push(rev.join(" "));
            }
            for f in forms {
                if f.chars().count() >= MIN_NAME_CHARS {
                    self.words.push(folded(&f));
                }
            }
        }
        if let Some(email) = doc.get_str(&rec, "email").filter(|e| e.contains('@')) {
            self.words.push(folded(email.trim()));
        }
        for key in ["phone", "mobile"] {
            let Some(phone) = doc.get_str(&rec, key) else {
                continue;
            };
            let digits: String = phone.chars().filter(|c| c.is_ascii_digit()).collect();
            if digits.len() < MIN_PHONE_DIGITS {
                continue;
            }
            self.phones.push(digits.chars().collect());
            // +33 6 12 34 56 78 is also written 06 12 34 56 78.
            if let Some(national) = digits.strip_prefix("33") {
                self.phones.push(format!("0{national}").chars().collect());
            }
        }
        Ok(())
    }

    /// Byte ranges of `s` that name the person.
    fn spans(&self, s: &str) -> Vec<(usize, usize)> {
        let chars: Vec<(usize, char)> = s.char_indices().collect();
        let f: Vec<char> = chars.iter().map(|(_, c)| fold_char(*c)).collect();
        let byte = |i: usize| chars.get(i).map_or(s.len(), |(b, _)| *b);
        let word_char = |i: Option<&char>| i.is_some_and(|c| c.is_alphanumeric());
        let mut out = Vec::new();
        for i in 0..f.len() {
            let before = if i == 0 { None } else { f.get(i - 1) };
            for w in &self.words {
                let end = i + w.len();
                if f.get(i..end) == Some(w.as_slice())
                    && !(word_char(before) && w.first().is_some_and(|c| c.is_alphanumeric()))
                    && !(word_char(f.get(end)) && w.last().is_some_and(|c| c.is_alphanumeric()))
                {
                    out.push((byte(i), byte(end)));
                }
            }
            if before.is_some_and(|c| c.is_ascii_digit()) {
                continue;
            }
            for p in &self.phones {
                if let Some(end) = phone_at(&f, i, p) {
                    out.push((byte(i), byte(end)));
                }
            }
        }
        out
    }

    /// `s` with every mention of the person replaced by `[effacé]`, or
    /// `None` when it names them nowhere.
    pub fn scrub(&self, s: &str) -> Option<String> {
        let mut spans = self.spans(s);
        if spans.is_empty() {
            return None;
        }
        spans.sort();
        let mut out = String::with_capacity(s.len());
        let mut at = 0;
        for (a, b) in spans {
            if b <= at {
                continue;
            }
            out.push_str(&s[at..a.max(at)]);
            if a >= at {
                out.push_str(ERASED);
            }
            at = b;
        }
        out.push_str(&s[at..]);
        Some(out)
    }

    pub fn is_empty(&self) -> bool {
        self.contacts.is_empty()
    }
}

/// Where phone number `digits` starts at `i` of folded text `f` (digits
/// with spaces, dots, dashes or slashes between them, a leading `+`), the
/// index after its last digit; not inside a longer number.
fn phone_at(f: &[char], i: usize, digits: &[char]) -> Option<usize> {
    let mut j = i;
    if f.get(j) == Some(&'+') {
        j += 1;
    }
    let mut k = 0;
    while k < digits.len() {
        match f.get(j) {
            Some(c) if c.is_ascii_digit() => {
                if *c != digits[k] {
                    return None;
                }
                k += 1;
            }
            Some(' ' | '.' | '-' | '/' | '\u{a0}') if k > 0 => {}
            _ => return None,
        }
        j += 1;
    }
    if f.get(j).is_some_and(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(j)
}

impl Rewrite for Person {
    fn skip(&self, path: &[String], key: &str, value: &Value<'_>) -> bool {
        // The record itself, and any reference to it (a deal's, an
        // action's, a quote's or a message's `contact`).
        if path.len() == 1 && path[0] == "contacts" && self.contacts.iter().any(|c| c == key) {
            return true;
        }
        key == "contact"
            && matches!(value, Value::Scalar(s)
                if matches!(s.as_ref(), ScalarValue::Str(id) if self.contacts.iter().any(|c| c == id.as_str())))
    }

    fn scrub(&self, s: &str) -> Option<String> {
        Person::scrub(self, s)
    }
}

/// `doc` without the person and without its history: one change by
/// `writer` (give it a fresh actor: the new lineage shares no actor
/// sequence with the old one).
pub fn rewrite(doc: &CrmDoc, person: &Person, writer: &Writer) -> Result<CrmDoc> {
    if person.is_empty() {
        return Err(ValidationError::Rule("nobody to erase".into()).into());
    }
    doc.rewritten(writer, person)
}

/// The heads of what the server had of `old` (this device's copy): every
/// change but this device's own not yet acknowledged. In a star topology
/// a change by another actor came from the server, and `acked` are the
/// heads the server last acknowledged of this device's.
pub fn server_heads(old: &mut CrmDoc, mine: &ActorId, acked: &[ChangeHash]) -> Vec<ChangeHash> {
    let graph = old.change_graph();
    let deps: std::collections::HashMap<ChangeHash, Vec<ChangeHash>> =
        graph.iter().map(|(h, _, d)| (*h, d.clone())).collect();
    // Ancestors of the acknowledged heads, them included.
    let mut known: HashSet<ChangeHash> = HashSet::new();
    let mut stack: Vec<ChangeHash> = acked.to_vec();
    while let Some(h) = stack.pop() {
        if deps.contains_key(&h) && known.insert(h) {
            stack.extend(deps[&h].iter().copied());
        }
    }
    for (h, actor, _) in &graph {
        if actor != mine {
            known.insert(*h);
        }
    }
    // A change the server had depends only on changes it had.
    let mut is_dep: HashSet<ChangeHash> = HashSet::new();
    for h in &known {
        is_dep.extend(deps[h].iter().copied());
    }
    let mut heads: Vec<ChangeHash> = known.into_iter().filter(|h| !is_dep.contains(h)).collect();
    heads.sort();
    heads
}

/// Carries into `fresh` (the server's rewritten file) what `old` (this
/// device's copy of the old lineage) changed after `since`: records
/// created, fields edited, records deleted; never a record or a
/// reference of `erased`, and every string scrubbed of the people
/// `old` names there. Returns the fields and records written.
pub fn replay(
    fresh: &mut CrmDoc,
    old: &CrmDoc,
    since: &[ChangeHash],
    erased: &[String],
) -> Result<usize> {
    let mut person = Person::default();
    for id in erased {
        if old.record(&["contacts"], id).is_some() {
            person.add(old, id)?;
        } else {
            person.contacts.push(id.clone());
        }
    }
    let mut n = 0;
    for c in CONTAINERS {
        let had = old.record_ids_at(c, since);
        let have = fresh.record_ids(c);
        let now = old.record_ids(c);
        for id in &now {
            if c == "contacts" && erased.contains(id) {
                continue;
            }
            if !had.contains(id) {
                // Created offline.
                if !have.contains(id) {
                    fresh.copy_record_with(old, c, id, &person)?;
                    n += 1;
                }
                continue;
            }
            if !have.contains(id) {
                // Gone from the server's file: not brought back.
                continue;
            }
            for key in old.keys_at_path(&[c, id]) {
                if old.changed_since(&[c, id], &key, since) {
                    fresh.copy_key_with(old, &[c, id], &key, &person)?;
                    n += 1;
                }
            }
        }
        for id in had {
            if !now.contains(&id) && have.contains(&id) {
                fresh.delete_record(&[c], &id)?;
                n += 1;
            }
        }
    }
    for key in old.keys_at_path(&["account"]) {
        if old.changed_since(&["account"], &key, since) {
            fresh.copy_key_with(old, &["account"], &key, &person)?;
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::FieldValue;
    use crate::ids::DocId;
    use crate::schema::{resolve, RecordKind};

    fn writer(user: &str) -> Writer {
        Writer {
            user: user.into(),
            actor: ActorId::random(),
            now: 1_780_000_000,
        }
    }

    fn put(doc: &mut CrmDoc, path: &str, v: FieldValue) {
        let p = resolve(DocKind::Account, path).unwrap();
        doc.put_field(&p, &v).unwrap();
    }

    /// A file with two contacts, a note and an action naming the first.
    fn file(w: &Writer) -> CrmDoc {
        let mut d = CrmDoc::create(DocId::new(), DocKind::Account, w).unwrap();
        crate::persist::edit(&mut d, w, |d| -> Result<()> {
            put(d, "account/name", FieldValue::Str("Boulangerie Martin".into()));
            put(d, "account/kind", FieldValue::Str("company".into()));
            d.create_record(
                &["contacts"],
                "c1",
                RecordKind::Contact,
                &[
                    ("name", FieldValue::Str("Léa Dupré".into())),
                    ("email", FieldValue::Str("lea.dupre@example.fr".into())),
                    ("mobile", FieldValue::Str("+33612345678".into())),
                ],
            )?;
            d.create_record(
                &["contacts"],
                "c2",
                RecordKind::Contact,
                &[("name", FieldValue::Str("Paul Roux".into()))],
            )?;
            d.create_record(
                &["notes"],
                "n1",
                RecordKind::Note,
                &[(
                    "body",
                    FieldValue::Text(
                        "Appeler Lea Dupre au 06 12 34 56 78 ou LEA.DUPRE@example.fr ; Paul Roux signe."
                            .into(),
                    ),
                )],
            )?;
            Ok(())
        })
        .unwrap();
        d
    }

    #[test]
    fn scrub_finds_names_emails_and_phones_in_any_case_accent_and_spacing() {
        let w = writer("alice");
        let d = file(&w);
        let p = Person::of(&d, "c1").unwrap();
        assert_eq!(
            p.scrub("Vu DUPRÉ Léa hier, tél. +33 6 12 34 56 78.")
                .as_deref(),
            Some("Vu [effacé] hier, tél. [effacé].")
        );
        assert_eq!(
            p.scrub("lea.dupre@example.fr/0612345678").as_deref(),
            Some("[effacé]/[effacé]")
        );
        // Not inside longer words or numbers.
        assert_eq!(p.scrub("Léa Duprés et 061234567890"), None);
        assert_eq!(p.scrub("rien"), None);
    }

    #[test]
    fn rewrite_drops_the_person_keeps_everyone_else_and_shares_no_history() {
        let w = writer("alice");
        let mut d = file(&w);
        let p = Person::of(&d, "c1").unwrap();
        let mut server = writer("server");
        server.now += 10;
        let mut fresh = rewrite(&d, &p, &server).unwrap();
        assert!(fresh.record(&["contacts"], "c1").is_none());
        let c2 = fresh.record(&["contacts"], "c2").unwrap();
        assert_eq!(fresh.get_str(&c2, "name").as_deref(), Some("Paul Roux"));
        let n1 = fresh.record(&["notes"], "n1").unwrap();
        assert_eq!(
            fresh.get_text(&n1, "body").as_deref(),
            Some("Appeler [effacé] au [effacé] ou [effacé] ; Paul Roux signe.")
        );
        let acc = fresh.map_at(&["account"]).unwrap();
        assert_eq!(
            fresh.get_str(&acc, "name").as_deref(),
            Some("Boulangerie Martin")
        );
        // One change, none of the old ones, and no trace in the bytes.
        let old: HashSet<ChangeHash> = d.change_graph().iter().map(|(h, _, _)| *h).collect();
        let graph = fresh.change_graph();
        assert_eq!(graph.len(), 1);
        assert!(!old.contains(&graph[0].0));
        let bytes = fresh.save();
        let reloaded = CrmDoc::load(d.id(), &bytes).unwrap();
        assert_eq!(reloaded.kind(), DocKind::Account);
        for needle in ["Dupr", "dupre@", "612345678"] {
            assert!(
                !bytes.windows(needle.len()).any(|x| x == needle.as_bytes()),
                "{needle} left in the rewritten bytes"
            );
        }
    }

    #[test]
    fn replay_carries_offline_edits_but_not_the_erased_person() {
        let alice = writer("alice");
        let mut old = file(&alice);
        let since = old.heads();
        let server_copy = CrmDoc::from_automerge(old.id(), old.automerge().fork()).unwrap();
        // Offline, after the server's copy: edits of everything.
        crate::persist::edit(&mut old, &alice, |d| -> Result<()> {
            put(d, "account/city", FieldValue::Str("Lyon".into()));
            put(d, "contacts/c2/role", FieldValue::Str("Gérant".into()));
            put(d, "contacts/c1/role", FieldValue::Str("Acheteuse".into()));
            d.create_record(
                &["notes"],
                "n2",
                RecordKind::Note,
                &[(
                    "body",
                    FieldValue::Text("Léa Dupré rappelle lundi, Paul aussi.".into()),
                )],
            )?;
            d.delete_record(&["notes"], "n1")?;
            Ok(())
        })
        .unwrap();
        let p = Person::of(&server_copy, "c1").unwrap();
        let mut fresh = rewrite(&server_copy, &p, &writer("server")).unwrap();
        assert!(fresh.record(&["notes"], "n1").is_some());
        let written = crate::persist::edit(&mut fresh, &alice, |f| {
            replay(f, &old, &since, &["c1".into()])
        })
        .unwrap();
        assert_eq!(written, 4, "city, c2's role, n2, n1 deleted");
        let acc = fresh.map_at(&["account"]).unwrap();
        assert_eq!(fresh.get_str(&acc, "city").as_deref(), Some("Lyon"));
        let c2 = fresh.record(&["contacts"], "c2").unwrap();
        assert_eq!(fresh.get_str(&c2, "role").as_deref(), Some("Gérant"));
        assert!(
            fresh.record(&["contacts"], "c1").is_none(),
            "erased stays erased"
        );
        assert!(fresh.record(&["notes"], "n1").is_none(), "deleted offline");
        let n2 = fresh.record(&["notes"], "n2").unwrap();
        assert_eq!(
            fresh.get_text(&n2, "body").as_deref(),
            Some("[effacé] rappelle lundi, Paul aussi.")
        );
    }

    #[test]
    fn server_heads_are_the_others_changes_and_the_acknowledged_ones() {
        let server = writer("server");
        let alice = writer("alice");
        let mut d = CrmDoc::create(DocId::new(), DocKind::Account, &server).unwrap();
        let base = d.heads();
        crate::persist::edit(&mut d, &alice, |d| -> Result<()> {
            put(d, "account/city", FieldValue::Str("Lyon".into()));
            Ok(())
        })
        .unwrap();
        let acked = d.heads();
        crate::persist::edit(&mut d, &alice, |d| -> Result<()> {
            put(d, "account/city", FieldValue::Str("Nantes".into()));
            Ok(())
        })
        .unwrap();
        assert_eq!(server_heads(&mut d, &alice.actor, &[]), base);
        assert_eq!(server_heads(&mut d, &alice.actor, &acked), acked);
    }
}
