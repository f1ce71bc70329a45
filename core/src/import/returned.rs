//! The list of returned mail after a mailing ("NPAI", "n'habite pas à
//! l'adresse indiquée"), or of bounced email addresses, as a CSV: each row
//! is matched to the customer file it names (SIRET, SIREN, email, phone,
//! or name and postcode, as duplicates are found) and that file is marked,
//! so it leaves the next mailing and is listed for correction.

use std::io::Read;

use serde::Serialize;

use super::{columns::Target, CsvSource, Existing, Mapping, Overrides};
use crate::dedup::{DupIndex, Keys};
use crate::error::Result;
use crate::ids::DocId;

/// A row that named no file, or more than one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Unmatched {
    pub line: u64,
    pub reason: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ReturnedReport {
    /// Files marked.
    pub marked: u64,
    /// Rows naming a file already marked, or one marked by an earlier row.
    pub already: u64,
    pub unmatched: Vec<Unmatched>,
}

/// Matches each row of `input` to a file of `existing` and calls `mark`
/// once per file found (`already_marked` says which are marked already).
pub fn returned<R: Read>(
    input: R,
    existing: impl IntoIterator<Item = Existing>,
    already_marked: impl Fn(DocId) -> bool,
    mark: &mut dyn FnMut(DocId) -> Result<()>,
) -> Result<ReturnedReport> {
    let mut src = CsvSource::new(input)?;
    // A bounce list may hold only addresses: no name column needed.
    let mapping = Mapping::recognize(src.headers(), &Overrides::new())?;
    let mut ix = DupIndex::new();
    for e in existing {
        ix.insert(e.id, &e.keys);
    }
    let mut report = ReturnedReport::default();
    let mut done: std::collections::HashSet<DocId> = Default::default();
    while let Some(row) = src.next_row()? {
        if row.fields.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let get = |field: &'static str| -> Option<String> {
            let v: Vec<&str> = mapping
                .columns
                .iter()
                .zip(&row.fields)
                .filter(|(t, v)| **t == Some(Target::Account(field)) && !v.trim().is_empty())
                .map(|(_, v)| v.trim())
                .collect();
            (!v.is_empty()).then(|| v.join(" "))
        };
        let keys = Keys::of(
            &get("name").unwrap_or_default(),
            get("postcode").as_deref(),
            get("siret").as_deref(),
            get("siren").as_deref(),
            get("email").as_deref(),
            get("phone").as_deref(),
        );
        let found = ix.find(&keys);
        let strongest: Vec<DocId> = match found.first() {
            Some((_, r)) => found
                .iter()
                .filter(|(_, x)| x == r)
                .map(|(id, _)| *id)
                .collect(),
            None => Vec::new(),
        };
        match strongest[..] {
            [] => report.unmatched.push(Unmatched {
                line: row.line,
                reason: "aucun dossier ne correspond".into(),
            }),
            [id] => {
                if done.contains(&id) || already_marked(id) {
                    report.already += 1;
                } else {
                    mark(id)?;
                    done.insert(id);
                    report.marked += 1;
                }
            }
            _ => report.unmatched.push(Unmatched {
                line: row.line,
                reason: format!(
                    "{} dossiers correspondent : aucun n'est marqué",
                    strongest.len()
                ),
            }),
        }
    }
    Ok(report)
}
