//! The device facade over a real sled store: edits, validation, quotes and
//! orders, reports, merges between two devices, and index consistency.

use std::str::FromStr;

use carnet_core::error::{CoreError, ValidationError};
use carnet_core::model::NewQuoteLine as NewLine;
use carnet_core::reports::{Period, Scope};
use carnet_core::store::Store;
use carnet_core::sync::Replica;
use carnet_core::{Device, DocId};
use chrono::NaiveDate;
use proptest::prelude::*;
use tempfile::TempDir;

const NOV_26: i64 = 1_795_687_200; // 2026-11-26 08:00 UTC

fn device(user: &str) -> (TempDir, Device) {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Device::init(dir.path(), user, Some("Test"), "Carnet Test SARL").unwrap();
    d.set_clock(Some(NOV_26));
    (dir, d)
}

fn raw<'a>(pairs: &[(&'a str, &str)]) -> Vec<(&'a str, String)> {
    pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::from_str(s).unwrap()
}

#[test]
fn invalid_inputs_are_refused_with_typed_errors_and_write_nothing() {
    let (_dir, mut d) = device("rep@carnet.test");
    let acc = d
        .create_account(&raw(&[("name", "Garage Dupont")]))
        .unwrap();
    let heads = d.heads(acc).unwrap();
    let index_before = d.index().clone();

    let cases: Vec<(CoreError, &str)> = vec![
        (
            d.create_account(&raw(&[("name", "  ")])).unwrap_err(),
            "empty name",
        ),
        (
            d.create_account(&raw(&[("name", "X"), ("siret", "12345678901234")]))
                .unwrap_err(),
            "bad siret",
        ),
        (
            d.create_account(&raw(&[("name", "X"), ("email", "pas-un-email")]))
                .unwrap_err(),
            "bad email",
        ),
        (
            d.add_deal(acc, &raw(&[("title", "Flotte"), ("amount", "-5")]))
                .unwrap_err(),
            "negative amount",
        ),
        (
            d.add_deal(
                acc,
                &raw(&[("title", "Flotte"), ("amount", "5"), ("stage", "nope")]),
            )
            .unwrap_err(),
            "unknown stage",
        ),
        (
            d.add_action(
                acc,
                &raw(&[("type", "call"), ("subject", "x"), ("due", "2026-13-01")]),
            )
            .unwrap_err(),
            "bad date",
        ),
        (
            d.set_field(acc, "account/postcode", "ABCDE").unwrap_err(),
            "bad postcode",
        ),
        (
            d.set_field(acc, "account/nope", "x").unwrap_err(),
            "unknown field",
        ),
    ];
    for (err, what) in &cases {
        assert!(
            matches!(err, CoreError::Invalid(_)),
            "{what}: expected a validation error, got {err:?}"
        );
    }
    assert!(matches!(
        &cases[1].0,
        CoreError::Invalid(ValidationError::BadSiret { .. })
    ));
    assert!(matches!(
        &cases[4].0,
        CoreError::Invalid(ValidationError::UnknownStage { .. })
    ));
    assert_eq!(d.heads(acc).unwrap(), heads, "the account is unchanged");
    assert!(d.index().same_as(&index_before), "the index is unchanged");
    assert_eq!(d.search("", 100).len(), 1, "no account was created");
}

#[test]
fn a_customer_file_round_trips_every_record_kind() {
    let (_dir, mut d) = device("rep@carnet.test");
    let acc = d
        .create_account(&raw(&[
            ("name", "Société Générale d'Outillage"),
            ("kind", "company"),
            ("status", "client"),
            ("siret", "73282932000074"),
            ("postcode", "69003"),
            ("city", "Lyon"),
        ]))
        .unwrap();
    d.set_field(acc, "account/custom/fleet_size", "12").unwrap();
    d.set_field(acc, "account/tags", "pme, industrie").unwrap();
    d.set_field(acc, "account/returned_mail", "oui").unwrap();
    let c = d
        .add_contact(acc, &raw(&[("name", "Anne Roux"), ("role", "Acheteuse")]))
        .unwrap();
    let deal = d
        .add_deal(
            acc,
            &raw(&[
                ("title", "Renouvellement"),
                ("amount", "12000"),
                ("close_date", "2026-12-15"),
                ("contact", &c.to_string()),
            ]),
        )
        .unwrap();
    let act = d
        .add_action(
            acc,
            &raw(&[
                ("type", "visit"),
                ("subject", "Démo"),
                ("due", "2026-11-20"),
                ("deal", &deal.to_string()),
            ]),
        )
        .unwrap();
    d.add_note(acc, "Client très satisfait.").unwrap();
    d.complete_action(&act.to_string(), Some("RDV fixé"), None)
        .unwrap();

    let f = d.account_file(acc).unwrap();
    assert_eq!(f.account.name, "Société Générale d'Outillage");
    assert_eq!(
        f.account.custom.get("fleet_size").map(String::as_str),
        Some("12")
    );
    assert_eq!(f.account.tags, vec!["industrie", "pme"]);
    assert!(f.account.returned_mail);
    assert_eq!(f.contacts[0].role.as_deref(), Some("Acheteuse"));
    assert_eq!(
        f.deals[0].stage, "prospection",
        "first open stage by default"
    );
    assert_eq!(f.deals[0].amount.cents, 1_200_000);
    assert_eq!(f.deals[0].owner, "rep@carnet.test");
    assert_eq!(f.actions[0].done_on, Some(date("2026-11-26")));
    assert_eq!(f.actions[0].outcome, "RDV fixé");
    assert_eq!(f.notes[0].body, "Client très satisfait.");
    assert_eq!(d.search("societe lyon", 10)[0].id, acc);
    assert_eq!(
        d.search("roux", 10)[0].contact.as_deref(),
        Some("Anne Roux")
    );
    assert!(d.search("marseille", 10).is_empty());

    // A record id from elsewhere is refused.
    let err = d
        .add_action(
            acc,
            &raw(&[
                ("type", "call"),
                ("subject", "x"),
                ("due", "2026-11-30"),
                ("deal", &DocId::new().to_string()),
            ]),
        )
        .unwrap_err();
    assert!(matches!(err, CoreError::Invalid(ValidationError::Rule(_))));
}

#[test]
fn quote_totals_accept_into_order_and_count_toward_target_and_commission() {
    let (_dir, mut d) = device("rep@carnet.test");
    let acc = d
        .create_account(&raw(&[("name", "Hôtel du Parc")]))
        .unwrap();
    d.add_product(&raw(&[
        ("sku", "CAF-01"),
        ("name", "Café en grains 1 kg"),
        ("unit_price", "18.90"),
        ("vat_rate", "5.5"),
    ]))
    .unwrap();
    let q = d.create_quote(acc, &[]).unwrap().to_string();
    d.add_quote_line(
        &q,
        &NewLine {
            product: Some("caf-01".into()),
            label: None,
            qty: "10".into(),
            unit_price: None,
            vat_rate: None,
            discount: Some("5".into()),
        },
    )
    .unwrap();
    d.add_quote_line(
        &q,
        &NewLine {
            product: None,
            label: Some("Machine à café".into()),
            qty: "1".into(),
            unit_price: Some("1 250,00".into()),
            vat_rate: Some("20".into()),
            discount: None,
        },
    )
    .unwrap();
    let (_, quote) = d.quote(&q).unwrap();
    assert!(quote.provisional);
    assert!(quote.number.starts_with("DEV-P"), "{}", quote.number);
    // 10 × 18.90 − 5 % = 179.55 at 5.5 % → 9.88 ; 1250.00 at 20 % → 250.00
    assert_eq!(quote.totals.net, 17_955 + 125_000);
    assert_eq!(quote.totals.vat, 988 + 25_000);
    assert_eq!(quote.totals.gross, 142_955 + 25_988);

    // Bad line inputs are refused.
    let bad = d.add_quote_line(
        &q,
        &NewLine {
            product: None,
            label: Some("x".into()),
            qty: "1".into(),
            unit_price: Some("1".into()),
            vat_rate: Some("7".into()),
            discount: None,
        },
    );
    assert!(matches!(
        bad,
        Err(CoreError::Invalid(ValidationError::UnknownVatRate { .. }))
    ));

    let order = d.accept_quote(&q).unwrap();
    let f = d.account_file(acc).unwrap();
    assert_eq!(f.quotes[0].status, "accepted");
    assert_eq!(f.orders[0].id, order.to_string());
    assert_eq!(f.orders[0].totals, quote.totals);
    assert!(f.orders[0].number.starts_with("CMD-P"));
    assert!(d.accept_quote(&q).is_err(), "a quote gives one order");
    // Lines of an accepted quote are frozen.
    assert!(d
        .add_quote_line(
            &q,
            &NewLine {
                product: Some("CAF-01".into()),
                label: None,
                qty: "1".into(),
                unit_price: None,
                vat_rate: None,
                discount: None
            }
        )
        .is_err());

    let nov: Period = "2026-11".parse().unwrap();
    d.set_target("rep@carnet.test", nov, "1000").unwrap();
    d.set_tiers(
        "rep@carnet.test",
        &[("0".into(), "3".into()), ("100".into(), "5".into())],
    )
    .unwrap();
    let v = d.variance("rep@carnet.test", nov).unwrap();
    assert_eq!(v.target, Some(100_000));
    assert_eq!(v.actual, 142_955);
    assert_eq!(v.variance, Some(42_955));
    assert_eq!(v.attainment_pct.unwrap().to_string(), "142.96");
    let c = d.commission("rep@carnet.test", nov).unwrap();
    // 3 % of 1000.00 + 5 % of 429.55 = 30.00 + 21.48 (21.4775 → 21.48)
    assert_eq!(c.total, 3_000 + 2_148);
    // Changing the target updates the same plan.
    d.set_target("rep@carnet.test", nov, "2000").unwrap();
    assert_eq!(
        d.variance("rep@carnet.test", nov).unwrap().target,
        Some(200_000)
    );
    // The dashboard, offline: the default layout, the order beside its
    // target, and the chart ending with the period.
    let dash = d.dashboard(nov, &d.me()).unwrap();
    let orders = &dash.figures[0];
    assert_eq!(
        orders.indicator,
        carnet_core::reports::Indicator::OrdersValue
    );
    assert_eq!(orders.actual, 142_955);
    assert_eq!(orders.target, Some(200_000));
    assert_eq!(orders.variance, Some(-57_045));
    assert_eq!(dash.figures.len(), 8);
    assert_eq!(dash.chart.last().unwrap().period, "2026-11");
    assert_eq!(dash.chart.last().unwrap().actual, 142_955);
    let other = d
        .dashboard(
            nov,
            &carnet_core::reports::Scope::User("x@carnet.test".into()),
        )
        .unwrap();
    assert_eq!(other.figures[0].actual, 0);
    assert_eq!(other.figures[0].target, None);
}

#[test]
fn todo_pipeline_and_forecast_read_the_index() {
    let (_dir, mut d) = device("rep@carnet.test");
    let a = d.create_account(&raw(&[("name", "Alpha")])).unwrap();
    let b = d.create_account(&raw(&[("name", "Beta")])).unwrap();
    for (acc, due, subject) in [
        (a, "2026-11-20", "en retard"),
        (b, "2026-11-26", "aujourd'hui"),
        (a, "2026-12-10", "plus tard"),
    ] {
        d.add_action(
            acc,
            &raw(&[("type", "call"), ("subject", subject), ("due", due)]),
        )
        .unwrap();
    }
    d.add_action(
        b,
        &raw(&[
            ("type", "call"),
            ("subject", "collègue"),
            ("due", "2026-11-01"),
            ("assignee", "other@carnet.test"),
        ]),
    )
    .unwrap();
    let todo = d.todo(&d.me(), date("2026-11-30"));
    let subjects: Vec<&str> = todo.iter().map(|t| t.subject.as_str()).collect();
    assert_eq!(subjects, vec!["en retard", "aujourd'hui"]);
    assert!(todo[0].overdue && todo[0].days_late == 6);
    assert!(!todo[1].overdue);
    assert_eq!(d.todo(&Scope::All, date("2026-11-30")).len(), 3);

    for (acc, amount, stage, close, prob) in [
        (a, "1000", "proposition", "2026-11-30", None),
        (a, "2000", "negociation", "2027-01-15", Some("90")),
        (b, "500", "gagne", "2026-11-10", None),
        (b, "700", "perdu", "2026-11-10", None),
        (b, "300", "prospection", "2026-09-01", None),
        (b, "100", "prospection", "", None),
    ] {
        let mut f = raw(&[
            ("title", "x"),
            ("amount", amount),
            ("stage", stage),
            ("close_date", close),
        ]);
        if let Some(p) = prob {
            f.push(("probability", p.to_string()));
        }
        d.add_deal(acc, &f).unwrap();
    }
    let p = d.pipeline(&d.me());
    let stage = |c: &str| p.stages.iter().find(|s| s.code == c).unwrap().clone();
    assert_eq!(stage("proposition").weighted, 50_000);
    assert_eq!(stage("negociation").weighted, 180_000, "deal override 90 %");
    assert_eq!(stage("prospection").count, 2);
    assert_eq!(p.open_count, 4);
    assert_eq!(p.open_amount, 340_000);
    assert_eq!(stage("gagne").amount, 50_000);

    let f = d.forecast(&d.me(), 3);
    let months: Vec<&str> = f.months.iter().map(|m| m.month.as_str()).collect();
    assert_eq!(months, vec!["2026-11", "2026-12", "2027-01"]);
    assert_eq!(f.months[0].weighted, 50_000);
    assert_eq!(f.months[0].won, 50_000);
    assert_eq!(f.months[2].weighted, 180_000);
    assert_eq!(f.overdue.amount, 30_000);
    assert_eq!(f.undated.amount, 10_000);
    assert_eq!(f.weighted_total, 230_000);
}

#[test]
fn two_devices_merge_conflicts_show_on_both_and_resolve() {
    let (_d1, mut a) = device("alice@carnet.test");
    let (_d2, mut b) = device("bruno@carnet.test");
    let acc = a
        .create_account(&raw(&[("name", "Fromagerie Blanc")]))
        .unwrap();
    b.merge_remote(acc, &a.changes_since(acc, &[]).unwrap())
        .unwrap();
    a.set_field(acc, "account/phone", "04 00 00 00 01").unwrap();
    b.set_field(acc, "account/phone", "04 00 00 00 02").unwrap();
    b.add_contact(acc, &raw(&[("name", "Marc Blanc")])).unwrap();
    let a_heads = a.heads(acc).unwrap();
    let from_b = b.changes_since(acc, &a_heads).unwrap();
    let from_a = a.changes_since(acc, &[]).unwrap();
    assert!(a.merge_remote(acc, &from_b).unwrap() > 0);
    b.merge_remote(acc, &from_a).unwrap();

    for dev in [&a, &b] {
        let c = dev.conflicts().unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].path, "account/phone");
        assert_eq!(dev.index().get(acc).unwrap().conflicts, 1);
        assert_eq!(
            dev.index().get(acc).unwrap().contacts.len(),
            1,
            "merged rows are indexed"
        );
    }
    b.resolve_conflict(acc, "account/phone", "04 00 00 00 02")
        .unwrap();
    a.merge_remote(acc, &b.changes_since(acc, &[]).unwrap())
        .unwrap();
    assert!(a.conflicts().unwrap().is_empty());
    assert_eq!(
        a.account_file(acc).unwrap().account.phone.as_deref(),
        Some("04 00 00 00 02")
    );
    // Corrupt remote bytes are refused and change nothing.
    let heads = a.heads(acc).unwrap();
    assert!(matches!(
        a.merge_remote(acc, b"\x85\x6f\x4a\x83\x00garbage"),
        Err(CoreError::CorruptDoc { .. })
    ));
    assert_eq!(a.heads(acc).unwrap(), heads);
    // History on a shows bruno's edit.
    let h = a.history(acc).unwrap();
    assert!(h
        .iter()
        .any(|e| e.author.as_deref() == Some("bruno@carnet.test")
            && e.changes
                .iter()
                .any(|c| c.path.ends_with("/name") && c.new.as_deref() == Some("Marc Blanc"))));
}

#[test]
fn many_edits_compact_and_reopen_with_the_same_index() {
    let dir = tempfile::tempdir().unwrap();
    let acc;
    {
        let mut d = Device::init(dir.path(), "rep@carnet.test", None, "X").unwrap();
        acc = d.create_account(&raw(&[("name", "Compact")])).unwrap();
        for i in 0..80 {
            d.set_field(acc, "account/city", &format!("Ville {i}"))
                .unwrap();
        }
        let stored = d.store().load(acc).unwrap().unwrap();
        assert!(stored.chunks < 32, "compacted: {} chunks", stored.chunks);
    }
    let d = Device::open(dir.path()).unwrap();
    assert_eq!(
        d.account_file(acc).unwrap().account.city.as_deref(),
        Some("Ville 79")
    );
    assert!(d.index().same_as(&d.rebuild_index().unwrap()));
    drop(d);
    assert!(matches!(
        Device::init(dir.path(), "x@carnet.test", None, "X"),
        Err(CoreError::AlreadyInitialised)
    ));
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        Device::open(&empty.path().join("none")),
        Err(CoreError::NotInitialised)
    ));
}

#[derive(Clone, Debug)]
enum Op {
    NewAccount(u8),
    SetCity(u8, u8, u8),
    AddDeal(u8, u8, u32),
    AddAction(u8, u8, u8),
    Sync(u8, u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..3).prop_map(Op::NewAccount),
        (0u8..3, 0u8..8, 0u8..4).prop_map(|(d, a, c)| Op::SetCity(d, a, c)),
        (0u8..3, 0u8..8, 0u32..100_000).prop_map(|(d, a, x)| Op::AddDeal(d, a, x)),
        (0u8..3, 0u8..8, 1u8..28).prop_map(|(d, a, x)| Op::AddAction(d, a, x)),
        (0u8..3, 0u8..3).prop_map(|(a, b)| Op::Sync(a, b)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    /// The index built incrementally on every edit and merge equals the
    /// index rebuilt from the documents, on every device, and after a full
    /// exchange every device indexes the same customer files.
    #[test]
    fn incremental_index_equals_rebuilt_index(ops in prop::collection::vec(op(), 1..40)) {
        let devs: Vec<(TempDir, Device)> = (0..3).map(|i| device(&format!("rep{i}@carnet.test"))).collect();
        let (dirs, mut devs): (Vec<TempDir>, Vec<Device>) = devs.into_iter().unzip();
        let mut accounts: Vec<Vec<DocId>> = vec![Vec::new(); 3];
        let cities = ["Paris", "Lyon", "Nantes", "Lille"];
        for op in ops {
            match op {
                Op::NewAccount(d) => {
                    let id = devs[d as usize].create_account(&raw(&[("name", "Acme")])).unwrap();
                    accounts[d as usize].push(id);
                }
                Op::SetCity(d, a, c) => {
                    if let Some(&id) = accounts[d as usize].get(a as usize % accounts[d as usize].len().max(1)) {
                        devs[d as usize].set_field(id, "account/city", cities[c as usize]).unwrap();
                    }
                }
                Op::AddDeal(d, a, x) => {
                    if let Some(&id) = accounts[d as usize].get(a as usize % accounts[d as usize].len().max(1)) {
                        devs[d as usize].add_deal(id, &raw(&[("title", "t"), ("amount", &x.to_string())])).unwrap();
                    }
                }
                Op::AddAction(d, a, day) => {
                    if let Some(&id) = accounts[d as usize].get(a as usize % accounts[d as usize].len().max(1)) {
                        devs[d as usize].add_action(id, &raw(&[("type", "call"), ("subject", "s"), ("due", &format!("2026-11-{day:02}"))])).unwrap();
                    }
                }
                Op::Sync(x, y) => {
                    if x != y {
                        let ids = accounts[x as usize].clone();
                        for id in ids {
                            let bytes = devs[x as usize].changes_since(id, &[]).unwrap();
                            devs[y as usize].merge_remote(id, &bytes).unwrap();
                            if !accounts[y as usize].contains(&id) {
                                accounts[y as usize].push(id);
                            }
                        }
                    }
                }
            }
        }
        for d in &devs {
            prop_assert!(d.index().same_as(&d.rebuild_index().unwrap()));
        }
        // Full exchange: everyone ends with the same account rows.
        let mut all: Vec<DocId> = accounts.iter().flatten().copied().collect();
        all.sort();
        all.dedup();
        for &id in &all {
            for x in 0..devs.len() {
                let Ok(bytes) = devs[x].changes_since(id, &[]) else { continue };
                for (y, other) in devs.iter_mut().enumerate() {
                    if x != y {
                        other.merge_remote(id, &bytes).unwrap();
                    }
                }
            }
        }
        for &id in &all {
            let rows: Vec<_> = devs.iter().map(|d| d.index().get(id).cloned()).collect();
            prop_assert!(rows.iter().all(|r| r == &rows[0]), "replicas disagree on {}", id);
        }
        for d in &devs {
            prop_assert!(d.index().same_as(&d.rebuild_index().unwrap()));
        }
        drop(dirs);
    }
}

#[test]
fn records_are_edited_by_id_and_a_visit_report_is_one_change() {
    use carnet_core::model::{NewAction, NewContact, NewDeal, VisitReport};
    let (_dir, mut d) = device("rep@carnet.test");
    let acc = d
        .create_account(&raw(&[("name", "Garage Martin"), ("postcode", "69003")]))
        .unwrap();
    let contact = d
        .add_contact(
            acc,
            &NewContact {
                name: "Jean Martin".into(),
                ..NewContact::default()
            }
            .fields(),
        )
        .unwrap()
        .to_string();
    let deal = d
        .add_deal(
            acc,
            &NewDeal {
                title: "Pont élévateur".into(),
                amount: "8 900".into(),
                ..NewDeal::default()
            }
            .fields(),
        )
        .unwrap()
        .to_string();
    // Each record is found by its id alone: no path, no container.
    assert_eq!(
        d.set_record_field(&contact, "phone", "06 12 34 56 78")
            .unwrap(),
        acc
    );
    d.set_record_field(&deal, "stage", "negociation").unwrap();
    d.set_account_field(acc, "city", "Lyon").unwrap();
    let file = d.account_file(acc).unwrap();
    assert_eq!(file.contacts[0].phone.as_deref(), Some("06 12 34 56 78"));
    assert_eq!(file.deals[0].stage, "negociation");
    assert_eq!(file.account.city.as_deref(), Some("Lyon"));
    assert!(matches!(
        d.set_record_field(&DocId::new().to_string(), "phone", "x"),
        Err(CoreError::RecordNotFound(_))
    ));
    assert!(d
        .set_record_field(&contact, "phone", "pas un numéro")
        .is_err());

    // A visit report: the visit done today and its follow-up, one change.
    let changes_before = d.history(acc).unwrap().len();
    let visit = d
        .log_visit(
            acc,
            &VisitReport {
                subject: "Présentation".into(),
                outcome: "Intéressé, veut un devis".into(),
                contact: Some(contact.clone()),
                follow_up: Some(NewAction {
                    action_type: "call".into(),
                    subject: "Relancer".into(),
                    due: "2026-11-27".into(),
                    ..NewAction::default()
                }),
                ..VisitReport::default()
            },
        )
        .unwrap()
        .to_string();
    assert_eq!(d.history(acc).unwrap().len(), changes_before + 1);
    let file = d.account_file(acc).unwrap();
    let done = file.actions.iter().find(|a| a.id == visit).unwrap();
    assert_eq!(done.action_type, "visit");
    assert_eq!(done.done_on, Some(date("2026-11-26")));
    assert_eq!(file.actions.len(), 2);

    // My day on 26/11: the follow-up is due tomorrow, the visit is done.
    let day = d.my_day();
    assert_eq!(day.date, date("2026-11-26"));
    assert!(day.todo.is_empty() && day.visits.is_empty(), "{day:?}");
}

#[test]
fn accepting_a_quote_by_its_status_creates_the_order_as_accept_does() {
    let (_dir, mut d) = device("rep@carnet.test");
    legal_company(&mut d);
    let acc = d
        .create_account(&raw(&[
            ("name", "Hôtel du Parc"),
            ("address_line1", "1 place Bellecour"),
            ("postcode", "69002"),
            ("city", "Lyon"),
            ("siren", "552100554"),
        ]))
        .unwrap();
    let q = d.create_quote(acc, &[]).unwrap().to_string();
    d.add_quote_line(
        &q,
        &NewLine {
            label: Some("Nappes".into()),
            qty: "4".into(),
            unit_price: Some("12".into()),
            vat_rate: Some("20".into()),
            ..NewLine::default()
        },
    )
    .unwrap();
    d.set_record_field(&q, "status", "sent").unwrap();
    assert!(d.account_file(acc).unwrap().orders.is_empty());
    d.set_record_field(&q, "status", "accepted").unwrap();
    let file = d.account_file(acc).unwrap();
    assert_eq!(file.quotes[0].status, "accepted");
    assert_eq!(
        file.orders.len(),
        1,
        "the order exists, as with accept_quote"
    );
    assert_eq!(file.orders[0].totals.net, 4_800);
}

#[test]
fn a_closed_store_reopens_at_once_with_everything_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Device::init(dir.path(), "rep@carnet.test", None, "Test").unwrap();
    let mut ids = Vec::new();
    for i in 0..50 {
        ids.push(
            d.create_account(&raw(&[("name", &format!("Client {i}"))]))
                .unwrap(),
        );
        d.close().unwrap();
        // Reopened right away, as an app closing and reopening its client.
        d = Device::open(dir.path()).unwrap();
    }
    let mut listed: Vec<DocId> = d.search("", 100).into_iter().map(|h| h.id).collect();
    listed.sort();
    ids.sort();
    assert_eq!(listed, ids);
}

/// Fills every company mention a quote needs.
fn legal_company(d: &mut Device) {
    for (k, v) in carnet_core::legal::EXAMPLE_SELLER {
        d.set_company_field(k, v).unwrap();
    }
}

#[test]
fn a_quote_is_sent_only_with_every_legal_mention() {
    use carnet_core::legal::Mention;
    let (_dir, mut d) = device("rep@carnet.test");
    let acc = d
        .create_account(&raw(&[("name", "Garage Dupont"), ("kind", "company")]))
        .unwrap();
    let q = d.create_quote(acc, &raw(&[])).unwrap().to_string();
    let line = NewLine {
        product: None,
        label: Some("Révision".into()),
        qty: "1".into(),
        unit_price: Some("100".into()),
        vat_rate: Some("20".into()),
        discount: None,
    };
    // Nothing set: the company's mentions, the client's, the payment
    // terms, the penalty rate and the lines are all missing, in order.
    let missing = d.quote_missing_mentions(&q).unwrap();
    assert_eq!(
        missing,
        vec![
            Mention::SellerLegalForm,
            Mention::SellerShareCapital,
            Mention::SellerAddress,
            Mention::SellerSiren,
            Mention::SellerRcs,
            Mention::SellerVatNumber,
            Mention::ClientAddress,
            Mention::ClientSiren,
            Mention::PaymentTerms,
            Mention::LatePenaltyRate,
            Mention::Lines,
        ]
    );
    let heads = d.heads(acc).unwrap();
    let err = d.send_quote(&q).unwrap_err();
    let CoreError::Invalid(v @ ValidationError::MissingMentions { .. }) = &err else {
        panic!("{err:?}");
    };
    let fr = v.message_fr();
    assert!(
        fr.contains("il manque : forme juridique de l'entreprise"),
        "{fr}"
    );
    assert!(
        fr.contains("SIREN ou SIRET du client professionnel"),
        "{fr}"
    );
    assert_eq!(d.heads(acc).unwrap(), heads, "a refusal writes nothing");
    // Writing the status by hand is the same refusal.
    assert!(matches!(
        d.set_record_field(&q, "status", "sent").unwrap_err(),
        CoreError::Invalid(ValidationError::MissingMentions { .. })
    ));
    assert_eq!(d.quote(&q).unwrap().1.status, "draft");

    // Each mention filled removes exactly itself from the list.
    legal_company(&mut d);
    d.add_quote_line(&q, &line).unwrap();
    assert_eq!(
        d.quote_missing_mentions(&q).unwrap(),
        vec![Mention::ClientAddress, Mention::ClientSiren]
    );
    for (k, v) in [
        ("address_line1", "3 avenue Foch"),
        ("postcode", "69006"),
        ("city", "Lyon"),
    ] {
        d.set_account_field(acc, k, v).unwrap();
    }
    assert_eq!(
        d.quote_missing_mentions(&q).unwrap(),
        vec![Mention::ClientSiren]
    );
    // A private person needs no SIREN.
    d.set_account_field(acc, "kind", "person").unwrap();
    assert!(d.quote_missing_mentions(&q).unwrap().is_empty());
    d.set_account_field(acc, "kind", "company").unwrap();
    d.set_account_field(acc, "siret", "73282932000074").unwrap();
    assert!(d.quote_missing_mentions(&q).unwrap().is_empty());
    // Each company mention, removed alone, is the one reported.
    for (field, mention) in [
        ("legal_form", Mention::SellerLegalForm),
        ("rcs_city", Mention::SellerRcs),
        ("vat_number", Mention::SellerVatNumber),
        ("city", Mention::SellerAddress),
    ] {
        let before = d.settings().company.clone();
        d.set_company_field(field, "")
            .unwrap_or_else(|e| panic!("{field}: {e}"));
        assert_eq!(
            d.quote_missing_mentions(&q).unwrap(),
            vec![mention],
            "{field}"
        );
        let value = match field {
            "legal_form" => before.legal_form,
            "rcs_city" => before.rcs_city,
            "vat_number" => before.vat_number,
            _ => before.city,
        };
        d.set_company_field(field, &value).unwrap();
    }
    // The quote's own terms stand in for the company's default.
    d.set_company_field("payment_terms", "").unwrap();
    assert_eq!(
        d.quote_missing_mentions(&q).unwrap(),
        vec![Mention::PaymentTerms]
    );
    d.set_record_field(&q, "payment_terms", "à réception")
        .unwrap();
    d.send_quote(&q).unwrap();
    let (_, sent) = d.quote(&q).unwrap();
    assert_eq!(sent.status, "sent");
    // Past its validity date, a sent quote reads as expired.
    assert_eq!(sent.status_on(date("2026-11-26")), "sent");
    let after = sent.valid_until.unwrap() + chrono::Duration::days(1);
    assert_eq!(sent.status_on(after), "expired");
}

#[test]
fn accepting_a_quote_wins_its_deal_for_the_orders_amount() {
    let (_dir, mut d) = device("rep@carnet.test");
    let acc = d
        .create_account(&raw(&[("name", "Fromagerie Petit")]))
        .unwrap();
    let deal = d
        .add_deal(
            acc,
            &raw(&[
                ("title", "Cave"),
                ("amount", "5000"),
                ("stage", "proposition"),
            ]),
        )
        .unwrap()
        .to_string();
    let q = d
        .create_quote(acc, &raw(&[("deal", &deal)]))
        .unwrap()
        .to_string();
    d.add_quote_line(
        &q,
        &NewLine {
            product: None,
            label: Some("Affineur".into()),
            qty: "3".into(),
            unit_price: Some("1234.50".into()),
            vat_rate: Some("20".into()),
            discount: Some("10".into()),
        },
    )
    .unwrap();
    d.accept_quote(&q).unwrap();
    let file = d.account_file(acc).unwrap();
    let won = file.deals.iter().find(|x| x.id == deal).unwrap();
    assert_eq!(won.stage, "gagne");
    // 3 × 1,234.50 − 10 % = 3,333.15 excl. VAT.
    assert_eq!(won.amount.cents, 333_315);
    assert_eq!(file.orders.len(), 1);
    assert_eq!(file.orders[0].totals.net, 333_315);
}

#[test]
fn an_email_is_queued_only_with_its_legal_mentions_and_never_to_an_opted_out_address() {
    use carnet_core::ops::{NewEmail, Sending};
    use carnet_core::text::Lang;
    let (_dir, mut d) = device("rep@carnet.test");
    let acc = d
        .create_account(&raw(&[
            ("name", "Garage Dupont"),
            ("kind", "company"),
            ("siren", "732829320"),
            ("address_line1", "3 avenue Foch"),
            ("postcode", "69006"),
            ("city", "Lyon"),
            ("email", "garage@dupont.test"),
        ]))
        .unwrap();
    let q = d.create_quote(acc, &raw(&[])).unwrap().to_string();
    let line = NewLine {
        product: None,
        label: Some("Révision".into()),
        qty: "1".into(),
        unit_price: Some("100".into()),
        vat_rate: Some("20".into()),
        discount: None,
    };
    d.add_quote_line(&q, &line).unwrap();
    // Without the company's mentions: refused, nothing written.
    let heads = d.heads(acc).unwrap();
    let err = d
        .email_quote(&q, "client@ex.test", "", &[], Lang::Fr)
        .unwrap_err();
    assert!(
        matches!(
            err,
            CoreError::Invalid(ValidationError::MissingMentions { .. })
        ),
        "{err:?}"
    );
    assert_eq!(d.heads(acc).unwrap(), heads);
    assert!(d.outbox().is_empty());
    legal_company(&mut d);
    // A bad address, a subject on two lines: refused.
    assert!(d
        .email_quote(&q, "not an address", "", &[], Lang::Fr)
        .is_err());
    let two_lines = NewEmail {
        to: "a@ex.test",
        subject: "Bonjour\r\nBcc: everyone@ex.test",
        message: "",
        quote: None,
        attachments: &[],
        lang: Lang::Fr,
    };
    assert!(d.queue_email(acc, &two_lines).is_err());
    // Attachments must be library documents meant for this user.
    let stranger = ["ab".repeat(32)];
    assert!(d
        .email_quote(&q, "client@ex.test", "", &stranger, Lang::Fr)
        .is_err());
    assert!(d.outbox().is_empty());

    let id = d
        .email_quote(&q, " Client@Ex.test ", "Bonjour,", &[], Lang::Fr)
        .unwrap()
        .to_string();
    assert_eq!(d.quote(&q).unwrap().1.status, "sent");
    let out = d.outbox();
    assert_eq!(out.len(), 1);
    let (doc, e) = &out[0];
    assert_eq!(*doc, acc);
    assert_eq!(e.id, id);
    assert_eq!(e.to, "client@ex.test");
    assert_eq!(e.status, "queued");
    assert_eq!(e.quote.as_deref(), Some(q.as_str()));
    // The subject follows the quote's number (final once the server saw it).
    let number = d.quote(&q).unwrap().1.number;
    assert_eq!(e.subject, format!("Devis {number}"));

    // The account, then a contact, says no to prospecting email.
    d.set_account_field(acc, "consent_email", "non").unwrap();
    let err = d
        .email_quote(&q, "GARAGE@dupont.test", "", &[], Lang::Fr)
        .unwrap_err();
    let CoreError::Invalid(v @ ValidationError::OptedOut { .. }) = &err else {
        panic!("{err:?}");
    };
    assert!(
        v.message_fr().contains("Garage Dupont"),
        "{}",
        v.message_fr()
    );
    assert!(v
        .message_fr()
        .contains("a refusé la prospection par e-mail"));
    let c = d
        .add_contact(
            acc,
            &raw(&[("name", "Paul Martin"), ("email", "paul@dupont.test")]),
        )
        .unwrap()
        .to_string();
    // Never asked is not a refusal.
    d.email_quote(&q, "paul@dupont.test", "", &[], Lang::En)
        .unwrap();
    d.set_record_field(&c, "consent_email", "no").unwrap();
    assert!(matches!(
        d.email_quote(&q, "paul@dupont.test", "", &[], Lang::Fr)
            .unwrap_err(),
        CoreError::Invalid(ValidationError::OptedOut { .. })
    ));
    assert_eq!(d.outbox().len(), 2);

    // Users cannot write what the mailer records.
    assert!(d.set_record_field(&id, "status", "sent").is_err());
    // The mailer's records, as the server writes them.
    let mut doc = d.load(acc).unwrap();
    let w = carnet_core::doc::Writer {
        user: "server".into(),
        actor: automerge::ActorId::random(),
        now: NOV_26,
    };
    for outcome in [
        Sending::Retry {
            attempts: 1,
            error: "451 try later".into(),
            next_attempt: NOV_26 + 60,
        },
        Sending::Sent {
            at: NOV_26 + 61,
            message_id: format!("<{id}@ex.test>"),
        },
    ] {
        carnet_core::persist::edit(&mut doc, &w, |d| {
            carnet_core::ops::record_sending(d, &id, &outcome)
        })
        .unwrap();
    }
    let file = carnet_core::model::AccountFile::read(&mut doc).unwrap();
    let e = file.emails.iter().find(|e| e.id == id).unwrap();
    assert_eq!(e.status, "sent");
    assert_eq!(e.attempts, 1);
    assert_eq!(e.sent_at, Some(NOV_26 + 61));
    assert_eq!(e.next_attempt, None);
    assert_eq!(
        e.message_id.as_deref(),
        Some(format!("<{id}@ex.test>").as_str())
    );
}

#[test]
fn a_revision_keeps_the_original_readable_and_linked() {
    let (_dir, mut d) = device("rep@carnet.test");
    legal_company(&mut d);
    let acc = d
        .create_account(&raw(&[
            ("name", "Garage Dupont"),
            ("kind", "person"),
            ("address_line1", "3 avenue Foch"),
            ("postcode", "69006"),
            ("city", "Lyon"),
        ]))
        .unwrap();
    let v1 = d
        .create_quote(
            acc,
            &raw(&[
                ("valid_until", "2026-12-26"),
                ("notes", "Livraison offerte"),
            ]),
        )
        .unwrap()
        .to_string();
    for (label, qty, price) in [("Révision", "1", "100"), ("Pneus", "4", "85.50")] {
        d.add_quote_line(
            &v1,
            &NewLine {
                product: None,
                label: Some(label.into()),
                qty: qty.into(),
                unit_price: Some(price.into()),
                vat_rate: Some("20".into()),
                discount: None,
            },
        )
        .unwrap();
    }
    d.send_quote(&v1).unwrap();
    let (_, original) = d.quote(&v1).unwrap();
    let v2 = d.revise_quote(&v1).unwrap().to_string();
    let (_, old) = d.quote(&v1).unwrap();
    let (_, new) = d.quote(&v2).unwrap();
    // v1: unchanged but for its status, still readable.
    assert_eq!(old.status, "superseded");
    assert_eq!(old.lines, original.lines);
    assert_eq!(old.totals, original.totals);
    assert_eq!(old.revision, 1);
    // v2: a draft with the same lines and terms, linked to v1.
    assert_eq!(new.status, "draft");
    assert_eq!(new.revises.as_deref(), Some(v1.as_str()));
    assert_eq!(new.revision, 2);
    assert_ne!(new.number, old.number);
    assert_eq!(new.notes, "Livraison offerte");
    assert_eq!(new.totals, original.totals);
    let labels = |q: &carnet_core::model::Quote| {
        q.lines
            .iter()
            .map(|l| (l.position, l.label.clone(), l.net))
            .collect::<Vec<_>>()
    };
    assert_eq!(labels(&new), labels(&original));
    // The original can be neither sent, accepted nor revised again.
    assert!(d.send_quote(&v1).is_err());
    assert!(d.accept_quote(&v1).is_err());
    assert!(d.revise_quote(&v1).is_err());
    // The revision goes on: edited, revised again (v3), accepted.
    d.set_record_field(&v2, "notes", "Remise fidélité").unwrap();
    let v3 = d.revise_quote(&v2).unwrap().to_string();
    assert_eq!(d.quote(&v3).unwrap().1.revision, 3);
    assert_eq!(d.quote(&v2).unwrap().1.status, "superseded");
    d.accept_quote(&v3).unwrap();
    assert!(
        d.revise_quote(&v3).is_err(),
        "an accepted quote is not revised"
    );
}

/// Files under `dir` whose bytes hold `needle`.
fn files_holding(dir: &std::path::Path, needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
            {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

#[test]
fn a_replaced_file_keeps_offline_edits_across_a_crash_and_leaves_no_trace_of_the_erased() {
    use carnet_core::doc::Writer;
    use carnet_core::erase::{self, Person};
    use carnet_core::sync::AckBasis;

    let dir = tempfile::tempdir().unwrap();
    let mut d = Device::init(dir.path(), "rep@carnet.test", None, "Carnet Test SARL").unwrap();
    let acc = d
        .create_account(&raw(&[("name", "Garage Dupont"), ("postcode", "69003")]))
        .unwrap();
    let zoe = d
        .add_contact(
            acc,
            &raw(&[("name", "Zoé Quérard"), ("email", "zoe.querard@exemple.fr")]),
        )
        .unwrap();
    // The server has all this: acknowledged.
    let heads = d.heads(acc).unwrap();
    assert!(d.acknowledge(acc, &heads, AckBasis::Heads).unwrap());
    let server_copy = d.load(acc).unwrap();
    // Offline: edits of the file, one of them of the erased person.
    d.add_note(acc, "Commande en janvier").unwrap();
    d.add_note(acc, "Zoé Quérard rappelle").unwrap();
    d.set_account_field(acc, "city", "Lyon").unwrap();
    d.set_record_field(&zoe.to_string(), "role", "Acheteuse")
        .unwrap();
    // The server erases her.
    let person = Person::of(&server_copy, &zoe.to_string()).unwrap();
    let server = Writer {
        user: "server".into(),
        actor: automerge::ActorId::random(),
        now: NOV_26,
    };
    let mut fresh = erase::rewrite(&server_copy, &person, &server).unwrap();
    let bytes = fresh.save();

    d.replace(acc, &[zoe.to_string()]).unwrap();
    assert!(!d.has(acc));
    // A crash before the new copy arrives: the edits kept aside survive.
    d.close().unwrap();
    let mut d = Device::open(dir.path()).unwrap();
    assert!(!d.has(acc));
    d.merge_remote(acc, &bytes).unwrap();
    let file = d.account_file(acc).unwrap();
    assert_eq!(file.account.city.as_deref(), Some("Lyon"));
    assert!(file.contacts.iter().all(|c| c.id != zoe.to_string()));
    let mut notes: Vec<String> = file.notes.iter().map(|n| n.body.clone()).collect();
    notes.sort();
    assert_eq!(notes, vec!["Commande en janvier", "[effacé] rappelle"]);
    assert!(d.pending().unwrap().contains(&acc), "the replay goes up");
    // Compacted once nothing waits for a replay: no byte of her left.
    assert!(d.compact_if_due().unwrap());
    for needle in ["Quérard", "querard"] {
        assert_eq!(files_holding(dir.path(), needle), Vec::<String>::new());
    }
    assert!(!d.compact_if_due().unwrap(), "done once");
}
