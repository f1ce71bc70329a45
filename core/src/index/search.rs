//! Name search over the index: accent- and case-insensitive, every word of
//! the query must match the account (name, city, postcode, email, SIRET,
//! phone) or one of its contacts.

use serde::Serialize;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use super::Index;
use crate::ids::DocId;

/// Lowercase, without accents: "Société Générale" -> "societe generale".
pub fn fold(s: &str) -> String {
    s.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SearchHit {
    pub id: DocId,
    pub name: String,
    pub status: String,
    pub postcode: Option<String>,
    pub city: Option<String>,
    pub owner: String,
    /// The contact whose name matched, when the account itself did not.
    pub contact: Option<String>,
}

impl Index {
    /// Accounts matching `query` (all accounts when empty), by name, at most
    /// `limit` of them; accounts whose name starts with the query come first.
    pub fn search(&self, query: &str, limit: usize) -> Vec<SearchHit> {
        let q = fold(query);
        let words: Vec<&str> = q.split_whitespace().collect();
        let mut hits: Vec<(bool, String, SearchHit)> = Vec::new();
        for (id, a, rows) in self.accounts() {
            let mut contact = None;
            let matched = words.iter().all(|w| a.search.contains(w))
                || rows.contacts.iter().any(|c| {
                    let ok = words.iter().all(|w| c.search.contains(w));
                    if ok {
                        contact = Some(c.name.clone());
                    }
                    ok
                });
            if !matched {
                continue;
            }
            let folded_name = fold(&a.name);
            let prefix = !q.is_empty() && folded_name.starts_with(q.trim());
            hits.push((
                !prefix,
                folded_name,
                SearchHit {
                    id,
                    name: a.name.clone(),
                    status: a.status.clone(),
                    postcode: a.postcode.clone(),
                    city: a.city.clone(),
                    owner: a.owner.clone(),
                    contact,
                },
            ));
        }
        let key = |h: &(bool, String, SearchHit)| (h.0, h.1.clone(), h.2.id);
        if hits.len() > limit {
            hits.select_nth_unstable_by_key(limit, key);
            hits.truncate(limit);
        }
        hits.sort_by_key(key);
        hits.into_iter().map(|(_, _, h)| h).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_strips_accents_and_case() {
        assert_eq!(fold("Société GÉNÉRALE"), "societe generale");
        assert_eq!(fold("Ça coûte"), "ca coute");
    }
}
