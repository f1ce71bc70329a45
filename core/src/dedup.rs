//! Duplicate customer files ("doublons"): the keys that make two files the
//! same company, an index to find a candidate's twin among thousands in
//! constant time, and a tenant-wide grouping. Pure functions of account
//! values: the device (warning at creation, offline), the import and the
//! server's scan all call these.
//!
//! Two files are the same when they share, in this order of strength: the
//! SIRET, the SIREN (one of them without a SIRET), the email, the phone
//! (E.164), or the name and postcode once accents, case, punctuation,
//! articles and legal-form words (SARL, SAS, EURL…) are ignored. Two files
//! whose SIRETs both exist and differ are two establishments, never
//! duplicates, whatever else they share.

use std::collections::HashMap;
use std::hash::Hash;

use serde::Serialize;

use crate::ids::DocId;
use crate::index::{fold, AccountRow, AccountRows};
use crate::text::Lang;

/// Why two files are taken for the same company, strongest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Siret,
    Siren,
    Email,
    Phone,
    NamePostcode,
}

impl Reason {
    /// As serialized: `siret`, `siren`, `email`, `phone`, `name_postcode`.
    pub fn code(self) -> &'static str {
        match self {
            Reason::Siret => "siret",
            Reason::Siren => "siren",
            Reason::Email => "email",
            Reason::Phone => "phone",
            Reason::NamePostcode => "name_postcode",
        }
    }

    pub fn text(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Reason::Siret, Lang::Fr) => "même SIRET",
            (Reason::Siret, Lang::En) => "same SIRET",
            (Reason::Siren, Lang::Fr) => "même SIREN",
            (Reason::Siren, Lang::En) => "same SIREN",
            (Reason::Email, Lang::Fr) => "même e-mail",
            (Reason::Email, Lang::En) => "same email",
            (Reason::Phone, Lang::Fr) => "même téléphone",
            (Reason::Phone, Lang::En) => "same phone",
            (Reason::NamePostcode, Lang::Fr) => "même nom et code postal",
            (Reason::NamePostcode, Lang::En) => "same name and postcode",
        }
    }
}

/// Words that do not tell two companies apart: legal forms, "établissements",
/// articles and "et".
const NOISE: &[&str] = &[
    "sarl",
    "sas",
    "sasu",
    "sa",
    "eurl",
    "sci",
    "snc",
    "scs",
    "sca",
    "scop",
    "scp",
    "selarl",
    "selas",
    "sem",
    "gie",
    "ei",
    "eirl",
    "ste",
    "societe",
    "ets",
    "etablissements",
    "etablissement",
    "cie",
    "compagnie",
    "et",
    "le",
    "la",
    "les",
    "l",
    "de",
    "du",
    "des",
    "d",
    "and",
    "the",
    "ltd",
    "inc",
    "gmbh",
    "co",
    "fils",
    "freres",
];

/// A company name as compared: its words without accents, case,
/// punctuation or noise words, in alphabetical order ("Martin
/// (Boulangerie)" is "Boulangerie Martin"): "Boulangerie Martin & Fils
/// S.A.R.L." and "boulangerie martin" both give "boulangeriemartin".
pub fn name_key(name: &str) -> String {
    let folded = fold(name).replace('.', "");
    let mut words: Vec<&str> = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !NOISE.contains(w))
        .collect();
    words.sort_unstable();
    let key = words.concat();
    if key.is_empty() {
        // A name made only of noise words ("SA") is still a name.
        folded.chars().filter(|c| c.is_alphanumeric()).collect()
    } else {
        key
    }
}

/// A phone number in E.164 (`+33123456789`): French national numbers
/// (`01 23 45 67 89`), `0033…`, `+33 (0)1…`; other numbers must carry
/// their country code. `None` for what is not a phone number.
pub fn phone_e164(raw: &str) -> Option<String> {
    let t = raw.trim();
    if t.is_empty()
        || !t
            .chars()
            .all(|c| c.is_ascii_digit() || " .-/()+".contains(c))
    {
        return None;
    }
    let plus = t.starts_with('+');
    // "+33 (0)1 23…": the trunk zero in parentheses is not dialled.
    let t = t.replace("(0)", "");
    let digits: String = t.chars().filter(|c| c.is_ascii_digit()).collect();
    let intl = if plus {
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_string()
    } else if digits.len() == 10 && digits.starts_with('0') {
        format!("33{}", &digits[1..])
    } else if digits.len() == 9 && !digits.starts_with('0') {
        // A French number whose leading zero a spreadsheet ate.
        format!("33{digits}")
    } else {
        return None;
    };
    // "+33 0 1 23…" written with the trunk zero kept.
    let intl = match intl.strip_prefix("330") {
        Some(rest) if rest.len() == 9 => format!("33{rest}"),
        _ => intl,
    };
    if (8..=15).contains(&intl.len()) && !intl.starts_with('0') {
        Some(format!("+{intl}"))
    } else {
        None
    }
}

/// What identifies one customer file, normalized for comparison.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Keys {
    pub siret: Option<String>,
    pub siren: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// `name_key` and postcode.
    pub name_postcode: Option<String>,
}

impl Keys {
    /// Keys from raw values (as stored or as typed).
    pub fn of(
        name: &str,
        postcode: Option<&str>,
        siret: Option<&str>,
        siren: Option<&str>,
        email: Option<&str>,
        phone: Option<&str>,
    ) -> Keys {
        let digits = |s: &str| -> String { s.chars().filter(|c| c.is_ascii_digit()).collect() };
        let siret = siret.map(digits).filter(|s| s.len() == 14);
        let siren = siret
            .as_ref()
            .map(|s| s[..9].to_string())
            .or_else(|| siren.map(digits).filter(|s| s.len() == 9));
        let email = email
            .map(|e| e.trim().to_lowercase())
            .filter(|e| e.contains('@'));
        let phone = phone.and_then(phone_e164);
        let name = name_key(name);
        let postcode = postcode.map(digits).filter(|p| !p.is_empty());
        let name_postcode = match (name.is_empty(), postcode) {
            (false, Some(p)) => Some(format!("{name}\u{1f}{p}")),
            _ => None,
        };
        Keys {
            siret,
            siren,
            email,
            phone,
            name_postcode,
        }
    }

    /// Keys of an indexed customer file.
    pub fn of_row(a: &AccountRow) -> Keys {
        Keys::of(
            &a.name,
            a.postcode.as_deref(),
            a.siret.as_deref(),
            a.siren.as_deref(),
            a.email.as_deref(),
            a.phone.as_deref(),
        )
    }

    /// Keys of an account's fields as typed or imported (`name`,
    /// `postcode`, `siret`, `siren`, `email`, `phone`; others ignored).
    pub fn of_fields<K: AsRef<str>>(fields: &[(K, String)]) -> Keys {
        let get = |k: &str| {
            fields
                .iter()
                .find(|(f, v)| f.as_ref() == k && !v.trim().is_empty())
                .map(|(_, v)| v.as_str())
        };
        Keys::of(
            get("name").unwrap_or(""),
            get("postcode"),
            get("siret"),
            get("siren"),
            get("email"),
            get("phone"),
        )
    }

    fn each(&self) -> impl Iterator<Item = (Reason, &str)> {
        [
            (Reason::Siret, &self.siret),
            (Reason::Siren, &self.siren),
            (Reason::Email, &self.email),
            (Reason::Phone, &self.phone),
            (Reason::NamePostcode, &self.name_postcode),
        ]
        .into_iter()
        .filter_map(|(r, v)| v.as_deref().map(|v| (r, v)))
    }
}

/// Two SIRETs that both exist and differ: two establishments, or two
/// companies, never one file twice.
fn two_establishments(a: Option<&str>, b: Option<&str>) -> bool {
    matches!((a, b), (Some(a), Some(b)) if a != b)
}

/// Files by key, to find a candidate's twin. `T` names a file: a `DocId`,
/// or a row of an import not yet written.
#[derive(Debug)]
pub struct DupIndex<T> {
    by_key: HashMap<(Reason, String), Vec<T>>,
    siret: HashMap<T, String>,
}

impl<T> Default for DupIndex<T> {
    fn default() -> Self {
        DupIndex {
            by_key: HashMap::new(),
            siret: HashMap::new(),
        }
    }
}

impl<T: Copy + Eq + Hash> DupIndex<T> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    pub fn insert(&mut self, id: T, keys: &Keys) {
        for (reason, k) in keys.each() {
            let ids = self.by_key.entry((reason, k.to_string())).or_default();
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        if let Some(s) = &keys.siret {
            self.siret.insert(id, s.clone());
        }
    }

    /// The files `keys` duplicates, each once with its strongest reason,
    /// strongest first.
    pub fn find(&self, keys: &Keys) -> Vec<(T, Reason)> {
        let mut out: Vec<(T, Reason)> = Vec::new();
        for (reason, k) in keys.each() {
            // A SIREN match between two different SIRETs is two
            // establishments: only a SIREN-only file is its twin.
            let Some(ids) = self.by_key.get(&(reason, k.to_string())) else {
                continue;
            };
            for &id in ids {
                let other_siret = self.siret.get(&id);
                if two_establishments(keys.siret.as_deref(), other_siret.map(String::as_str)) {
                    continue;
                }
                if !out.iter().any(|(o, _)| *o == id) {
                    out.push((id, reason));
                }
            }
        }
        out.sort_by_key(|(_, r)| *r);
        out
    }
}

/// A set of files found to be one company, with why each pair was linked.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Group<T> {
    pub members: Vec<T>,
    /// `(a, b, reason)` for every link found between two members.
    pub links: Vec<(T, T, Reason)>,
}

/// Groups of duplicates among `files`: two files sharing a key are linked
/// (unless their SIRETs differ), and linked files form a group. Linear in
/// the number of files (keys hashed once, union-find).
pub fn groups<T: Copy + Eq + Hash + Ord>(files: &[(T, Keys)]) -> Vec<Group<T>> {
    let mut parent: Vec<usize> = (0..files.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    // The SIRET of a group, once one of its files has one: a file with
    // another SIRET never joins it, even through a file without one.
    let mut siret: Vec<Option<&str>> = files.iter().map(|(_, k)| k.siret.as_deref()).collect();
    let mut first: HashMap<(Reason, &str), Vec<usize>> = HashMap::new();
    let mut links: Vec<(usize, usize, Reason)> = Vec::new();
    for (i, (_, keys)) in files.iter().enumerate() {
        for (reason, k) in keys.each() {
            let seen = first.entry((reason, k)).or_default();
            for &j in seen.iter() {
                let (ri, rj) = (root(&mut parent, i), root(&mut parent, j));
                if ri == rj {
                    break;
                }
                if two_establishments(siret[ri], siret[rj]) {
                    continue;
                }
                links.push((j, i, reason));
                parent[ri] = rj;
                siret[rj] = siret[rj].or(siret[ri]);
                // One link to a member is enough to join its group.
                break;
            }
            // Keep a few representatives per key: a key shared by a
            // thousand files (a switchboard) stays linear.
            if seen.len() < 4 {
                seen.push(i);
            }
        }
    }
    let mut by_root: HashMap<usize, Group<T>> = HashMap::new();
    for (a, b, reason) in links {
        let r = root(&mut parent, a);
        let g = by_root.entry(r).or_insert_with(|| Group {
            members: Vec::new(),
            links: Vec::new(),
        });
        g.links.push((files[a].0, files[b].0, reason));
        for m in [files[a].0, files[b].0] {
            if !g.members.contains(&m) {
                g.members.push(m);
            }
        }
    }
    let mut out: Vec<Group<T>> = by_root.into_values().collect();
    for g in &mut out {
        g.members.sort();
    }
    out.sort_by(|a, b| a.members.cmp(&b.members));
    out
}

/// Groups of duplicates among the customer files of `rows` (a device's
/// index, what one user may see, or a whole tenant's).
pub fn groups_in(rows: &impl AccountRows) -> Vec<Group<DocId>> {
    let files: Vec<(DocId, Keys)> = rows
        .account_rows()
        .map(|(id, a, _)| (id, Keys::of_row(a)))
        .collect();
    groups(&files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_without_accents_case_punctuation_or_legal_form() {
        assert_eq!(
            name_key("Boulangerie Martin & Fils S.A.R.L."),
            name_key("boulangerie MARTIN et fils")
        );
        assert_eq!(name_key("Société Générale"), name_key("GENERALE (STE)"));
        assert_eq!(name_key("L'Épi d'Or SAS"), "epior");
        assert_eq!(name_key("Martin (Boulangerie)"), "boulangeriemartin");
        assert_ne!(name_key("Martin"), name_key("Martine"));
        assert_eq!(name_key("SA"), "sa");
    }

    #[test]
    fn phones_become_e164() {
        assert_eq!(
            phone_e164("01 23 45 67 89").as_deref(),
            Some("+33123456789")
        );
        assert_eq!(
            phone_e164("01.23.45.67.89").as_deref(),
            Some("+33123456789")
        );
        assert_eq!(
            phone_e164("+33 (0)1 23 45 67 89").as_deref(),
            Some("+33123456789")
        );
        assert_eq!(phone_e164("0033123456789").as_deref(), Some("+33123456789"));
        assert_eq!(phone_e164("123456789").as_deref(), Some("+33123456789"));
        assert_eq!(
            phone_e164("+32 2 123 45 67").as_deref(),
            Some("+3221234567")
        );
        assert_eq!(phone_e164("12 34"), None);
        assert_eq!(phone_e164("call me"), None);
        assert_eq!(phone_e164(""), None);
    }

    fn keys(name: &str, pc: &str, siret: Option<&str>, phone: Option<&str>) -> Keys {
        Keys::of(name, Some(pc), siret, None, None, phone)
    }

    #[test]
    fn twins_are_found_by_their_strongest_key_but_never_across_two_sirets() {
        let mut ix = DupIndex::new();
        ix.insert(
            1,
            &keys("Martin SARL", "69003", Some("73282932000074"), None),
        );
        ix.insert(2, &keys("Dupont", "75001", None, Some("01 23 45 67 89")));
        // Same SIRET, other spelling: the SIRET wins over the name.
        assert_eq!(
            ix.find(&keys("MARTIN", "69003", Some("732 829 320 00074"), None)),
            vec![(1, Reason::Siret)]
        );
        // Another establishment of the same company, same name and town.
        assert_eq!(
            ix.find(&keys("Martin", "69003", Some("73282932000082"), None)),
            vec![]
        );
        // No SIRET: name and postcode, accents and legal form aside.
        assert_eq!(
            ix.find(&keys("Martin S.A.R.L", "69003", None, None)),
            vec![(1, Reason::NamePostcode)]
        );
        assert_eq!(
            ix.find(&keys("Autre", "13001", None, Some("+33 1 23 45 67 89"))),
            vec![(2, Reason::Phone)]
        );
        assert_eq!(ix.find(&keys("Martin", "69004", None, None)), vec![]);
    }

    #[test]
    fn linked_files_form_one_group_and_distinct_sirets_none() {
        let files = vec![
            (1, keys("Martin", "69003", None, Some("0478000001"))),
            (2, keys("MARTIN SAS", "69003", None, None)),
            (3, keys("Ailleurs", "13001", None, Some("+33478000001"))),
            (4, keys("Seul", "13001", None, None)),
            (5, keys("Duo", "44000", Some("73282932000074"), None)),
            (6, keys("Duo", "44000", Some("73282932000082"), None)),
        ];
        let g = groups(&files);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].members, vec![1, 2, 3]);
        assert!(g[0].links.contains(&(1, 2, Reason::NamePostcode)));
        assert!(g[0].links.contains(&(1, 3, Reason::Phone)));
    }
}
