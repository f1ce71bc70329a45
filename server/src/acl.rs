//! Access control, enforced on every frame. A rep sees the accounts of
//! their territories plus those they own; a manager sees their team's and
//! their own; an admin sees everything. Everyone reads the settings,
//! catalog, directory and library; a rep reads their plan, their managers
//! write it. Account territory comes from postcode prefixes, longest first.

use std::collections::{HashMap, HashSet};

use carnet_core::index::{AccountRow, DocRows};
use carnet_core::model::Directory;
use carnet_core::DocKind;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Rep,
    Manager,
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Role {
        match s {
            "admin" => Role::Admin,
            "manager" => Role::Manager,
            _ => Role::Rep,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Rep => "rep",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Territory {
    /// The record id in the directory (empty in tests).
    pub id: String,
    pub name: String,
    pub prefixes: Vec<String>,
    pub reps: HashSet<String>,
}

/// Why a change is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denied {
    /// The user may not see the document (or what it would become): the
    /// answer is the one for a document that does not exist.
    Hidden,
    /// The user sees the document but may not write it this way.
    ReadOnly(DocKind),
}

/// The answer for a hidden document, word for word the one for a missing one.
pub const NOT_PERMITTED: &str = "document not found or not permitted";

impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Denied::Hidden => f.write_str(NOT_PERMITTED),
            Denied::ReadOnly(kind) => write!(f, "{kind} is read-only for you"),
        }
    }
}

/// What decides who sees a document: an account's owner and postcode
/// (its territory), a plan's user.
fn access_key(rows: &DocRows) -> (Option<&str>, Option<&str>) {
    match (&rows.account, rows.kind) {
        (Some(a), DocKind::Account) => (Some(a.owner.as_str()), a.postcode.as_deref()),
        (_, DocKind::Plan) => (rows.plan_user.as_deref(), None),
        _ => (None, None),
    }
}

#[derive(Clone, Debug, Default)]
pub struct Acl {
    roles: HashMap<String, Role>,
    managers: HashMap<String, String>,
    /// Everyone each user is above (directly or not), sorted.
    below: HashMap<String, Vec<String>>,
    territories: Vec<Territory>,
    /// Each prefix's territory (the first by name when several share it),
    /// and the longest prefix: `territory_of` looks a postcode's prefixes
    /// up instead of scanning every rule.
    by_prefix: HashMap<String, usize>,
    longest_prefix: usize,
    /// Each user's directory record id and dashboard layout.
    records: HashMap<String, (String, Option<String>)>,
}

impl Acl {
    /// The rules of a directory document: its users and its territories.
    pub fn read(d: &carnet_core::doc::CrmDoc) -> Acl {
        let territories = d
            .records(&["territories"])
            .into_iter()
            .map(|(id, o)| Territory {
                id,
                name: d.get_str(&o, "name").unwrap_or_default(),
                prefixes: d
                    .get_str(&o, "postcodes")
                    .unwrap_or_default()
                    .split(',')
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect(),
                reps: d.get_tags(&o, "reps").into_iter().collect(),
            })
            .collect();
        Acl::new(&Directory::read(d), territories)
    }

    pub fn new(dir: &Directory, territories: Vec<Territory>) -> Acl {
        let managers: HashMap<String, String> = dir
            .users
            .iter()
            .filter_map(|u| u.manager.clone().map(|m| (u.email.clone(), m)))
            .collect();
        // Who is above whom: each user's first 16 managers up the chain
        // (a cycle in the directory ends there).
        let mut below: HashMap<String, Vec<String>> = HashMap::new();
        for u in managers.keys() {
            let mut cur = u;
            for _ in 0..16 {
                let Some(m) = managers.get(cur) else { break };
                below.entry(m.clone()).or_default().push(u.clone());
                cur = m;
            }
        }
        for v in below.values_mut() {
            v.sort();
            v.dedup();
        }
        let mut by_prefix: HashMap<String, usize> = HashMap::new();
        for (i, t) in territories.iter().enumerate() {
            for p in t.prefixes.iter().filter(|p| !p.is_empty()) {
                let e = by_prefix.entry(p.clone()).or_insert(i);
                if t.name < territories[*e].name {
                    *e = i;
                }
            }
        }
        let longest_prefix = by_prefix.keys().map(String::len).max().unwrap_or(0);
        Acl {
            by_prefix,
            longest_prefix,
            roles: dir
                .users
                .iter()
                .filter(|u| !u.disabled)
                .map(|u| (u.email.clone(), Role::parse(&u.role)))
                .collect(),
            managers,
            below,
            territories,
            records: dir
                .users
                .iter()
                .map(|u| (u.email.clone(), (u.id.clone(), u.dashboard.clone())))
                .collect(),
        }
    }

    /// A user's directory record id.
    pub fn record_of(&self, user: &str) -> Option<&str> {
        self.records.get(user).map(|(id, _)| id.as_str())
    }

    /// A user's saved dashboard layout.
    pub fn dashboard_of(&self, user: &str) -> Option<&str> {
        self.records.get(user).and_then(|(_, d)| d.as_deref())
    }

    /// Every user in the directory, deactivated ones included: (email, role
    /// text, manager, active).
    pub fn directory_users(&self) -> Vec<(String, bool)> {
        let mut v: Vec<(String, bool)> = self
            .records
            .keys()
            .map(|u| (u.clone(), self.roles.contains_key(u)))
            .collect();
        v.sort();
        v
    }

    pub fn manager_of(&self, user: &str) -> Option<&str> {
        self.managers.get(user).map(String::as_str)
    }

    /// Territory names, sorted.
    pub fn territory_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.territories.iter().map(|t| t.name.clone()).collect();
        v.sort();
        v
    }

    pub fn territories(&self) -> &[Territory] {
        &self.territories
    }

    /// Active users, sorted.
    pub fn users(&self) -> Vec<String> {
        let mut v: Vec<String> = self.roles.keys().cloned().collect();
        v.sort();
        v
    }

    /// The users `viewer` answers for: everyone for an admin, their team
    /// (and themselves) for a manager, themselves for a rep.
    pub fn team_of(&self, viewer: &str) -> Vec<String> {
        match self.role(viewer) {
            Some(Role::Admin) => self.users(),
            Some(Role::Manager) => self
                .users()
                .into_iter()
                .filter(|u| u == viewer || self.manages(viewer, u))
                .collect(),
            Some(Role::Rep) => vec![viewer.to_string()],
            None => Vec::new(),
        }
    }

    pub fn role(&self, user: &str) -> Option<Role> {
        self.roles.get(user).copied()
    }

    /// The territory whose longest prefix matches the postcode (the first
    /// by name when two rules share it).
    pub fn territory_of(&self, postcode: Option<&str>) -> Option<&Territory> {
        let pc = postcode?;
        // Prefix ends, longest first; none longer than the longest rule
        // (a hostile postcode of any length costs a few look-ups).
        (1..=pc.len().min(self.longest_prefix))
            .rev()
            .filter(|end| pc.is_char_boundary(*end))
            .find_map(|end| self.by_prefix.get(&pc[..end]))
            .and_then(|i| self.territories.get(*i))
    }

    /// Is `manager` above `user` (directly or through several levels)?
    pub fn manages(&self, manager: &str, user: &str) -> bool {
        self.below
            .get(manager)
            .is_some_and(|v| v.binary_search_by(|x| x.as_str().cmp(user)).is_ok())
    }

    /// `account_people`, sorted and each once: the key a file is filed
    /// under by who may reach it (`tenant::reach`, `tenant::board`).
    pub fn people_of(&self, a: &AccountRow) -> Vec<String> {
        let mut people: Vec<String> = self.account_people(a).map(str::to_string).collect();
        people.sort();
        people.dedup();
        people
    }

    /// The people an account names: its owner and its territory's reps.
    pub fn account_people<'a>(&'a self, a: &'a AccountRow) -> impl Iterator<Item = &'a str> + 'a {
        let reps = self
            .territory_of(a.postcode.as_deref())
            .map(|t| t.reps.iter().map(String::as_str))
            .into_iter()
            .flatten();
        std::iter::once(a.owner.as_str()).chain(reps)
    }

    pub fn can_see(&self, user: &str, rows: &DocRows) -> bool {
        self.seer(user).sees(rows)
    }

    /// `user`'s view, to test many documents (`Seer::sees` is `can_see`,
    /// with the user's role and reports looked up once).
    pub fn seer<'a>(&'a self, user: &'a str) -> Seer<'a> {
        Seer {
            acl: self,
            user,
            role: self.role(user),
            below: self.below.get(user).map_or(&[], Vec::as_slice),
        }
    }

    /// The one authorization decision for a change, made on the document
    /// as the change would leave it (`after`) and as it was (`before`,
    /// `None` for a document the device creates). Sync, the web app and
    /// admin commands all ask here.
    ///
    /// - Creating: only customer files and plans, that the user may see
    ///   and write once created.
    /// - Changing: the user may write the document as it is; a plan must
    ///   stay writable by them afterwards (a manager cannot hand his own
    ///   plan to himself). A customer file may leave the user's reach (the
    ///   customer moved): giving away is allowed, taking is not.
    /// - `grace`: the device lost the document in this session and pushes
    ///   edits it made before it learnt of it. Those may change content,
    ///   never who sees the document.
    pub fn authorize_change(
        &self,
        user: &str,
        before: Option<&DocRows>,
        after: &DocRows,
        grace: bool,
    ) -> Result<(), Denied> {
        let Some(before) = before else {
            let creatable = matches!(after.kind, DocKind::Account | DocKind::Plan);
            return if creatable && self.can_see(user, after) && self.can_write(user, after) {
                Ok(())
            } else {
                Err(Denied::Hidden)
            };
        };
        if before.kind != after.kind {
            return Err(Denied::ReadOnly(before.kind));
        }
        if grace {
            return if access_key(before) == access_key(after) {
                Ok(())
            } else {
                Err(Denied::Hidden)
            };
        }
        if !self.can_see(user, before) {
            return Err(Denied::Hidden);
        }
        if !self.can_write(user, before) {
            return Err(Denied::ReadOnly(before.kind));
        }
        if after.kind == DocKind::Plan && !self.can_write(user, after) {
            return Err(Denied::ReadOnly(after.kind));
        }
        Ok(())
    }

    pub fn can_write(&self, user: &str, rows: &DocRows) -> bool {
        let Some(role) = self.role(user) else {
            return false;
        };
        match rows.kind {
            DocKind::Account => self.can_see(user, rows),
            DocKind::Settings | DocKind::Catalog | DocKind::Directory => role == Role::Admin,
            DocKind::Library => role != Role::Rep,
            DocKind::Plan => {
                role == Role::Admin
                    || rows
                        .plan_user
                        .as_deref()
                        .is_some_and(|p| self.manages(user, p))
            }
        }
    }
}

/// One user's view of documents: what `Acl::can_see` decides, with the
/// user's role and the people they are above looked up once.
pub struct Seer<'a> {
    acl: &'a Acl,
    user: &'a str,
    role: Option<Role>,
    below: &'a [String],
}

impl Seer<'_> {
    fn above(&self, p: &str) -> bool {
        self.below.binary_search_by(|x| x.as_str().cmp(p)).is_ok()
    }

    pub fn sees(&self, rows: &DocRows) -> bool {
        let Some(role) = self.role else {
            return false;
        };
        if role == Role::Admin {
            return true;
        }
        match rows.kind {
            DocKind::Settings | DocKind::Catalog | DocKind::Directory | DocKind::Library => true,
            DocKind::Plan => match rows.plan_user.as_deref() {
                Some(p) => p == self.user || self.above(p),
                None => false,
            },
            DocKind::Account => match &rows.account {
                Some(a) => self.sees_people(self.acl.account_people(a)),
                None => false,
            },
        }
    }

    /// Whether the user sees an account naming these people (its owner
    /// and its territory's reps): one of them is the user or, for a
    /// manager, someone they are above. An admin sees every account.
    pub fn sees_people<'p>(&self, mut people: impl Iterator<Item = &'p str>) -> bool {
        match self.role {
            None => false,
            Some(Role::Admin) => true,
            Some(role) => {
                people.any(|p| p == self.user || (role == Role::Manager && self.above(p)))
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use carnet_core::model::User;

    fn user(email: &str, role: &str, manager: Option<&str>) -> User {
        User {
            id: email.into(),
            email: email.into(),
            name: None,
            role: role.into(),
            manager: manager.map(str::to_string),
            disabled: false,
            dashboard: None,
        }
    }

    pub(crate) fn acl() -> Acl {
        let dir = Directory {
            users: vec![
                user("boss@x.fr", "admin", None),
                user("mgr@x.fr", "manager", None),
                user("paris@x.fr", "rep", Some("mgr@x.fr")),
                user("lyon@x.fr", "rep", Some("mgr@x.fr")),
                user("solo@x.fr", "rep", None),
            ],
        };
        Acl::new(
            &dir,
            vec![
                Territory {
                    id: String::new(),
                    name: "Paris".into(),
                    prefixes: vec!["75".into(), "92".into()],
                    reps: ["paris@x.fr".to_string()].into(),
                },
                Territory {
                    id: String::new(),
                    name: "Lyon".into(),
                    prefixes: vec!["69".into()],
                    reps: ["lyon@x.fr".to_string()].into(),
                },
                Territory {
                    id: String::new(),
                    name: "Lyon centre".into(),
                    prefixes: vec!["6900".into()],
                    reps: ["solo@x.fr".to_string()].into(),
                },
            ],
        )
    }

    pub(crate) fn account(postcode: &str, owner: &str) -> DocRows {
        let mut r: DocRows = serde_json::from_value(serde_json::json!({
            "kind": "account", "account": null, "contacts": [], "deals": [], "actions": [],
            "quotes": [], "orders": [], "emails": [], "plan_user": null, "conflicts": 0
        }))
        .unwrap();
        r.account = Some(AccountRow {
            name: "A".into(),
            kind: "company".into(),
            status: "client".into(),
            postcode: Some(postcode.into()),
            city: None,
            owner: owner.into(),
            territory: None,
            phone: None,
            email: None,
            siret: None,
            siren: None,
            tags: vec![],
            search: String::new(),
            checks: vec![],
            returned_mail: false,
            email_bounced: false,
            created_on: None,
            merged_into: None,
        });
        r
    }

    #[test]
    fn territory_is_the_longest_prefix_then_the_first_name() {
        let t = |name: &str, prefixes: &[&str]| Territory {
            id: String::new(),
            name: name.into(),
            prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
            reps: HashSet::new(),
        };
        let dir = Directory { users: vec![] };
        let acl = Acl::new(
            &dir,
            vec![
                t("Sud", &["13", "83"]),
                t("Marseille", &["13"]),
                t("Vieux-Port", &["13002"]),
                t("Évry", &["91"]),
            ],
        );
        let of = |pc: &str| acl.territory_of(Some(pc)).map(|t| t.name.as_str());
        assert_eq!(of("13008"), Some("Marseille"));
        assert_eq!(of("13002"), Some("Vieux-Port"));
        assert_eq!(of("83000"), Some("Sud"));
        assert_eq!(of("91000"), Some("Évry"));
        assert_eq!(of("75011"), None);
        assert_eq!(of("1"), None);
        assert_eq!(of(""), None);
        // Non-ASCII and very long postcodes cost a few look-ups, no panic.
        assert_eq!(of("1é3"), None);
        assert_eq!(of(&"9".repeat(1_000_000)), None);
        assert_eq!(acl.territory_of(None).map(|t| t.name.as_str()), None);
    }

    #[test]
    fn reps_see_their_territory_and_their_own_accounts_only() {
        let a = acl();
        let paris = account("75011", "mgr@x.fr");
        assert!(a.can_see("paris@x.fr", &paris));
        assert!(!a.can_see("lyon@x.fr", &paris));
        let owned = account("13008", "lyon@x.fr");
        assert!(a.can_see("lyon@x.fr", &owned));
        assert!(!a.can_see("paris@x.fr", &owned));
        // Longest prefix wins: 69001 is "Lyon centre", not "Lyon".
        let centre = account("69001", "mgr@x.fr");
        assert!(a.can_see("solo@x.fr", &centre));
        assert!(!a.can_see("lyon@x.fr", &centre));
        assert!(!a.can_see("stranger@x.fr", &paris));
    }

    fn plan(user: &str) -> DocRows {
        let mut r = account("75001", "x@x.fr");
        r.kind = DocKind::Plan;
        r.account = None;
        r.plan_user = Some(user.into());
        r
    }

    #[test]
    fn a_change_is_judged_on_what_it_produces() {
        let a = acl();
        // A manager may write his rep's plan, not hand it to himself.
        let reps = plan("paris@x.fr");
        assert_eq!(
            a.authorize_change("mgr@x.fr", Some(&reps), &reps, false),
            Ok(())
        );
        assert_eq!(
            a.authorize_change("mgr@x.fr", Some(&reps), &plan("mgr@x.fr"), false),
            Err(Denied::ReadOnly(DocKind::Plan))
        );
        assert_eq!(
            a.authorize_change("mgr@x.fr", None, &plan("mgr@x.fr"), false),
            Err(Denied::Hidden)
        );
        // A rep gives a file away (the customer moved), never takes one.
        let mine = account("75011", "x@x.fr");
        let moved = account("69003", "x@x.fr");
        assert_eq!(
            a.authorize_change("paris@x.fr", Some(&mine), &moved, false),
            Ok(())
        );
        assert_eq!(
            a.authorize_change("paris@x.fr", Some(&moved), &mine, false),
            Err(Denied::Hidden)
        );
        // Grace: content edits pass, a change of who sees it does not.
        assert_eq!(
            a.authorize_change("paris@x.fr", Some(&moved), &moved, true),
            Ok(())
        );
        let taken = account("69003", "paris@x.fr");
        assert_eq!(
            a.authorize_change("paris@x.fr", Some(&moved), &taken, true),
            Err(Denied::Hidden)
        );
        // Creation: only what the user would see and write.
        assert_eq!(
            a.authorize_change("lyon@x.fr", None, &mine, false),
            Err(Denied::Hidden)
        );
        assert_eq!(a.authorize_change("paris@x.fr", None, &mine, false), Ok(()));
        assert_eq!(Denied::Hidden.to_string(), NOT_PERMITTED);
    }

    #[test]
    fn managers_see_their_team_and_admins_everything() {
        let a = acl();
        assert!(a.can_see("mgr@x.fr", &account("92100", "x@x.fr")));
        assert!(a.can_see("mgr@x.fr", &account("13008", "lyon@x.fr")));
        assert!(!a.can_see("mgr@x.fr", &account("6900", "solo@x.fr")));
        assert!(a.can_see("boss@x.fr", &account("6900", "solo@x.fr")));
        assert!(a.can_write("paris@x.fr", &account("75001", "x@x.fr")));
    }
}
