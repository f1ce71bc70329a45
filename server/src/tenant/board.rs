//! Dashboard tallies kept current with the index: the customer files are
//! grouped by who may see them (the people an account names, as
//! `Acl::account_people` gives them) and by territory, and each group
//! holds the monthly sums of its files (`reports::Tallies`). A dashboard
//! merges the groups its viewer may see (`Seer::sees_people`, the test
//! `Acl::can_see` makes on an account) instead of reading every file on
//! each request: a manager's dashboard over ten thousand files reads a few
//! dozen groups.
//!
//! Updated under the index's write lock on every commit (the file's old
//! rows out, its new rows in), rebuilt when territories or the pipeline's
//! stages change. It uses the settings it was built with for both, so what
//! it removes is exactly what it added.

use std::collections::HashMap;

use carnet_core::index::{DocRows, Index};
use carnet_core::model::Settings;
use carnet_core::reports::Tallies;
use carnet_core::{DocId, DocKind};

use crate::acl::Acl;

use super::reach::{rules_of, Rules};

/// Who sees a group of files, and their territory.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Group {
    pub territory: Option<String>,
    /// The people the files name (owner, territory reps), sorted.
    pub people: Vec<String>,
}

#[derive(Default)]
pub struct Board {
    built: Option<(Rules, Settings)>,
    groups: HashMap<Group, Tallies>,
    of_doc: HashMap<DocId, Group>,
}

impl Board {
    pub fn build(index: &Index, acl: &Acl, settings: &Settings) -> Board {
        let mut b = Board {
            built: Some((rules_of(acl), settings.clone())),
            ..Board::default()
        };
        for (id, rows) in index.iter() {
            b.put(*id, None, rows, acl);
        }
        b
    }

    /// Built under these territories and pipeline stages?
    pub fn built_for(&self, acl: &Acl, settings: &Settings) -> bool {
        self.built
            .as_ref()
            .is_some_and(|(r, s)| *r == rules_of(acl) && s.stages == settings.stages)
    }

    /// A document committed: `old` its rows before (as the index held
    /// them), `new` after.
    pub fn put(&mut self, doc: DocId, old: Option<&DocRows>, new: &DocRows, acl: &Acl) {
        let Some((_, settings)) = &self.built else {
            return;
        };
        if let (Some(g), Some(old)) = (self.of_doc.remove(&doc), old) {
            if let Some(t) = self.groups.get_mut(&g) {
                t.remove(old, settings);
                if t.is_empty() {
                    self.groups.remove(&g);
                }
            }
        }
        let Some(a) = new
            .account
            .as_ref()
            .filter(|_| new.kind == DocKind::Account)
        else {
            return;
        };
        let people = acl.people_of(a);
        let g = Group {
            territory: acl
                .territory_of(a.postcode.as_deref())
                .map(|t| t.name.clone()),
            people,
        };
        self.groups.entry(g.clone()).or_default().add(new, settings);
        self.of_doc.insert(doc, g);
    }

    /// The sums of the groups `keep` accepts.
    pub fn tallies(&self, keep: impl Fn(&Group) -> bool) -> Tallies {
        let mut out = Tallies::default();
        for (g, t) in &self.groups {
            if keep(g) {
                out.merge(t);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use carnet_core::index::{ActionRow, DealRow, OrderRow, QuoteRow};
    use carnet_core::reports::{self, DashScope, Indicator, Period};
    use chrono::NaiveDate;

    use super::*;
    use crate::acl::tests::{account, acl};

    fn settings() -> Settings {
        let w = carnet_core::doc::Writer {
            user: "t".into(),
            actor: automerge::ActorId::random(),
            now: 0,
        };
        let mut doc = carnet_core::doc::CrmDoc::create(DocId::new(), DocKind::Settings, &w)
            .expect("settings doc");
        carnet_core::persist::edit(&mut doc, &w, |d| Settings::seed(d, "T")).expect("seed");
        Settings::read(&doc)
    }

    /// A deterministic file: its postcode and owner, and records of
    /// several people over a few months.
    fn file(n: u64, postcode: &str, owner: &str) -> DocRows {
        let people = ["lyon@x.fr", "paris@x.fr", "solo@x.fr", "mgr@x.fr"];
        let who = |k: u64| people[((n + k) % 4) as usize].to_string();
        let day = |k: u64| NaiveDate::from_ymd_opt(2026, 1 + ((n + k) % 12) as u32, 10);
        let mut r = account(postcode, owner);
        r.orders = vec![OrderRow {
            id: format!("o{n}"),
            number: String::new(),
            status: if n.is_multiple_of(5) {
                "cancelled"
            } else {
                "confirmed"
            }
            .into(),
            date: day(0),
            net: 1_000 * (n as i64 + 1),
            currency: "EUR".into(),
            owner: who(0),
        }];
        r.actions = vec![ActionRow {
            id: format!("a{n}"),
            action_type: "visit".into(),
            subject: String::new(),
            due: None,
            assignee: who(1),
            done_on: day(1),
            deal: None,
        }];
        r.quotes = vec![QuoteRow {
            id: format!("q{n}"),
            number: String::new(),
            status: ["sent", "accepted", "draft", "refused"][(n % 4) as usize].into(),
            date: day(2),
            net: 10,
            gross: 12,
            currency: "EUR".into(),
            owner: who(2),
        }];
        r.deals = vec![DealRow {
            id: format!("d{n}"),
            title: String::new(),
            stage: ["prospection", "negociation", "gagne"][(n % 3) as usize].into(),
            amount: 5_000 + n as i64,
            currency: "EUR".into(),
            probability: None,
            close_date: day(3),
            owner: who(3),
        }];
        r
    }

    /// What the board gives a viewer is what the dashboard computed from
    /// every file `can_see` lets them see, through changes of owner,
    /// postcode and content, for every kind of user and territory scope.
    #[test]
    fn the_board_equals_the_dashboard_of_the_visible_files() {
        let acl = acl();
        let st = settings();
        let mut index = Index::new();
        let mut board = Board::build(&index, &acl, &st);
        let ids: Vec<DocId> = (0..40).map(|_| DocId::new()).collect();
        let postcodes = ["75011", "69300", "69001", "13008", "92100"];
        let owners = [
            "lyon@x.fr",
            "paris@x.fr",
            "solo@x.fr",
            "mgr@x.fr",
            "gone@x.fr",
        ];
        let commit = |index: &mut Index, board: &mut Board, doc: DocId, rows: DocRows| {
            board.put(doc, index.get(doc), &rows, &acl);
            index.put(doc, rows);
        };
        for round in 0..3u64 {
            for (i, id) in ids.iter().enumerate() {
                let n = i as u64 * 7 + round * 3;
                let rows = file(
                    n,
                    postcodes[(n % 5) as usize],
                    owners[((n / 5) % 5) as usize],
                );
                commit(&mut index, &mut board, *id, rows);
            }
        }
        let users = [
            "lyon@x.fr",
            "paris@x.fr",
            "solo@x.fr",
            "mgr@x.fr",
            "boss@x.fr",
            "gone@x.fr",
        ];
        let mut checked = 0;
        for user in users {
            for territory in [None, Some("Lyon"), Some("Paris"), Some("Lyon centre")] {
                for scope_users in [None, Some(BTreeSet::from(["lyon@x.fr".to_string()]))] {
                    let seer = acl.seer(user);
                    let tallies = board.tallies(|g| {
                        territory.is_none_or(|t| g.territory.as_deref() == Some(t))
                            && seer.sees_people(g.people.iter().map(String::as_str))
                    });
                    let accounts: Vec<&DocRows> = index
                        .iter()
                        .map(|(_, r)| r)
                        .filter(|r| acl.can_see(user, r))
                        .filter(|r| {
                            territory.is_none_or(|t| {
                                let pc = r.account.as_ref().and_then(|a| a.postcode.as_deref());
                                acl.territory_of(pc).is_some_and(|x| x.name == t)
                            })
                        })
                        .collect();
                    for period in [
                        Period::Month(2026, 5),
                        Period::Quarter(2026, 3),
                        Period::Year(2026),
                    ] {
                        let direct = reports::dashboard(
                            &DashScope {
                                accounts: accounts.clone(),
                                users: scope_users.clone(),
                            },
                            &st,
                            &[],
                            period,
                            &Indicator::ALL,
                            Indicator::OrdersValue,
                            12,
                        );
                        let kept = reports::dashboard_of(
                            &tallies,
                            scope_users.as_ref(),
                            &st.currency,
                            &[],
                            period,
                            &Indicator::ALL,
                            Indicator::OrdersValue,
                            12,
                        );
                        assert_eq!(kept, direct, "{user} {territory:?} {period:?}");
                        checked += usize::from(direct.figures.iter().any(|f| f.actual != 0));
                    }
                }
            }
        }
        // The comparisons were not all of empty dashboards.
        assert!(checked > 50, "{checked}");
        // A rebuild from the index gives the same groups.
        let fresh = Board::build(&index, &acl, &st);
        assert_eq!(fresh.groups, board.groups);
    }
}
