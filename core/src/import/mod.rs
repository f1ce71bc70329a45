//! Bringing an existing customer file in: a CSV of accounts (and their
//! contacts) read as it streams, each row mapped (`columns`), normalized
//! (phone to E.164, postcode, email, status words), validated against the
//! schema, checked for duplicates (`crate::dedup`) against the files
//! already there and the rows before it, then written through a `Sink`:
//! the device, or the server's tenant. A dry run writes nothing and
//! reports the same counts. Re-importing a file creates nothing.
//!
//! A row that duplicates a file is skipped; when it brings a contact the
//! file does not have, the contact is added (the row counts as updated):
//! exports with one row per contact come in as one file per company.

pub mod columns;
pub mod returned;
pub mod source;

use std::collections::HashMap;
use std::io::Read;

use serde::Serialize;

use crate::dedup::{phone_e164, DupIndex, Keys};
use crate::doc::value::{self, Vocab};
use crate::error::{CoreError, Result, ValidationError};
use crate::ids::DocId;
use crate::index::{fold, AccountRows, DocRows};
use crate::schema::RecordKind;
use crate::text::Lang;

pub use columns::{ColumnUse, Mapping, Overrides, Target};
pub use source::{CsvSource, Encoding};

/// Row notes kept in a report; past this only the counts grow.
pub const MAX_NOTES: usize = 10_000;

/// Fields as written: schema name and normalized text.
pub type Fields = Vec<(&'static str, String)>;

/// What `carnet import accounts` and `carnet-server import accounts` take.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct ImportArgs {
    pub file: std::path::PathBuf,
    /// Check and count, write nothing.
    #[cfg_attr(feature = "clap", arg(long))]
    pub dry_run: bool,
    /// A JSON object: header → field (`name`, `siret`, `contact.role`,
    /// `ignore`, …); kept for the next imports.
    #[cfg_attr(feature = "clap", arg(long))]
    pub mapping: Option<std::path::PathBuf>,
    /// Print the whole report as JSON.
    #[cfg_attr(feature = "clap", arg(long))]
    pub json: bool,
    /// The day the file's data was last checked (YYYY-MM-DD, its export
    /// date, say): staleness counts from it instead of the import day.
    #[cfg_attr(feature = "clap", arg(long, value_name = "DATE"))]
    pub verified_on: Option<chrono::NaiveDate>,
}

/// The largest mapping file read.
pub const MAX_MAPPING_BYTES: u64 = 64 * 1024;

/// A whole file from outside, at most `max` bytes (read through a bound, so
/// a file that grows while it is read is refused too); `too_large` says
/// why, after the path.
pub fn read_bounded(
    path: &std::path::Path,
    max: u64,
    too_large: impl FnOnce() -> String,
) -> Result<Vec<u8>> {
    let bad = |why: String| -> CoreError {
        ValidationError::Rule(format!("{}: {why}", path.display())).into()
    };
    let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| bad(e.to_string()))?;
    if bytes.len() as u64 > max {
        return Err(bad(too_large()));
    }
    Ok(bytes)
}

/// Reads a mapping file: a JSON object, header → field (`Overrides`).
pub fn read_mapping(path: &std::path::Path) -> Result<Overrides> {
    let bytes = read_bounded(path, MAX_MAPPING_BYTES, || {
        format!("a mapping file is at most {} KiB", MAX_MAPPING_BYTES / 1024)
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        ValidationError::Rule(format!(
            "{}: expected a JSON object of header → field ({e})",
            path.display()
        ))
        .into()
    })
}

/// Where imported files are written.
pub trait Sink {
    /// Writes a new customer file with its contacts, as one change.
    fn create(&mut self, account: &Fields, contacts: &[Fields]) -> Result<DocId>;
    /// Adds a contact to a file.
    fn add_contact(&mut self, account: DocId, contact: &Fields) -> Result<()>;
    /// The contacts a file already has: name and email.
    fn contacts_of(&mut self, account: DocId) -> Vec<(String, Option<String>)>;
}

/// New files a sink holds before storing them, each with what it was
/// built from: a contact on a later row for one of them (a company with
/// one row per contact) is built into the file's one change, instead of
/// the file being stored first and the contact written as a change of its
/// own.
pub struct Held<T> {
    files: Vec<HeldFile<T>>,
}

struct HeldFile<T> {
    id: DocId,
    account: Fields,
    contacts: Vec<Fields>,
    file: T,
}

impl<T> Default for Held<T> {
    fn default() -> Self {
        Held { files: Vec::new() }
    }
}

impl<T> Held<T> {
    pub fn push(&mut self, id: DocId, account: &Fields, contacts: &[Fields], file: T) {
        self.files.push(HeldFile {
            id,
            account: account.clone(),
            contacts: contacts.to_vec(),
            file,
        });
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    pub fn files(&self) -> impl Iterator<Item = &T> {
        self.files.iter().map(|f| &f.file)
    }

    /// Builds held file `id` again, with `build`, with one more contact;
    /// `None` when `id` is not held. A refused contact leaves the file as
    /// it was.
    pub fn add_contact(
        &mut self,
        id: DocId,
        contact: &Fields,
        build: impl FnOnce(DocId, &Fields, &[Fields]) -> Result<T>,
    ) -> Option<Result<()>> {
        // Most often the file of the row just before.
        let held = self.files.iter_mut().rev().find(|f| f.id == id)?;
        let mut contacts = held.contacts.clone();
        contacts.push(contact.clone());
        Some(build(id, &held.account, &contacts).map(|file| {
            held.contacts = contacts;
            held.file = file;
        }))
    }

    /// The held files, in the order they were made; none is held after.
    pub fn take(&mut self) -> Vec<T> {
        std::mem::take(&mut self.files)
            .into_iter()
            .map(|f| f.file)
            .collect()
    }
}

/// A file already there, for duplicate checks.
pub struct Existing {
    pub id: DocId,
    pub name: String,
    pub keys: Keys,
}

/// The files of `rows` (a device's index, or what one user may see), for
/// the duplicate checks.
pub fn existing_in(rows: &impl AccountRows) -> Vec<Existing> {
    rows.account_rows()
        .map(|(id, a, _)| Existing {
            id,
            name: a.name.clone(),
            keys: Keys::of_row(a),
        })
        .collect()
}

/// The contacts of an indexed file, as `Sink::contacts_of` gives them.
pub fn contacts_in(rows: &DocRows) -> Vec<(String, Option<String>)> {
    rows.contacts
        .iter()
        .map(|c| (c.name.clone(), c.email.clone()))
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Duplicate,
    Rejected,
}

/// A row skipped or rejected, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RowNote {
    pub line: u64,
    pub outcome: Outcome,
    pub reason: String,
    /// The file it duplicates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub of: Option<DocId>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    pub created: u64,
    pub updated: u64,
    pub duplicates: u64,
    pub rejected: u64,
    /// Rows with no value at all, ignored.
    pub blank: u64,
    /// Contacts written (with new files or added to existing ones).
    pub contacts: u64,
    pub dry_run: bool,
    pub encoding: Option<Encoding>,
    pub delimiter: String,
    pub columns: Vec<ColumnUse>,
    pub rows: Vec<RowNote>,
    /// Notes past `MAX_NOTES`, counted only.
    pub rows_omitted: u64,
}

impl Report {
    fn note(&mut self, note: RowNote) {
        match note.outcome {
            Outcome::Duplicate => self.duplicates += 1,
            Outcome::Rejected => self.rejected += 1,
        }
        if self.rows.len() < MAX_NOTES {
            self.rows.push(note);
        } else {
            self.rows_omitted += 1;
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub dry_run: bool,
    pub lang: Lang,
    /// When the file's data was last checked: written as the verification
    /// day of the address, phone, email and roles it brings, so a file
    /// exported years ago does not count as checked today. `None`: the
    /// import day, as for anything typed in.
    pub verified_on: Option<chrono::NaiveDate>,
}

/// Stamps the verification day on the key fields `fields` carries.
fn stamp(fields: &mut Fields, verified_on: Option<chrono::NaiveDate>, kind: RecordKind) {
    let Some(day) = verified_on else { return };
    let day = day.format("%Y-%m-%d").to_string();
    let has = |fields: &Fields, keys: &[&str]| fields.iter().any(|(k, _)| keys.contains(k));
    let stamps: &[(&[&str], &'static str)] = match kind {
        RecordKind::Contact => &[(&["role"], "verified_role")],
        _ => &[
            (
                &["address_line1", "address_line2", "postcode", "city"],
                "verified_address",
            ),
            (&["phone"], "verified_phone"),
            (&["email"], "verified_email"),
        ],
    };
    for (keys, field) in stamps {
        if has(fields, keys) {
            fields.push((field, day.clone()));
        }
    }
}

/// A row made ready to write.
struct Candidate {
    account: Fields,
    contact: Option<Fields>,
    keys: Keys,
    name: String,
}

fn reject(line: u64, reason: String) -> RowNote {
    RowNote {
        line,
        outcome: Outcome::Rejected,
        reason,
        of: None,
    }
}

/// Reads `input` to the end and writes what it brings into `sink`.
/// `progress` is called now and then with the bytes read so far.
pub fn accounts<R: Read>(
    input: R,
    overrides: &Overrides,
    vocab: &Vocab,
    existing: impl IntoIterator<Item = Existing>,
    sink: &mut dyn Sink,
    opts: &Options,
    progress: &mut dyn FnMut(u64),
) -> Result<Report> {
    let mut src = CsvSource::new(input)?;
    let mapping = Mapping::detect(src.headers(), overrides)?;
    let mut report = Report {
        dry_run: opts.dry_run,
        encoding: Some(src.encoding()),
        delimiter: src.delimiter().to_string(),
        columns: mapping.uses(src.headers()),
        ..Report::default()
    };
    let mut dups: DupIndex<DocId> = DupIndex::new();
    let mut names: HashMap<DocId, String> = HashMap::new();
    for e in existing {
        dups.insert(e.id, &e.keys);
        names.insert(e.id, e.name);
    }
    // Contacts of the files this import touched: (folded name, email).
    let mut contacts: HashMap<DocId, Vec<(String, Option<String>)>> = HashMap::new();
    // Files this import created (in a dry run, never written).
    let mut created: std::collections::HashSet<DocId> = Default::default();
    let mut n = 0u64;
    while let Some(row) = src.next_row()? {
        n += 1;
        if n.is_multiple_of(1000) {
            progress(src.bytes_read());
        }
        if row.fields.iter().all(|f| f.trim().is_empty()) {
            report.blank += 1;
            continue;
        }
        let mut c = match candidate(&mapping, &row.fields, vocab) {
            Ok(c) => c,
            Err(e) => {
                report.note(reject(row.line, e.message(opts.lang)));
                continue;
            }
        };
        stamp(&mut c.account, opts.verified_on, RecordKind::Account);
        if let Some(ct) = c.contact.as_mut() {
            stamp(ct, opts.verified_on, RecordKind::Contact);
        }
        if let Some((twin, reason)) = dups.find(&c.keys).first().copied() {
            let known = match contacts.get(&twin) {
                Some(k) => k.clone(),
                None if created.contains(&twin) => Vec::new(),
                None => sink
                    .contacts_of(twin)
                    .into_iter()
                    .map(|(n, e)| (fold(&n), e))
                    .collect(),
            };
            let new_contact = c.contact.as_ref().filter(|ct| !has_contact(&known, ct));
            if let Some(ct) = new_contact {
                if !opts.dry_run {
                    match sink.add_contact(twin, ct) {
                        Ok(()) => {}
                        Err(CoreError::Invalid(e)) => {
                            report.note(reject(row.line, e.message(opts.lang)));
                            continue;
                        }
                        Err(e) => return Err(e),
                    }
                }
                let mut known = known;
                known.push(contact_key(ct));
                contacts.insert(twin, known);
                report.updated += 1;
                report.contacts += 1;
                continue;
            }
            let of = names.get(&twin).cloned().unwrap_or_default();
            report.note(RowNote {
                line: row.line,
                outcome: Outcome::Duplicate,
                reason: match opts.lang {
                    Lang::Fr => format!("doublon de « {of} » ({})", reason.text(Lang::Fr)),
                    Lang::En => format!("duplicate of \"{of}\" ({})", reason.text(Lang::En)),
                },
                of: Some(twin),
            });
            continue;
        }
        let with: Vec<Fields> = c.contact.iter().cloned().collect();
        let id = if opts.dry_run {
            DocId::new()
        } else {
            match sink.create(&c.account, &with) {
                Ok(id) => id,
                Err(CoreError::Invalid(e)) => {
                    report.note(reject(row.line, e.message(opts.lang)));
                    continue;
                }
                Err(e) => return Err(e),
            }
        };
        report.created += 1;
        created.insert(id);
        report.contacts += with.len() as u64;
        dups.insert(id, &c.keys);
        names.insert(id, c.name);
        if !with.is_empty() {
            contacts.insert(id, with.iter().map(contact_key).collect());
        }
    }
    progress(src.bytes_read());
    Ok(report)
}

fn contact_key(c: &Fields) -> (String, Option<String>) {
    let get = |k: &str| c.iter().find(|(f, _)| *f == k).map(|(_, v)| v.clone());
    (fold(&get("name").unwrap_or_default()), get("email"))
}

fn has_contact(known: &[(String, Option<String>)], c: &Fields) -> bool {
    let (name, email) = contact_key(c);
    knows_contact(known, &name, email.as_deref())
}

/// Whether a file's contacts (`folded name`, email) already hold a person:
/// the same name (accents and case aside) or the same email. `name` is
/// folded (`index::fold`).
pub fn knows_contact(known: &[(String, Option<String>)], name: &str, email: Option<&str>) -> bool {
    known
        .iter()
        .any(|(n, e)| n == name || (email.is_some() && e.as_deref() == email))
}

/// Status words as people write them, in French or English, any case.
fn status_code(raw: &str) -> Option<&'static str> {
    match columns::header_key(raw).as_str() {
        "client" | "clients" | "cliente" | "customer" | "actif" | "active" | "active customer" => {
            Some("client")
        }
        "prospect" | "prospects" | "lead" | "leads" | "piste" | "suspect" => Some("prospect"),
        "former" | "inactif" | "inactive" | "ancien" | "ancienclient" | "exclient" | "perdu"
        | "archive" | "lost" => Some("former"),
        _ => None,
    }
}

/// A postcode as spreadsheets leave it: spaces, or a leading zero eaten
/// ("1000" for 01000).
fn postcode(raw: &str) -> String {
    let d: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    if d.len() == 4 && d.chars().all(|c| c.is_ascii_digit()) {
        format!("0{d}")
    } else {
        d
    }
}

fn normalize(kind: RecordKind, field: &str, raw: &str) -> Result<String, ValidationError> {
    let v = raw.trim();
    // A cell an export defused ("'+33…", "'=…") reads as typed.
    let v = match v.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest,
        _ => v,
    };
    Ok(match (kind, field) {
        (_, "phone" | "mobile") => phone_e164(v).unwrap_or_else(|| v.to_string()),
        (_, "email") => v.trim_start_matches("mailto:").to_lowercase(),
        (_, "postcode") => postcode(v),
        (RecordKind::Account, "status") => status_code(v)
            .ok_or_else(|| ValidationError::NotAllowed {
                field: "status".into(),
                value: v.to_string(),
                allowed: "client, prospect, inactif".into(),
            })?
            .to_string(),
        (RecordKind::Account, "siret" | "siren") => {
            v.chars().filter(|c| !" .-".contains(*c)).collect()
        }
        _ => v.split_whitespace().collect::<Vec<_>>().join(" "),
    })
}

/// Checks and normalizes one row's values.
fn candidate(
    mapping: &Mapping,
    fields: &[String],
    vocab: &Vocab,
) -> Result<Candidate, ValidationError> {
    let mut account: Vec<(&'static str, String)> = Vec::new();
    let mut contact: Vec<(&'static str, String)> = Vec::new();
    for (target, raw) in mapping.columns.iter().zip(fields) {
        let (Some(target), raw) = (target, raw.trim()) else {
            continue;
        };
        if raw.is_empty() {
            continue;
        }
        let (list, field) = match target {
            Target::Account(f) => (&mut account, *f),
            Target::Contact(f) => (&mut contact, *f),
        };
        match list.iter_mut().find(|(k, _)| *k == field) {
            // SIRENE's number, type and street name make one line.
            Some((_, v)) => {
                v.push(' ');
                v.push_str(raw);
            }
            None => list.push((field, raw.to_string())),
        }
    }
    let mut out_account = Fields::new();
    for (field, raw) in account {
        let text = normalize(RecordKind::Account, field, &raw)?;
        value::parse(RecordKind::Account.field(field), &text, vocab)?;
        out_account.push((field, text));
    }
    let name = out_account
        .iter()
        .find(|(k, _)| *k == "name")
        .map(|(_, v)| v.clone())
        .ok_or_else(|| ValidationError::Empty {
            field: "name".into(),
        })?;
    let keys = Keys::of_fields(&out_account);
    let contact = contact_fields(contact, vocab)?;
    Ok(Candidate {
        account: out_account,
        contact,
        keys,
        name,
    })
}

fn contact_fields(
    raw: Vec<(&'static str, String)>,
    vocab: &Vocab,
) -> Result<Option<Fields>, ValidationError> {
    if raw.is_empty() {
        return Ok(None);
    }
    let get = |k: &str| raw.iter().find(|(f, _)| *f == k).map(|(_, v)| v.trim());
    let name = match (get("name"), get("first_name"), get("last_name")) {
        (Some(n), _, _) => n.to_string(),
        (None, Some(f), Some(l)) => format!("{f} {l}"),
        (None, Some(n), None) | (None, None, Some(n)) => n.to_string(),
        (None, None, None) => {
            return Err(ValidationError::Empty {
                field: "contact".into(),
            })
        }
    };
    let mut out: Fields = vec![("name", name)];
    for (field, v) in &raw {
        if matches!(*field, "name" | "first_name" | "last_name") {
            continue;
        }
        let text = normalize(RecordKind::Contact, field, v)?;
        value::parse(RecordKind::Contact.field(field), &text, vocab)?;
        out.push((field, text));
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_words_and_postcodes_are_normalized() {
        assert_eq!(status_code("CLIENT"), Some("client"));
        assert_eq!(status_code("Ancien client"), Some("former"));
        assert_eq!(status_code("Prospect "), Some("prospect"));
        assert_eq!(status_code("peut-être"), None);
        assert_eq!(postcode("1000"), "01000");
        assert_eq!(postcode("69 003"), "69003");
    }

    #[test]
    fn a_contact_joins_the_held_file_it_names_and_a_refused_one_changes_nothing() {
        let fields = |v: &[(&'static str, &str)]| -> Fields {
            v.iter().map(|(k, v)| (*k, v.to_string())).collect()
        };
        // A "file" here is the names it was built with.
        let build = |_: DocId, a: &Fields, c: &[Fields]| -> Result<Vec<String>> {
            if c.iter().flatten().any(|(_, v)| v == "refusé") {
                return Err(ValidationError::Rule("refusé".into()).into());
            }
            Ok(std::iter::once(a)
                .chain(c)
                .map(|f| f[0].1.clone())
                .collect())
        };
        let (a, b) = (DocId::new(), DocId::new());
        let mut held = Held::default();
        for id in [a, b] {
            let account = fields(&[("name", &format!("Société {id}"))]);
            let contacts = [fields(&[("name", "Premier")])];
            held.push(
                id,
                &account,
                &contacts,
                build(id, &account, &contacts).unwrap(),
            );
        }
        let second = fields(&[("name", "Second")]);
        assert!(matches!(held.add_contact(a, &second, build), Some(Ok(()))));
        let bad = fields(&[("name", "refusé")]);
        assert!(matches!(held.add_contact(b, &bad, build), Some(Err(_))));
        assert!(held.add_contact(DocId::new(), &second, build).is_none());
        let files = held.take();
        assert_eq!(
            files[0],
            [format!("Société {a}"), "Premier".into(), "Second".into()]
        );
        assert_eq!(files[1], [format!("Société {b}"), "Premier".into()]);
        assert!(held.is_empty());
    }
}
