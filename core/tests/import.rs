//! Bringing a file in and keeping it true, on a device over a real sled
//! store: CSV import of messy files (exact counts, line numbers and
//! reasons), dry runs, re-imports, saved mappings, duplicate detection's
//! precision and recall on a generated set, staleness and returned mail.

use carnet_core::dedup::{self, Keys};
use carnet_core::import::{Options, Outcome, Overrides, Report};
use carnet_core::reports::Scope;
use carnet_core::text::Lang;
use carnet_core::validate;
use carnet_core::{Device, DocId};
use tempfile::TempDir;

const NOV_26: i64 = 1_795_687_200; // 2026-11-26 08:00 UTC
const YEAR: i64 = 366 * 86_400;

fn device() -> (TempDir, Device) {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Device::init(dir.path(), "rep@carnet.test", Some("Rep"), "Carnet SARL").unwrap();
    d.set_clock(Some(NOV_26));
    (dir, d)
}

/// A valid SIRET made of `base`.
fn siret(base: u32) -> String {
    let siren = validate::siren_for(base);
    (10..100)
        .map(|nic| format!("{siren}000{nic:02}"))
        .find(|s| validate::siret(s).is_ok())
        .unwrap()
}

fn import(d: &mut Device, bytes: &[u8], dry_run: bool, overrides: &Overrides) -> Report {
    d.import_accounts(
        bytes,
        overrides,
        &Options {
            dry_run,
            lang: Lang::Fr,
            verified_on: None,
        },
        &mut |_| {},
    )
    .unwrap()
}

/// Windows-1252 bytes of Latin text (what Excel saves as "CSV" in France).
fn cp1252(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c {
            '€' => 0x80,
            '’' => 0x92,
            c if (c as u32) < 0x100 => c as u32 as u8,
            c => panic!("{c} is not in Windows-1252"),
        })
        .collect()
}

/// The messy file: line numbers in the comments (the header is line 1).
fn messy(s1: &str, s2: &str, s3: &str, s4: &str, sep: &str, eol: &str) -> String {
    let s2_spaced = format!("{} {} {} {}", &s2[..3], &s2[3..6], &s2[6..9], &s2[9..]);
    let rows = [
        "Raison sociale;SIRET;Adresse;CP;Ville;Tél.;E-mail;Statut;Contact;Fonction".to_string(),
        // 2: created, with a contact
        format!("Boulangerie Martin SARL;{s1};12 rue des Lilas;69003;Lyon;04 78 00 00 01;contact@martin.fr;Client;Paul Martin;Gérant"),
        // 3: blank
        ";;;;;;;;;".to_string(),
        // 4-5: created, a quoted address on two lines, a spaced SIRET
        format!("Garage Dupont;{s2_spaced};\"5 av. Foch{eol}Bâtiment B\";75016;Paris;;;prospect;;"),
        // 6: duplicate of line 2 by name and postcode (accents, case, legal form)
        "BOULANGERIE MARTIN;;;69003;Lyon;04 78 99 99 99;;;;".to_string(),
        // 7: bad SIRET
        "Café du Port;123;;;;;;;;".to_string(),
        // 8: bad email
        "Fleurs & Co;;;;;;pas-un-email;;;".to_string(),
        // 9: no name
        ";;1 place Bellecour;69002;Lyon;;;;;".to_string(),
        // 10: line 2's company again with another contact: updated
        format!("Boulangerie Martin SARL;{s1};;69003;Lyon;;;;Julie Martin;Vendeuse"),
        // 11: created
        "Imprimerie Lenoir;;;13001;Marseille;+33 4 91 00 00 02;;;;".to_string(),
        // 12: duplicate of line 11 by phone
        "Autre nom;;;;;04.91.00.00.02;;;;".to_string(),
        // 13: duplicate of the file already on the device, by SIRET
        format!("Existing Co;{s3};;;;;;;;"),
        // 14: created, status word and email case normalized
        "Société Générale des Eaux;;;44000;Nantes;;INFO@SGE.FR;ancien client;;".to_string(),
        // 15: duplicate of line 14 by email
        "Eaux SGE;;;;;;info@sge.fr;;;".to_string(),
        // 16: created, a postcode whose leading zero a spreadsheet ate
        format!("Grand Hôtel;{s4};;6000;Nice;;;PROSPECT;;"),
        // 17: unknown status
        "Statut bizarre;;;;;;;peut-être;;".to_string(),
    ];
    let mut out = rows.join(eol).replace(';', sep);
    out.push_str(eol);
    out.push_str(eol);
    out
}

fn notes(r: &Report) -> Vec<(u64, Outcome)> {
    r.rows.iter().map(|n| (n.line, n.outcome)).collect()
}

fn expected_notes() -> Vec<(u64, Outcome)> {
    use Outcome::*;
    vec![
        (6, Duplicate),
        (7, Rejected),
        (8, Rejected),
        (9, Rejected),
        (12, Duplicate),
        (13, Duplicate),
        (15, Duplicate),
        (17, Rejected),
    ]
}

#[test]
fn a_messy_csv_comes_in_with_exact_counts_lines_and_reasons() {
    let (s1, s2, s3, s4) = (siret(1_001), siret(1_002), siret(1_003), siret(1_004));
    let files = [
        // UTF-8 with BOM, semicolons, CRLF.
        [
            b"\xEF\xBB\xBF".to_vec(),
            messy(&s1, &s2, &s3, &s4, ";", "\r\n").into_bytes(),
        ]
        .concat(),
        // Windows-1252, commas, LF (the address has a comma-free value).
        cp1252(&messy(&s1, &s2, &s3, &s4, ",", "\n").replace("Fleurs & Co", "Fleurs et Co")),
    ];
    for file in files {
        let (_dir, mut d) = device();
        let existing = d
            .create_account(&[("name", "Existing Co".to_string()), ("siret", s3.clone())])
            .unwrap();

        // A dry run counts the same and writes nothing.
        let before = d.index().len();
        let dry = import(&mut d, &file, true, &Overrides::new());
        assert_eq!(d.index().len(), before);
        assert!(dry.dry_run);

        let r = import(&mut d, &file, false, &Overrides::new());
        for rep in [&dry, &r] {
            assert_eq!(
                (
                    rep.created,
                    rep.updated,
                    rep.duplicates,
                    rep.rejected,
                    rep.blank
                ),
                (5, 1, 4, 4, 1),
                "{rep:#?}"
            );
            assert_eq!(notes(rep), expected_notes());
        }
        assert_eq!(r.contacts, 2);
        let reason = |line: u64| {
            r.rows
                .iter()
                .find(|n| n.line == line)
                .unwrap()
                .reason
                .clone()
        };
        assert_eq!(
            reason(6),
            "doublon de « Boulangerie Martin SARL » (même nom et code postal)"
        );
        assert!(reason(7).contains("SIRET"), "{}", reason(7));
        assert!(reason(8).contains("e-mail"), "{}", reason(8));
        assert!(reason(9).contains("name"), "{}", reason(9));
        assert_eq!(
            reason(12),
            "doublon de « Imprimerie Lenoir » (même téléphone)"
        );
        assert_eq!(reason(13), "doublon de « Existing Co » (même SIRET)");
        assert_eq!(r.rows[5].of, Some(existing));
        assert_eq!(
            reason(15),
            "doublon de « Société Générale des Eaux » (même e-mail)"
        );
        assert!(reason(17).contains("peut-être"), "{}", reason(17));

        // What was written, normalized.
        let find = |d: &Device, name: &str| -> DocId {
            d.search(name, 5)
                .into_iter()
                .find(|h| h.name == name)
                .unwrap_or_else(|| panic!("{name} not imported"))
                .id
        };
        let martin = d.account_file(find(&d, "Boulangerie Martin SARL")).unwrap();
        assert_eq!(martin.account.phone.as_deref(), Some("+33478000001"));
        assert_eq!(martin.account.status, "client");
        let mut people: Vec<_> = martin
            .contacts
            .iter()
            .map(|c| (c.name.as_str(), c.role.as_deref()))
            .collect();
        people.sort();
        assert_eq!(
            people,
            [
                ("Julie Martin", Some("Vendeuse")),
                ("Paul Martin", Some("Gérant"))
            ]
        );
        let garage = d.account_file(find(&d, "Garage Dupont")).unwrap();
        assert_eq!(garage.account.siret.as_deref(), Some(s2.as_str()));
        // A line break inside a quoted field becomes a space.
        assert_eq!(
            garage.account.address_line1.as_deref(),
            Some("5 av. Foch Bâtiment B")
        );
        let sge = d
            .account_file(find(&d, "Société Générale des Eaux"))
            .unwrap();
        assert_eq!(
            (sge.account.status.as_str(), sge.account.email.as_deref()),
            ("former", Some("info@sge.fr"))
        );
        let hotel = d.account_file(find(&d, "Grand Hôtel")).unwrap();
        assert_eq!(hotel.account.postcode.as_deref(), Some("06000"));

        // Re-importing the same file creates nothing.
        let n = d.index().len();
        let again = import(&mut d, &file, false, &Overrides::new());
        assert_eq!((again.created, again.updated, again.rejected), (0, 0, 4));
        assert_eq!(again.duplicates, 10);
        assert_eq!(d.index().len(), n);
    }
}

#[test]
fn a_mapping_overrides_the_headers_and_is_kept_for_next_time() {
    let (_dir, mut d) = device();
    let file = format!(
        "Enseigne commerciale,Numéro,Divers\nChez Paul,{},rien\n",
        siret(7)
    );
    let err = d
        .import_accounts(
            file.as_bytes(),
            &Overrides::new(),
            &Options {
                dry_run: true,
                lang: Lang::En,
                verified_on: None,
            },
            &mut |_| {},
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("no column gives the account's name"), "{err}");
    let mapping: Overrides = [
        ("Enseigne commerciale", "name"),
        ("Numéro", "siret"),
        ("Divers", "ignore"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    let r = import(&mut d, file.as_bytes(), false, &mapping);
    assert_eq!(r.created, 1);
    assert_eq!(r.columns[1].field.as_deref(), Some("siret"));
    assert_eq!(d.import_mapping(), mapping);
    // Next time, without --mapping, the saved one applies.
    let next = format!("Enseigne commerciale,Numéro\nChez Pierre,{}\n", siret(8));
    let r = import(&mut d, next.as_bytes(), false, &Overrides::new());
    assert_eq!((r.created, r.rejected), (1, 0), "{r:#?}");
}

/// A generated file of companies with known duplicates: precision and
/// recall of the pairs the tenant-wide grouping finds.
#[test]
fn duplicate_detection_has_high_precision_and_recall_on_a_known_set() {
    const TRADES: &[&str] = &[
        "Boulangerie",
        "Garage",
        "Pharmacie",
        "Cabinet",
        "Imprimerie",
        "Hôtel",
        "Café",
        "Menuiserie",
        "Plomberie",
        "Fleuriste",
    ];
    const FAMILIES: &[&str] = &[
        "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
        "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
        "Vincent", "Fournier",
    ];
    const FORMS: &[&str] = &["SARL", "SAS", "S.A.R.L.", "EURL", "Ets", "& Fils"];
    let mut seed = 42u64;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as usize
    };
    let mut files: Vec<(usize, Keys)> = Vec::new();
    let mut truth: std::collections::HashSet<(usize, usize)> = Default::default();
    let mut id = 0usize;
    for (i, trade) in TRADES.iter().enumerate() {
        for (j, family) in FAMILIES.iter().enumerate() {
            for k in 0..10usize {
                let base = i * 200 + j * 10 + k;
                let name = format!("{trade} {family}");
                let postcode = format!("{:05}", 10_000 + (j * 10 + k) * 97 + i);
                let siret_v = (base % 3 == 0).then(|| siret(10_000 + base as u32));
                let email = (base % 2 == 0).then(|| format!("contact{base}@exemple.fr"));
                let phone = (base % 5 != 0).then(|| {
                    format!(
                        "04 78 {:02} {:02} {:02}",
                        base / 10_000,
                        (base / 100) % 100,
                        base % 100
                    )
                });
                let me = id;
                files.push((
                    me,
                    Keys::of(
                        &name,
                        Some(&postcode),
                        siret_v.as_deref(),
                        None,
                        email.as_deref(),
                        phone.as_deref(),
                    ),
                ));
                id += 1;
                // A duplicate for one company in six, written another way.
                if base % 6 == 1 || base % 6 == 3 {
                    let variant = match next() % 4 {
                        0 => format!("{} {}", name.to_uppercase(), FORMS[next() % FORMS.len()]),
                        1 => dedup_accents(&name).to_lowercase(),
                        2 => format!("{family} ({trade})"),
                        _ => format!("{}.", name.replace(' ', "-")),
                    };
                    // Each duplicate shares one key, chosen among those the
                    // original has (name and postcode always).
                    let keys = match next() % 4 {
                        0 if siret_v.is_some() => {
                            Keys::of("Autre enseigne", None, siret_v.as_deref(), None, None, None)
                        }
                        1 if email.is_some() => Keys::of(
                            "Autre",
                            None,
                            None,
                            None,
                            email.as_deref().map(str::to_uppercase).as_deref(),
                            None,
                        ),
                        2 if phone.is_some() => Keys::of(
                            "Autre",
                            None,
                            None,
                            None,
                            None,
                            phone.as_deref().map(|p| p.replace(' ', ".")).as_deref(),
                        ),
                        _ => Keys::of(&variant, Some(&postcode), None, None, None, None),
                    };
                    files.push((id, keys));
                    truth.insert((me, id));
                    id += 1;
                }
                // A near miss: same name, another town; or another
                // establishment (other SIRET) in the same postcode.
                if base % 17 == 0 {
                    let elsewhere = format!("{}", 99_000 - base);
                    files.push((
                        id,
                        Keys::of(&name, Some(&elsewhere), None, None, None, None),
                    ));
                    id += 1;
                    if let Some(_s) = &siret_v {
                        files.push((
                            id,
                            Keys::of(
                                &name,
                                Some(&postcode),
                                Some(&siret(900_000 + base as u32)),
                                None,
                                None,
                                None,
                            ),
                        ));
                        id += 1;
                    }
                }
            }
        }
    }
    let groups = dedup::groups(&files);
    let mut found: std::collections::HashSet<(usize, usize)> = Default::default();
    for g in &groups {
        for (x, a) in g.members.iter().enumerate() {
            for b in &g.members[x + 1..] {
                found.insert((*a.min(b), *a.max(b)));
            }
        }
    }
    let hits = found.intersection(&truth).count() as f64;
    let precision = hits / found.len() as f64;
    let recall = hits / truth.len() as f64;
    println!(
        "{} files, {} known duplicate pairs: precision {precision:.3}, recall {recall:.3}",
        files.len(),
        truth.len()
    );
    assert!(truth.len() > 500);
    assert!(precision >= 0.99, "precision {precision}");
    assert!(recall >= 0.99, "recall {recall}");
}

fn dedup_accents(s: &str) -> String {
    carnet_core::index::fold(s)
}

#[test]
fn a_new_file_is_warned_about_its_twin_offline() {
    let (_dir, mut d) = device();
    let s = siret(55);
    let martin = d
        .create_account(&[
            ("name", "Boulangerie Martin".to_string()),
            ("postcode", "69003".to_string()),
            ("siret", s.clone()),
        ])
        .unwrap();
    let hits = d.duplicates_of(&[
        ("name", "BOULANGERIE MARTIN SARL".to_string()),
        ("postcode", "69003".to_string()),
    ]);
    assert_eq!(hits.len(), 1);
    assert_eq!(
        (hits[0].id, hits[0].reason),
        (martin, dedup::Reason::NamePostcode)
    );
    assert!(d
        .duplicates_of(&[
            ("name", "Boulangerie Martin".to_string()),
            ("postcode", "69004".to_string())
        ])
        .is_empty());
    let groups = d.duplicate_groups();
    assert!(groups.is_empty());
    d.create_account(&[("name", "Martin".to_string()), ("siret", s)])
        .unwrap();
    assert_eq!(d.duplicate_groups().len(), 1);
}

#[test]
fn stale_fields_are_listed_until_verified_and_returned_mail_until_corrected() {
    let (_dir, mut d) = device();
    let a = d
        .create_account(&[
            ("name", "Garage Dupont".to_string()),
            ("address_line1", "5 avenue Foch".to_string()),
            ("postcode", "75016".to_string()),
            ("phone", "01 23 45 67 89".to_string()),
        ])
        .unwrap();
    d.add_contact(
        a,
        &[("name", "Paul".to_string()), ("role", "Gérant".to_string())],
    )
    .unwrap();
    let me = Scope::User("rep@carnet.test".into());
    assert!(d.stale_accounts(&me, 10).is_empty());
    assert_eq!(d.data_quality(&me).unverified_over_a_year, 0);

    // Two years on, nothing was checked: every key field is to check.
    d.set_clock(Some(NOV_26 + 2 * YEAR));
    let stale = d.stale_accounts(&me, 10);
    assert_eq!(stale.len(), 1);
    let fields: Vec<&str> = stale[0].to_check.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields.len(), 3);
    assert!(fields.contains(&"address") && fields.contains(&"phone"));
    assert!(fields.iter().any(|f| f.starts_with("role/")));
    assert!(
        (stale[0].staleness - 0.0975).abs() < 0.01,
        "{}",
        stale[0].staleness
    );
    let q = d.data_quality(&me);
    assert_eq!((q.fields, q.unverified_over_a_year), (3, 3));
    assert_eq!(q.share_unverified, 1.0);

    // A visit planned there puts it first in "to check on my next visit".
    d.add_action(
        a,
        &[
            ("type", "visit".to_string()),
            ("subject", "Tournée".to_string()),
            ("due", "2028-12-01".to_string()),
        ],
    )
    .unwrap();
    assert!(d.stale_accounts(&me, 10)[0].next_visit.is_some());

    // Confirming the phone and roles during the visit leaves the address.
    d.verify_account(a, &["phone".into(), "roles".into()])
        .unwrap();
    let stale = d.stale_accounts(&me, 10);
    assert_eq!(
        stale[0]
            .to_check
            .iter()
            .map(|c| c.field.as_str())
            .collect::<Vec<_>>(),
        ["address"]
    );
    assert!(d.verify_account(a, &["shoe size".into()]).is_err());

    // Mail came back: listed to correct until the address is edited.
    d.mark_returned_mail(a, true).unwrap();
    assert_eq!(d.data_quality(&me).undeliverable.len(), 1);
    d.set_account_field(a, "address_line1", "7 avenue Foch")
        .unwrap();
    assert!(d.data_quality(&me).undeliverable.is_empty());
    // Editing the address verified it: nothing left to check.
    assert!(d.stale_accounts(&me, 10).is_empty());
    let file = d.account_file(a).unwrap();
    assert!(!file.account.returned_mail);
    assert!(file.account.verified_address.is_some());
}

/// A file's content as compared across devices.
fn content(d: &Device) -> Vec<String> {
    let mut out: Vec<String> = d
        .index()
        .accounts()
        .map(|(id, _, _)| {
            let f = d.account_file(id).unwrap();
            let a = &f.account;
            let mut contacts: Vec<String> = f
                .contacts
                .iter()
                .map(|c| {
                    format!(
                        "{}|{:?}|{:?}|{:?}|{:?}",
                        c.name, c.role, c.phone, c.mobile, c.email
                    )
                })
                .collect();
            contacts.sort();
            format!(
                "{}|{:?}|{:?}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
                a.name,
                a.siret,
                a.siren,
                a.status,
                a.address_line1,
                a.address_line2,
                a.postcode,
                a.city,
                a.phone,
                a.email,
                contacts
            )
        })
        .collect();
    out.sort();
    out
}

fn sample(d: &mut Device) -> (DocId, DocId) {
    let a = d
        .create_account(&[
            ("name", "Crèmerie Dupré & Fils".to_string()),
            ("siret", siret(31)),
            ("address_line1", "3 avenue Foch".to_string()),
            ("address_line2", "Bâtiment B, 2e étage".to_string()),
            ("postcode", "69006".to_string()),
            ("city", "Lyon".to_string()),
            ("phone", "+33478000001".to_string()),
            ("email", "contact@dupre.fr".to_string()),
            ("status", "former".to_string()),
        ])
        .unwrap();
    d.add_contact(
        a,
        &[
            ("name", "Jeanne Dupré".to_string()),
            ("role", "Gérante; associée".to_string()),
            ("mobile", "+33612345678".to_string()),
            ("email", "jeanne@dupre.fr".to_string()),
            ("notes", "Préfère le matin\nPas le lundi".to_string()),
        ],
    )
    .unwrap();
    d.add_contact(a, &[("name", "Paul Dupré".to_string())])
        .unwrap();
    let b = d
        .create_account(&[
            ("name", "=HYPERLINK(\"x\")".to_string()),
            ("siren", validate::siren_for(77)),
            ("postcode", "13001".to_string()),
            ("email", "info@formule.fr".to_string()),
        ])
        .unwrap();
    (a, b)
}

#[test]
fn a_csv_export_reimports_into_the_same_files_and_mailing_lists_leave_out_the_undeliverable() {
    let (_da, mut a) = device();
    let (dupre, formula) = sample(&mut a);
    let csv = a
        .export_accounts(&Scope::All, carnet_core::export::Audience::All)
        .unwrap();
    // A formula is defused for the spreadsheet.
    assert!(String::from_utf8_lossy(&csv).contains("'=HYPERLINK"));
    let (_db, mut b) = device();
    let r = import(&mut b, &csv, false, &Overrides::new());
    assert_eq!((r.created, r.updated, r.rejected), (2, 1, 0), "{r:#?}");
    assert_eq!(content(&b), content(&a));

    use carnet_core::export::Audience;
    let rows = |d: &Device, audience| {
        String::from_utf8(d.export_accounts(&Scope::All, audience).unwrap())
            .unwrap()
            .lines()
            .count()
            - 1
    };
    assert_eq!(
        (
            rows(&a, Audience::All),
            rows(&a, Audience::Mailing),
            rows(&a, Audience::Emailing)
        ),
        (3, 2, 2)
    );
    a.mark_returned_mail(dupre, true).unwrap();
    a.mark_email_bounced(formula, true).unwrap();
    assert_eq!(
        (rows(&a, Audience::Mailing), rows(&a, Audience::Emailing)),
        (1, 1)
    );
    a.set_account_field(dupre, "consent_email", "non").unwrap();
    assert_eq!(rows(&a, Audience::Emailing), 0);
}

#[test]
fn contacts_round_trip_through_vcard_into_the_files_named_by_their_company() {
    let (_da, mut a) = device();
    let (dupre, _) = sample(&mut a);
    let text = a.export_vcard(None, &Scope::All).unwrap();
    assert!(text.starts_with("BEGIN:VCARD\r\nVERSION:4.0\r\n"));
    let one = a.export_vcard(Some(dupre), &Scope::All).unwrap();
    assert_eq!(one.matches("BEGIN:VCARD").count(), 2);

    let (_db, mut b) = device();
    let r = b.import_vcard(&text, None).unwrap();
    assert_eq!(
        (r.contacts_added, r.accounts_created, r.duplicates),
        (2, 1, 0),
        "{r:?}"
    );
    let f = b.account_file(b.search("Dupré", 5)[0].id).unwrap();
    let people = |f: &carnet_core::model::AccountFile| {
        let mut v: Vec<_> = f
            .contacts
            .iter()
            .map(|c| {
                format!(
                    "{}|{:?}|{:?}|{:?}|{}",
                    c.name, c.role, c.mobile, c.email, c.notes
                )
            })
            .collect();
        v.sort();
        v
    };
    let (got, want) = (people(&f), people(&a.account_file(dupre).unwrap()));
    assert_eq!(got, want);
    // Again: everything is already there.
    let again = b.import_vcard(&text, None).unwrap();
    assert_eq!((again.contacts_added, again.duplicates), (0, 2));
    // A vCard 3.0 card without ORG goes to the file given.
    let v3 = "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Martin;Luc;;;\r\nTEL;TYPE=CELL:06 11 22 33 44\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nN:Sans;Société;;;\r\nEND:VCARD\r\n";
    let r = b.import_vcard(v3, Some(f.account.id)).unwrap();
    assert_eq!(r.contacts_added, 2);
    let r = b.import_vcard(v3, None).unwrap();
    assert_eq!(r.rejected.len(), 2);
    let f = b.account_file(f.account.id).unwrap();
    assert!(f
        .contacts
        .iter()
        .any(|c| c.name == "Luc Martin" && c.mobile.as_deref() == Some("+33611223344")));
}

#[test]
fn a_backup_restores_identical_documents_with_their_history() {
    use carnet_core::store::{SledStore, Store};
    let (_da, mut a) = device();
    let (dupre, _) = sample(&mut a);
    a.set_account_field(dupre, "city", "Villeurbanne").unwrap();
    let mut file = Vec::new();
    let counts = carnet_core::backup::write(a.store(), &mut file).unwrap();
    assert!(counts.docs >= 6 && counts.meta > 0, "{counts:?}");

    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(
        carnet_core::backup::restore(&store, &file[..]).unwrap(),
        counts
    );
    let b = Device::open_store(store).unwrap();
    assert_eq!(b.identity(), a.identity());
    assert!(b.index().same_as(a.index()));
    for id in a.store().doc_ids().unwrap() {
        let (mut x, mut y) = (a.load(id).unwrap(), b.load(id).unwrap());
        assert_eq!(x.heads(), y.heads());
        assert_eq!(x.save(), y.save());
        assert_eq!(a.history(id).unwrap(), b.history(id).unwrap());
    }

    // Into a store that holds something, cut short, or tampered: refused.
    let again = carnet_core::backup::restore(b.store(), &file[..]).unwrap_err();
    assert!(again.to_string().contains("empty store"), "{again}");
    for bad in [
        file[..file.len() - 40].to_vec(),
        file[..10].to_vec(),
        b"{\"t\":\"meta\",\"key\":\"k\",\"value\":\"\"}\n".to_vec(),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        assert!(carnet_core::backup::restore(&store, &bad[..]).is_err());
    }
    let text = String::from_utf8(file).unwrap();
    let doc_line = text.lines().find(|l| l.contains("\"t\":\"doc\"")).unwrap();
    let garbled = text.replace(
        doc_line,
        &doc_line.replace("\"bytes\":\"", "\"bytes\":\"AAAA"),
    );
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    assert!(carnet_core::backup::restore(&store, garbled.as_bytes()).is_err());
}

#[test]
fn prospects_silent_for_three_years_are_listed_until_contacted() {
    let (_dir, mut d) = device();
    let quiet = d
        .create_account(&[("name", "Prospect muet".to_string())])
        .unwrap();
    d.create_account(&[
        ("name", "Client fidèle".to_string()),
        ("status", "client".to_string()),
    ])
    .unwrap();
    let me = Scope::User("rep@carnet.test".into());
    assert!(d.dormant_prospects(&me).is_empty());
    d.set_clock(Some(NOV_26 + 3 * YEAR));
    let dormant = d.dormant_prospects(&me);
    assert_eq!(dormant.iter().map(|p| p.id).collect::<Vec<_>>(), [quiet]);
    assert_eq!(
        dormant[0].last_contact.map(|d| d.to_string()).as_deref(),
        Some("2026-11-26")
    );
    // A call made today is a contact.
    let call = d
        .add_action(
            quiet,
            &[
                ("type", "call".to_string()),
                ("subject", "Relance".to_string()),
                ("due", "2029-11-30".to_string()),
            ],
        )
        .unwrap();
    assert_eq!(d.dormant_prospects(&me).len(), 1);
    d.complete_action(&call.to_string(), None, None).unwrap();
    assert!(d.dormant_prospects(&me).is_empty());
}

#[test]
fn everything_held_about_one_person_comes_out_and_nothing_about_others() {
    let (_dir, mut d) = device();
    let (dupre, _) = sample(&mut d);
    let f = d.account_file(dupre).unwrap();
    let jeanne = f
        .contacts
        .iter()
        .find(|c| c.name == "Jeanne Dupré")
        .unwrap()
        .id
        .clone();
    let paul = f
        .contacts
        .iter()
        .find(|c| c.name == "Paul Dupré")
        .unwrap()
        .id
        .clone();
    d.add_deal(
        dupre,
        &[
            ("title", "Vitrine".to_string()),
            ("amount", "1200".to_string()),
            ("contact", jeanne.clone()),
        ],
    )
    .unwrap();
    d.add_deal(
        dupre,
        &[
            ("title", "Four".to_string()),
            ("amount", "900".to_string()),
            ("contact", paul.clone()),
        ],
    )
    .unwrap();
    d.add_note(dupre, "Appelé jeanne dupre, rappeler jeudi")
        .unwrap();
    d.add_note(dupre, "Paul absent").unwrap();
    d.set_record_field(&jeanne, "role", "Associée").unwrap();
    let p = d.person_data(&jeanne).unwrap();
    assert_eq!(p.contact.name, "Jeanne Dupré");
    assert_eq!(
        p.deals.iter().map(|x| x.title.as_str()).collect::<Vec<_>>(),
        ["Vitrine"]
    );
    assert_eq!(p.notes.len(), 1);
    assert_eq!(p.account, "Crèmerie Dupré & Fils");
    // Her record's creation and the role change, nothing of Paul's.
    assert_eq!(p.history.len(), 2);
    let json = serde_json::to_string(&p).unwrap();
    assert!(json.contains("Associée") && !json.contains(&paul));
    assert!(d.person_data("not-a-contact").is_err());
}

#[test]
fn a_returned_mail_list_marks_the_files_it_names_and_they_leave_the_next_mailing() {
    use carnet_core::export::Audience;
    let (_dir, mut d) = device();
    let (dupre, formula) = sample(&mut d);
    let returned = format!(
        "Raison sociale;SIRET;CP\r\nCREMERIE DUPRE;;69006\r\nInconnue;;75001\r\n;{};\r\nCrèmerie Dupré & Fils;;69006\r\n",
        siret(31)
    );
    let r = d.import_returned(returned.as_bytes(), false).unwrap();
    assert_eq!((r.marked, r.already), (1, 2), "{r:?}");
    assert_eq!(r.unmatched.iter().map(|u| u.line).collect::<Vec<_>>(), [3]);
    assert!(d.account_file(dupre).unwrap().account.returned_mail);
    let mailing =
        String::from_utf8(d.export_accounts(&Scope::All, Audience::Mailing).unwrap()).unwrap();
    assert!(!mailing.contains("Dupré"), "{mailing}");

    // A bounce list: email addresses only.
    let bounces = "E-mail\ninfo@formule.fr\nnobody@nowhere.fr\n";
    let r = d.import_returned(bounces.as_bytes(), true).unwrap();
    assert_eq!((r.marked, r.unmatched.len()), (1, 1));
    assert!(d.account_file(formula).unwrap().account.email_bounced);
    let q = d.data_quality(&Scope::All);
    assert_eq!(q.undeliverable.len(), 2);
}

#[test]
fn oversized_mapping_and_vcard_files_are_refused_before_being_read() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = dir.path().join("mapping.json");
    std::fs::write(
        &mapping,
        format!("{{\"a\": \"{}\"}}", "x".repeat(70 * 1024)),
    )
    .unwrap();
    let err = carnet_core::import::read_mapping(&mapping)
        .unwrap_err()
        .to_string();
    assert!(err.contains("at most 64 KiB"), "{err}");
    std::fs::write(&mapping, "[1, 2]").unwrap();
    assert!(carnet_core::import::read_mapping(&mapping).is_err());
    std::fs::write(&mapping, "{\"Tél.\": \"phone\"}").unwrap();
    assert_eq!(
        carnet_core::import::read_mapping(&mapping).unwrap()["Tél."],
        "phone"
    );

    let vcf = dir.path().join("big.vcf");
    let f = std::fs::File::create(&vcf).unwrap();
    f.set_len(33 << 20).unwrap();
    let err = carnet_core::device::read_vcard_file(&vcf)
        .unwrap_err()
        .to_string();
    assert!(err.contains("more than 32 MB"), "{err}");
    let many = "BEGIN:VCARD\nFN:X\nEND:VCARD\n".repeat(carnet_core::vcard::MAX_CARDS + 1);
    assert!(carnet_core::vcard::parse(&many)
        .unwrap_err()
        .to_string()
        .contains("cards"));
}

#[test]
fn a_file_imported_with_its_export_date_is_stale_from_that_day_not_from_the_import() {
    let (_dir, mut d) = device();
    let csv = "Raison sociale;Tél.;Ville;Contact;Fonction\n\
               Ancien Export;01 40 00 00 01;Lyon;Léa Ancienne;Acheteuse\n";
    let run = |d: &mut Device, verified_on| {
        d.import_accounts(
            csv.as_bytes(),
            &Overrides::new(),
            &Options {
                dry_run: false,
                lang: Lang::Fr,
                verified_on,
            },
            &mut |_| {},
        )
        .unwrap()
    };
    let scope = carnet_core::reports::Scope::All;
    // Without a date: checked today, as anything typed in.
    assert_eq!(run(&mut d, None).created, 1);
    assert!(d.stale_accounts(&scope, 100).is_empty());

    let (_dir2, mut d2) = device();
    let exported = chrono::NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
    assert_eq!(run(&mut d2, Some(exported)).created, 1);
    let stale = d2.stale_accounts(&scope, 100);
    assert_eq!(stale.len(), 1);
    let fields: Vec<(&str, chrono::NaiveDate)> = stale[0]
        .to_check
        .iter()
        .map(|c| (c.field.split('/').next().unwrap(), c.since))
        .collect();
    assert_eq!(
        fields,
        vec![
            ("address", exported),
            ("phone", exported),
            ("role", exported)
        ]
    );
}

/// An import stores its new files in groups, one store batch each: a file
/// is whole after a restart, is one change stamped with the device's
/// clock, waits for the server, and a later row can add a contact to a
/// file of a group not stored yet.
#[test]
fn an_imported_file_is_one_change_stored_whole_in_groups() {
    use carnet_core::index::DocRows;
    use carnet_core::store::Store;
    let (dir, mut d) = device();
    let rows = 700;
    let mut csv = String::from("Raison sociale;CP;Ville;Contact;E-mail\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "Atelier {i};{:05};Ville {i};Contact {i};c{i}@exemple.fr\n",
            10_000 + i
        ));
        if i == 5 {
            // The next row names the same company with another contact
            // (a file with one row per contact): it joins the file's one
            // change.
            csv.push_str("Atelier 5;10005;Ville 5;Seconde Personne;seconde@exemple.fr\n");
        }
    }
    // The last row names the file of row 2 again, long stored, with
    // another contact: the file gets it, as a change of its own, not a
    // twin.
    csv.push_str("Atelier 1;10001;Ville 1;Autre Personne;autre@exemple.fr\n");
    let r = import(&mut d, csv.as_bytes(), false, &Overrides::new());
    assert_eq!(
        (r.created, r.updated, r.rejected),
        (rows as u64, 2, 0),
        "{r:?}"
    );
    drop(d);

    let d = Device::open(dir.path()).unwrap();
    let files: Vec<(DocId, String, usize)> = d
        .index()
        .accounts()
        .map(|(id, a, rows)| (id, a.name.clone(), rows.contacts.len()))
        .collect();
    assert_eq!(files.len(), rows);
    let pending = d.sync_status().unwrap().pending;
    for (id, name, contacts) in &files {
        assert!(pending.contains(id), "{name} is not waiting for the server");
        // Its index rows, read from the tree it was built from, are the
        // rows its stored document gives.
        let rows = DocRows::of(&mut d.load(*id).unwrap()).unwrap();
        assert_eq!(Some(&rows), d.index().get(*id), "{name}");
        let history = d.history(*id).unwrap();
        let (want, changes) = match name.as_str() {
            "Atelier 1" => (2, 2),
            "Atelier 5" => (2, 1),
            _ => (1, 1),
        };
        assert_eq!(contacts, &want, "{name}");
        // The file and its first contacts: one change, at the device's time.
        assert_eq!(history.len(), changes, "{name}: {history:?}");
        assert_eq!(history[0].time, NOV_26);
        let paths: Vec<&str> = history[0].changes.iter().map(|c| c.path.as_str()).collect();
        assert!(paths.contains(&"account/name"), "{paths:?}");
        assert!(
            paths
                .iter()
                .any(|p| p.starts_with("contacts/") && p.ends_with("/name")),
            "{paths:?}"
        );
    }
    let one = files.iter().find(|f| f.1 == "Atelier 1").unwrap().0;
    let file = d.load(one).unwrap();
    let hydrated = format!("{:?}", file.hydrated());
    assert!(hydrated.contains("Autre Personne") && hydrated.contains("Contact 1\""));
    // The store holds every file the index lists.
    let stored = d.store().doc_ids().unwrap();
    assert!(files.iter().all(|f| stored.contains(&f.0)));
}
