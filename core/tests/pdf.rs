//! Quote PDFs made offline by the core, read back with poppler's
//! `pdftotext` (Debian's poppler-utils; `.ci/run` installs it): numbers,
//! totals per VAT rate, every legal mention, accents and the euro sign, and
//! a long quote's pages each with the table header and its number.

use std::path::Path;
use std::process::Command;

use carnet_core::model::NewQuoteLine;
use carnet_core::text::Lang;
use carnet_core::Device;
use tempfile::TempDir;

const NOV_26: i64 = 1_795_687_200; // 2026-11-26 08:00 UTC

fn raw<'a>(pairs: &[(&'a str, &str)]) -> Vec<(&'a str, String)> {
    pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

/// A device whose company states every mention, and a business client.
fn setup() -> (TempDir, Device, carnet_core::DocId) {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Device::init(
        dir.path(),
        "rep@carnet.test",
        Some("Rep"),
        "Fromages Lefèvre",
    )
    .unwrap();
    d.set_clock(Some(NOV_26));
    for (k, v) in carnet_core::legal::EXAMPLE_SELLER {
        d.set_company_field(k, v).unwrap();
    }
    let acc = d
        .create_account(&raw(&[
            ("name", "Crèmerie Dupré & Fils"),
            ("address_line1", "3 avenue Foch"),
            ("postcode", "69006"),
            ("city", "Lyon"),
            ("siret", "73282932000074"),
        ]))
        .unwrap();
    (dir, d, acc)
}

fn line(label: &str, qty: &str, price: &str, vat: &str, discount: Option<&str>) -> NewQuoteLine {
    NewQuoteLine {
        product: None,
        label: Some(label.into()),
        qty: qty.into(),
        unit_price: Some(price.into()),
        vat_rate: Some(vat.into()),
        discount: discount.map(Into::into),
    }
}

/// The PDF's text (layout kept), its spaces made plain; page by page when
/// `page` is given.
fn pdf_text(pdf: &Path, page: Option<usize>) -> String {
    let mut cmd = Command::new("pdftotext");
    cmd.arg("-layout");
    if let Some(p) = page {
        cmd.args(["-f", &p.to_string(), "-l", &p.to_string()]);
    }
    let out = cmd.arg(pdf).arg("-").output().expect(
        "pdftotext (Debian's poppler-utils) must be installed: apt-get install poppler-utils",
    );
    assert!(out.status.success(), "pdftotext failed");
    plain(&String::from_utf8_lossy(&out.stdout))
}

fn plain(s: &str) -> String {
    s.replace(['\u{a0}', '\u{202f}'], " ")
}

fn pages(pdf: &Path) -> usize {
    let out = Command::new("pdfinfo").arg(pdf).output().expect("pdfinfo");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("page count")
}

#[test]
fn a_quote_pdf_states_its_figures_and_every_legal_mention() {
    let (dir, mut d, acc) = setup();
    let q = d
        .create_quote(acc, &raw(&[("delivery_terms", "Livraison sous 8 jours")]))
        .unwrap()
        .to_string();
    d.add_quote_line(
        &q,
        &line(
            "Comté affiné 18 mois « réserve »",
            "12",
            "18.35",
            "5.5",
            None,
        ),
    )
    .unwrap();
    d.add_quote_line(
        &q,
        &line("Vitrine réfrigérée", "1", "2490", "20", Some("10")),
    )
    .unwrap();
    d.add_quote_line(&q, &line("Livraison", "1", "45", "10", None))
        .unwrap();
    let (_, quote) = d.quote(&q).unwrap();
    let path = dir.path().join("devis.pdf");
    let bytes = d.quote_pdf(&q, Lang::Fr).unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    std::fs::write(&path, &bytes).unwrap();
    let text = pdf_text(&path, None);
    // The figures, computed by hand:
    //   12 × 18.35 = 220.20 at 5.5 % → VAT 12.11
    //   2,490 − 10 % = 2,241.00 at 20 % → VAT 448.20
    //   45.00 at 10 % → VAT 4.50
    //   net 2,506.20; VAT 464.81; gross 2,971.01
    assert_eq!(quote.totals.net, 250_620);
    assert_eq!(quote.totals.gross, 297_101);
    for needle in [
        format!("DEVIS N° {}", quote.number),
        "Crèmerie Dupré & Fils".into(),
        "Comté affiné 18 mois « réserve »".into(),
        "18,35 €".into(),
        "2 241,00 €".into(),
        "Total HT".into(),
        "2 506,20 €".into(),
        "TVA 5,5 % (base 220,20 €)".into(),
        "12,11 €".into(),
        "TVA 20 % (base 2 241,00 €)".into(),
        "448,20 €".into(),
        "TVA 10 % (base 45,00 €)".into(),
        "4,50 €".into(),
        "Total TTC".into(),
        "2 971,01 €".into(),
        // The seller.
        "Fromages Lefèvre".into(),
        "SARL au capital de 10 000,00 €".into(),
        "12 rue de la République".into(),
        "69002 Lyon".into(),
        "SIREN 732829320".into(),
        "RCS Lyon".into(),
        "TVA intracommunautaire : FR44732829320".into(),
        // The client.
        "3 avenue Foch".into(),
        "69006 Lyon".into(),
        "SIRET 73282932000074".into(),
        // Dates, terms, penalties, the recovery indemnity.
        "Date : 26/11/2026".into(),
        "Valable jusqu'au : 26/12/2026".into(),
        "Conditions de paiement : 30 jours fin de mois".into(),
        "Conditions de livraison : Livraison sous 8 jours".into(),
        "Pénalités de retard : taux annuel de 12 %".into(),
        "Indemnité forfaitaire pour frais de recouvrement en cas de retard de paiement : 40,00 €"
            .into(),
        format!("Devis {} — page 1 / 1", quote.number),
    ] {
        assert!(text.contains(&needle), "missing {needle:?} in:\n{text}");
    }
    // In English on request.
    let en = dir.path().join("quote.pdf");
    std::fs::write(&en, d.quote_pdf(&q, Lang::En).unwrap()).unwrap();
    let text = pdf_text(&en, None);
    assert!(
        text.contains(&format!("QUOTE No. {}", quote.number)),
        "{text}"
    );
    assert!(text.contains("€2,971.01"), "{text}");
    assert!(
        text.contains("Fixed recovery indemnity for late payment: EUR 40.00"),
        "{text}"
    );
}

#[test]
fn a_long_quote_runs_onto_pages_each_with_the_table_header_and_its_number() {
    let (dir, mut d, acc) = setup();
    let q = d.create_quote(acc, &[]).unwrap().to_string();
    for i in 1..=200 {
        // Some labels wrap onto a second line.
        let label = if i % 17 == 0 {
            format!("Article {i:03} — plateau de fromages affinés pour réception, avec ardoise, couteaux et étiquettes manuscrites")
        } else {
            format!("Article {i:03} — Saint-Nectaire fermier")
        };
        d.add_quote_line(&q, &line(&label, "2", "7.90", "5.5", None))
            .unwrap();
    }
    let (_, quote) = d.quote(&q).unwrap();
    let path = dir.path().join("long.pdf");
    std::fs::write(&path, d.quote_pdf(&q, Lang::Fr).unwrap()).unwrap();
    let n = pages(&path);
    assert!(n >= 4, "{n} pages");
    let mut seen = Vec::new();
    for p in 1..=n {
        let text = pdf_text(&path, Some(p));
        assert!(
            text.contains(&format!("Devis {} — page {p} / {n}", quote.number)),
            "page {p}: {text}"
        );
        assert!(
            text.contains("SIREN 732829320"),
            "the legal footer on page {p}"
        );
        for i in 1..=200 {
            if text.contains(&format!("Article {i:03} ")) {
                seen.push(i);
            }
        }
        // The table header on every page that carries lines.
        if text.contains("Article ") {
            assert!(
                text.contains("Désignation") && text.contains("Total HT"),
                "no table header on page {p}: {text}"
            );
        }
    }
    // Every line once, in order, none cut across two pages.
    assert_eq!(seen, (1..=200).collect::<Vec<_>>());
    let last = pdf_text(&path, Some(n));
    assert!(last.contains("Total TTC"), "{last}");
    // 400 × 7.90 = 3,160.00 net; 5.5 % → 173.80; 3,333.80 gross.
    assert!(last.contains("3 333,80 €"), "{last}");
}

#[test]
fn the_todo_list_pdf_holds_the_open_actions_in_order_on_numbered_pages() {
    let (dir, mut d, acc) = setup();
    // 120 open actions from 30 days late to 10 days ahead, and done ones.
    for i in 0..120i64 {
        let due = chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
            + chrono::Duration::days(i % 41 - 30);
        d.add_action(
            acc,
            &raw(&[
                ("type", if i % 2 == 0 { "call" } else { "visit" }),
                ("subject", &format!("Relance n° {i:03} — « échantillons »")),
                ("due", &due.to_string()),
            ]),
        )
        .unwrap();
    }
    let done = d
        .add_action(
            acc,
            &raw(&[
                ("type", "call"),
                ("subject", "Déjà faite"),
                ("due", "2026-11-20"),
            ]),
        )
        .unwrap()
        .to_string();
    d.complete_action(&done, Some("ok"), None).unwrap();
    let until = chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
    let scope = carnet_core::reports::Scope::User("rep@carnet.test".into());
    let items = d.todo(&scope, until);
    assert!(items.len() > 80 && items.len() < 120, "{}", items.len());
    let path = dir.path().join("todo.pdf");
    std::fs::write(&path, d.todo_pdf(&scope, until, Lang::Fr).unwrap()).unwrap();
    let n = pages(&path);
    assert!(n >= 3, "{n} pages");
    let mut order = Vec::new();
    for p in 1..=n {
        let text = pdf_text(&path, Some(p));
        assert!(
            text.contains(&format!("Actions à effectuer — page {p} / {n}")),
            "{text}"
        );
        assert!(
            text.contains("Échéance") && text.contains("Objet"),
            "header on page {p}"
        );
        for line in text.lines() {
            if let Some(at) = line.find("Relance n° ") {
                order.push(line[at + "Relance n° ".len()..][..3].to_string());
            }
        }
    }
    // Exactly the open actions due up to the date, in the report's order
    // (overdue first), none done.
    let expected: Vec<String> = items
        .iter()
        .map(|t| t.subject["Relance n° ".len()..][..3].to_string())
        .collect();
    assert_eq!(order, expected);
    let first = pdf_text(&path, Some(1));
    assert!(first.contains("Édition des actions à effectuer"), "{first}");
    assert!(
        first.contains("Retard") && first.contains("30 j"),
        "{first}"
    );
    assert!(!pdf_text(&path, None).contains("Déjà faite"));
}

#[test]
fn an_order_pdf_and_a_customer_file_pdf_state_what_the_file_holds() {
    let (dir, mut d, acc) = setup();
    d.add_contact(
        acc,
        &raw(&[
            ("name", "Élodie Dupré"),
            ("role", "Gérante"),
            ("email", "elodie@dupre.test"),
        ]),
    )
    .unwrap();
    let q = d
        .create_quote(acc, &raw(&[("valid_until", "2026-12-31")]))
        .unwrap()
        .to_string();
    d.add_quote_line(&q, &line("Comté 18 mois", "4", "30", "5.5", None))
        .unwrap();
    d.add_quote_line(&q, &line("Plateau en chêne", "1", "45", "20", Some("10")))
        .unwrap();
    let order = d.accept_quote(&q).unwrap().to_string();
    d.set_record_field(&order, "delivery_date", "2026-12-10")
        .unwrap();
    d.add_note(acc, "Préfère être livrée le mardi matin.")
        .unwrap();
    let (_, quote) = d.quote(&q).unwrap();

    let path = dir.path().join("commande.pdf");
    std::fs::write(&path, d.order_pdf(&order, Lang::Fr).unwrap()).unwrap();
    let text = flat(&pdf_text(&path, None));
    let file = d.account_file(acc).unwrap();
    let o = &file.orders[0];
    assert!(
        text.contains(&format!("BON DE COMMANDE N° {}", o.number)),
        "{text}"
    );
    assert!(
        text.contains(&format!("Devis : {}", quote.number)),
        "{text}"
    );
    assert!(text.contains("Livraison prévue : 10/12/2026"), "{text}");
    assert!(text.contains("confirmée"), "{text}");
    // 4 × 30,00 at 5,5 % and 45,00 − 10 % at 20 %: by hand.
    assert!(text.contains("120,00 €"), "{text}");
    assert!(text.contains("40,50 €"), "{text}");
    assert!(text.contains("TVA 5,5 % (base 120,00 €) 6,60 €"), "{text}");
    assert!(text.contains("TVA 20 % (base 40,50 €) 8,10 €"), "{text}");
    assert!(text.contains("Total TTC 175,20 €"), "{text}");
    assert!(
        text.contains("frais de recouvrement en cas de retard de paiement : 40,00 €"),
        "the recovery indemnity: {text}"
    );
    assert!(text.contains("page 1 / 1"), "{text}");

    let path = dir.path().join("dossier.pdf");
    std::fs::write(&path, d.account_pdf(acc, Lang::Fr).unwrap()).unwrap();
    let text = flat(&pdf_text(&path, None));
    for want in [
        "Dossier client — Crèmerie Dupré & Fils",
        "Élodie Dupré",
        "Gérante",
        &quote.number,
        "accepté",
        &o.number,
        "Préfère être livrée le mardi matin.",
        "Statut : prospect",
    ] {
        assert!(text.contains(want), "{want:?} not in {text}");
    }
    // In English too.
    std::fs::write(&path, d.account_pdf(acc, Lang::En).unwrap()).unwrap();
    let text = flat(&pdf_text(&path, None));
    assert!(
        text.contains("Customer file — Crèmerie Dupré & Fils"),
        "{text}"
    );
    assert!(text.contains("Latest notes"), "{text}");
}

/// Text with every run of spaces made one (table columns, totals).
fn flat(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `pdfimages -list`: the images a PDF draws, as (width, height) in pixels.
fn images(pdf: &Path) -> Vec<(u32, u32)> {
    let out = Command::new("pdfimages")
        .arg("-list")
        .arg(pdf)
        .output()
        .expect("pdfimages (Debian's poppler-utils)");
    assert!(out.status.success(), "pdfimages failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(2)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            // page num type width height …; the soft masks are not images.
            if cols.len() < 5 || cols[2] != "image" {
                return None;
            }
            Some((cols[3].parse().ok()?, cols[4].parse().ok()?))
        })
        .collect()
}

/// `pdfinfo -meta`: the XMP metadata.
fn xmp(pdf: &Path) -> String {
    let out = Command::new("pdfinfo")
        .arg("-meta")
        .arg(pdf)
        .output()
        .expect("pdfinfo (Debian's poppler-utils)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const LOGO: &[u8] = include_bytes!("fixtures/logo.png");
/// A PNG header claiming 30,000 × 30,000 pixels over a few bytes.
const HUGE: &[u8] = include_bytes!("fixtures/logo-huge.png");

#[test]
fn the_logo_heads_every_pdf_and_a_logo_that_cannot_be_drawn_is_left_out() {
    use carnet_core::pdf::{self, Letterhead};
    let (dir, mut d, acc) = setup();
    let q = d.create_quote(acc, &raw(&[])).unwrap().to_string();
    d.add_quote_line(&q, &line("Raclette", "3", "21", "5.5", None))
        .unwrap();
    let (_, quote) = d.quote(&q).unwrap();
    let account = d.account_file(acc).unwrap().account;
    let settings = d.settings().clone();
    let write = |name: &str, bytes: Vec<u8>| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    fn with<'a>(settings: &'a carnet_core::model::Settings, logo: &'a [u8]) -> Letterhead<'a> {
        Letterhead {
            settings,
            logo: Some(logo),
        }
    }

    assert_eq!(pdf::check_logo(LOGO), Ok((180, 60)));
    let plain = write(
        "plain.pdf",
        pdf::quote(&settings, &account, &quote, Lang::Fr).unwrap(),
    );
    assert_eq!(images(&plain), vec![]);
    let headed = write(
        "logo.pdf",
        pdf::quote(with(&settings, LOGO), &account, &quote, Lang::Fr).unwrap(),
    );
    assert_eq!(images(&headed), vec![(180, 60)]);
    // The text is all there still, below the logo.
    assert!(pdf_text(&headed, None).contains("Crèmerie Dupré & Fils"));

    // A bomb's header, bytes that are no image, a file over the size cap:
    // refused by the check, and the PDF is made without them.
    let too_big = vec![0u8; pdf::MAX_LOGO_BYTES as usize + 1];
    for (bad, why) in [
        (HUGE, "a side"),
        (&b"GIF89a not a logo"[..], "PNG or JPEG"),
        (&too_big[..], "larger than"),
    ] {
        let err = pdf::check_logo(bad).unwrap_err();
        assert!(err.contains(why), "{err}");
        let p = write(
            "bad.pdf",
            pdf::quote(with(&settings, bad), &account, &quote, Lang::Fr).unwrap(),
        );
        assert_eq!(images(&p), vec![], "{why}");
    }

    // On the device: once the logo's blob is in its store and the company
    // names it, every PDF it makes carries it.
    let sha = "5".repeat(64);
    let blobs = dir.path().join("blobs");
    std::fs::create_dir_all(&blobs).unwrap();
    std::fs::write(blobs.join(&sha), LOGO).unwrap();
    d.set_company_field("logo", &sha).unwrap();
    assert!(d.set_company_field("logo", "../../etc/passwd").is_err());
    let p = write("device.pdf", d.quote_pdf(&q, Lang::Fr).unwrap());
    assert_eq!(images(&p), vec![(180, 60)]);
    let p = write("file.pdf", d.account_pdf(acc, Lang::Fr).unwrap());
    assert_eq!(images(&p), vec![(180, 60)]);
}

#[test]
fn pdfs_are_pdf_a_3b_and_a_name_in_a_script_the_font_lacks_still_prints() {
    let (dir, mut d, _) = setup();
    let acc = d
        .create_account(&raw(&[
            ("name", "株式会社 Sakura 🌸 Import"),
            ("postcode", "75001"),
            ("city", "Paris"),
        ]))
        .unwrap();
    let q = d.create_quote(acc, &raw(&[])).unwrap().to_string();
    d.add_quote_line(
        &q,
        &line("Thé vert « Sencha » 🍵", "2", "12.5", "5.5", None),
    )
    .unwrap();
    let path = dir.path().join("pdfa.pdf");
    std::fs::write(&path, d.quote_pdf(&q, Lang::Fr).unwrap()).unwrap();
    let meta = xmp(&path);
    assert!(meta.contains("<pdfaid:part>3</pdfaid:part>"), "{meta}");
    assert!(
        meta.contains("<pdfaid:conformance>B</pdfaid:conformance>"),
        "{meta}"
    );
    assert!(meta.contains("fr-FR"), "the language is stated: {meta}");
    let text = pdf_text(&path, None);
    // What DejaVu has survives; what it lacks reads as "?".
    assert!(text.contains("Sakura ? Import"), "{text}");
    assert!(text.contains("Thé vert « Sencha » ?"), "{text}");
}
