//! Who can reach which customer file: for each person an account names
//! (its owner, the reps of its territory), the files that name them. It
//! narrows what a page reads: a rep's pages read the rep's thousand files,
//! not the tenant's fifty thousand. It never decides alone: every file it
//! offers still passes `Acl::can_see`, so a stale entry can only hide a
//! file for a moment, never show one.
//!
//! Kept with the index: updated under the index's write lock on every
//! commit, rebuilt when the access rules change.

use std::collections::{HashMap, HashSet};

use carnet_core::index::{DocRows, Index};
use carnet_core::DocId;

use crate::acl::{Acl, Role};

#[derive(Default)]
pub struct Reach {
    /// The territories it was built under (name, prefixes, reps of each).
    rules: Option<Rules>,
    /// The people each account names, as last put.
    people: HashMap<DocId, Vec<String>>,
    /// The accounts naming each person.
    files: HashMap<String, HashSet<DocId>>,
}

impl Reach {
    /// From every account of `index`, under `acl`'s territories.
    pub fn build(index: &Index, acl: &Acl) -> Reach {
        let mut r = Reach {
            rules: Some(rules_of(acl)),
            ..Reach::default()
        };
        for (id, rows) in index.iter() {
            r.put(*id, rows, acl);
        }
        r
    }

    /// Built under these territories? (Who manages whom is read at query
    /// time, so only territories make it stale.)
    pub fn built_for(&self, acl: &Acl) -> bool {
        self.rules.as_ref() == Some(&rules_of(acl))
    }

    /// A document's new rows (an account changed hands or moved).
    pub fn put(&mut self, doc: DocId, rows: &DocRows, acl: &Acl) {
        self.remove(doc);
        let Some(a) = &rows.account else { return };
        let people = acl.people_of(a);
        for p in &people {
            self.files.entry(p.clone()).or_default().insert(doc);
        }
        self.people.insert(doc, people);
    }

    pub fn remove(&mut self, doc: DocId) {
        for p in self.people.remove(&doc).unwrap_or_default() {
            if let Some(set) = self.files.get_mut(&p) {
                set.remove(&doc);
                if set.is_empty() {
                    self.files.remove(&p);
                }
            }
        }
    }

    /// The accounts `user` may reach, sorted; `None` for an admin (all of
    /// them). The test is `Acl::can_see`'s for accounts: one of the people
    /// the account names is the user or, for a manager, someone they manage
    /// (deactivated reps included: their files stay with their manager).
    pub fn accounts_of(&self, acl: &Acl, user: &str) -> Option<Vec<DocId>> {
        let role = match acl.role(user) {
            Some(Role::Admin) => return None,
            Some(r) => r,
            None => return Some(Vec::new()),
        };
        let mut out: Vec<DocId> = self
            .files
            .iter()
            .filter(|(p, _)| *p == user || (role == Role::Manager && acl.manages(user, p)))
            .flat_map(|(_, files)| files.iter().copied())
            .collect();
        out.sort_unstable();
        out.dedup();
        Some(out)
    }
}

pub(crate) type Rules = Vec<(String, Vec<String>, Vec<String>)>;

pub(crate) fn rules_of(acl: &Acl) -> Rules {
    acl.territories()
        .iter()
        .map(|t| {
            let mut reps: Vec<String> = t.reps.iter().cloned().collect();
            reps.sort();
            (t.name.clone(), t.prefixes.clone(), reps)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::tests::{account, acl};

    #[test]
    fn reach_follows_owner_territory_and_team() {
        let acl = acl();
        let mut r = Reach::default();
        let (lyon, solos) = (DocId::new(), DocId::new());
        r.put(lyon, &account("69300", "solo@x.fr"), &acl);
        r.put(solos, &account("13008", "solo@x.fr"), &acl);
        let mut both = vec![lyon, solos];
        both.sort();
        assert_eq!(r.accounts_of(&acl, "lyon@x.fr"), Some(vec![lyon]));
        assert_eq!(r.accounts_of(&acl, "solo@x.fr"), Some(both));
        assert_eq!(r.accounts_of(&acl, "mgr@x.fr"), Some(vec![lyon]));
        assert_eq!(r.accounts_of(&acl, "paris@x.fr"), Some(vec![]));
        assert_eq!(r.accounts_of(&acl, "boss@x.fr"), None);
        assert_eq!(r.accounts_of(&acl, "nobody@x.fr"), Some(vec![]));
        // The Lyon file moves to Paris: Lyon's rep loses it, Paris's gets it.
        r.put(lyon, &account("75001", "solo@x.fr"), &acl);
        assert_eq!(r.accounts_of(&acl, "lyon@x.fr"), Some(vec![]));
        assert_eq!(r.accounts_of(&acl, "paris@x.fr"), Some(vec![lyon]));
        r.remove(solos);
        assert_eq!(r.accounts_of(&acl, "solo@x.fr"), Some(vec![lyon]));
        // What reach offers is what can_see allows, for every kind of user.
        let files = [
            account("75001", "solo@x.fr"),
            account("69003", "lyon@x.fr"),
            account("69001", "paris@x.fr"),
            account("06000", "mgr@x.fr"),
        ];
        let mut r = Reach::default();
        let ids: Vec<DocId> = files.iter().map(|_| DocId::new()).collect();
        for (id, rows) in ids.iter().zip(&files) {
            r.put(*id, rows, &acl);
        }
        for user in [
            "lyon@x.fr",
            "paris@x.fr",
            "solo@x.fr",
            "mgr@x.fr",
            "boss@x.fr",
        ] {
            let reached = r.accounts_of(&acl, user);
            for (id, rows) in ids.iter().zip(&files) {
                let offered = reached.as_ref().is_none_or(|v| v.contains(id));
                assert_eq!(offered, acl.can_see(user, rows), "{user} {id}");
            }
        }
    }
}
