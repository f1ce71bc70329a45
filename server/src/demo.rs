//! The demo tenant: a manager, three reps with their territories (Paris,
//! Lyon, Marseille), an admin, and sixty customer files with contacts,
//! deals and actions, and twelve months of history written as the reps on
//! the days it happened (visits, quotes, orders from accepted quotes) with
//! targets per rep set by the manager, so the dashboard has something to
//! show. Every demo user's password is `carnet-demo`.

use carnet_core::ops;
use carnet_core::{DocId, DocKind};
use chrono::Duration;

use crate::tenant::{Result, Tenant};

pub const PASSWORD: &str = "carnet-demo";
pub const ADMIN: &str = "admin@demo.carnet.fr";
pub const MANAGER: &str = "marc@demo.carnet.fr";
pub const REPS: [(&str, &str, &str); 3] = [
    ("alice@demo.carnet.fr", "Paris", "75,92,93,94"),
    ("bruno@demo.carnet.fr", "Lyon", "69,01,38"),
    ("chloe@demo.carnet.fr", "Marseille", "13,83,84"),
];

const NAMES: [&str; 12] = [
    "Boulangerie",
    "Garage",
    "Pharmacie",
    "Hôtel",
    "Atelier",
    "Fromagerie",
    "Imprimerie",
    "Brasserie",
    "Librairie",
    "Menuiserie",
    "Cabinet",
    "Transports",
];
const FAMILY: [&str; 10] = [
    "Martin", "Bernard", "Dubois", "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Roux",
    "Fournier",
];
/// The demo company, with every mention a quote must state.
pub const COMPANY: [(&str, &str); 13] = [
    ("legal_form", "SAS"),
    ("share_capital", "50000"),
    ("address", "8 quai Saint-Vincent"),
    ("postcode", "69001"),
    ("city", "Lyon"),
    ("siren", "732829320"),
    ("rcs_city", "Lyon"),
    ("vat_number", "FR44732829320"),
    ("phone", "04 78 00 00 00"),
    ("email", "contact@demo.carnet.fr"),
    ("payment_terms", "30 jours fin de mois, par virement"),
    ("late_penalty_rate", "12"),
    ("operation_category", "services"),
];

const PLACES: [(&str, &str); 6] = [
    ("75011", "Paris"),
    ("92100", "Boulogne-Billancourt"),
    ("69003", "Lyon"),
    ("38000", "Grenoble"),
    ("13008", "Marseille"),
    ("83000", "Toulon"),
];

/// Fills an empty tenant with the demo data. Returns false when the tenant
/// already has users besides its admin (the demo was loaded before).
pub async fn load(t: &Tenant) -> Result<bool> {
    if t.acl().role(MANAGER).is_some() {
        return Ok(false);
    }
    t.add_user(MANAGER, "manager", None, Some("Marc Lefèvre"), PASSWORD)
        .await?;
    for (rep, city, prefixes) in REPS {
        t.add_user(rep, "rep", Some(MANAGER), None, PASSWORD)
            .await?;
        t.add_territory(city, &[prefixes.to_string()], &[rep.to_string()])
            .await?;
    }
    // What a quote must state (`carnet_core::legal`), so demo quotes can
    // be sent.
    let admin = carnet_core::doc::Writer {
        user: ADMIN.to_string(),
        actor: automerge::ActorId::random(),
        now: chrono::Utc::now().timestamp(),
    };
    if let Some(settings) = t.singleton(DocKind::Settings) {
        t.edit_as_user(&admin, settings, DocKind::Settings, |d, ctx| {
            for (k, v) in COMPANY {
                ops::set_field(d, ctx, &format!("company/{k}"), v)?;
            }
            Ok(())
        })
        .await?;
    }
    let today = chrono::Utc::now().date_naive();
    let mut files = Vec::new();
    // The demo files are written by the admin, as if entered in the web app.
    let writer = carnet_core::doc::Writer {
        user: ADMIN.to_string(),
        actor: automerge::ActorId::random(),
        now: chrono::Utc::now().timestamp(),
    };
    for i in 0..60usize {
        let (postcode, city) = PLACES[i % PLACES.len()];
        let rep = REPS[(i % PLACES.len()) / 2].0;
        let name = format!(
            "{} {} {}",
            NAMES[i % NAMES.len()],
            FAMILY[(i * 7) % FAMILY.len()],
            i + 1
        );
        let stages = [
            "prospection",
            "qualification",
            "proposition",
            "negociation",
            "gagne",
        ];
        let id = DocId::new();
        files.push((id, rep));
        t.edit_as_user(&writer, id, DocKind::Account, |doc, ctx| {
            ops::init_account(
                doc,
                ctx,
                &[
                    ("name", name.clone()),
                    (
                        "status",
                        if i % 3 == 0 { "prospect" } else { "client" }.to_string(),
                    ),
                    ("postcode", postcode.to_string()),
                    ("city", city.to_string()),
                    (
                        "address_line1",
                        format!("{} rue {}", 1 + i % 90, FAMILY[(i * 3) % FAMILY.len()]),
                    ),
                    (
                        "siren",
                        carnet_core::validate::siren_for(40_000_000 + i as u32 * 7_919),
                    ),
                    ("owner", rep.to_string()),
                    // Some key fields last checked long ago: what the data
                    // quality page and "to check on my next visit" show.
                    (
                        "verified_phone",
                        (today - Duration::days(if i % 3 == 0 { 800 } else { 40 })).to_string(),
                    ),
                    (
                        "verified_address",
                        (today - Duration::days(if i % 4 == 0 { 500 } else { 90 })).to_string(),
                    ),
                    (
                        "phone",
                        format!(
                            "04 78 {:02} {:02} {:02}",
                            i % 100,
                            (i * 3) % 100,
                            (i * 7) % 100
                        ),
                    ),
                ],
            )?;
            ops::add_contact(
                doc,
                ctx,
                &[
                    ("name", format!("Contact {}", FAMILY[i % FAMILY.len()])),
                    ("role", "Gérant".to_string()),
                ],
            )?;
            ops::add_deal(
                doc,
                ctx,
                &[
                    ("title", format!("Affaire {}", i + 1)),
                    ("amount", format!("{}", 1000 + (i * 733) % 20000)),
                    ("stage", stages[i % stages.len()].to_string()),
                    (
                        "close_date",
                        (today + Duration::days((i as i64 * 5) % 90)).to_string(),
                    ),
                    ("owner", rep.to_string()),
                ],
            )?;
            ops::add_action(
                doc,
                ctx,
                &[
                    (
                        "type",
                        if i % 2 == 0 { "call" } else { "visit" }.to_string(),
                    ),
                    ("subject", "Point sur le besoin".to_string()),
                    (
                        "due",
                        (today + Duration::days(i as i64 % 10 - 3)).to_string(),
                    ),
                    ("assignee", rep.to_string()),
                ],
            )?;
            Ok(())
        })
        .await?;
    }
    history(t, &files, today).await?;
    Ok(true)
}

/// A stable pseudo-random number for (a, b) (the demo is the same on every
/// machine, bar the dates it is relative to).
fn mix(a: usize, b: usize) -> usize {
    let mut x = (a as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (b as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (x ^ (x >> 32)) as usize
}

/// One sale attempt written into a customer file: a quote of `qty` ×
/// `price` € at 20 % VAT, then by `outcome` accepted (0, 1: an order),
/// refused (2) or sent and awaiting an answer (3). Numbers are
/// provisional, prefixed with `prefix`. The demo and the web benchmark
/// seed their history with it.
pub fn sell(
    d: &mut carnet_core::doc::CrmDoc,
    ctx: &ops::EditCtx<'_>,
    prefix: &str,
    qty: usize,
    price: usize,
    outcome: usize,
) -> carnet_core::Result<()> {
    let q = ops::create_quote(d, ctx, prefix, &[])?.to_string();
    ops::add_quote_line(
        d,
        ctx,
        &q,
        &carnet_core::model::NewQuoteLine {
            qty: qty.to_string(),
            product: None,
            label: Some("Prestation".to_string()),
            unit_price: Some(price.to_string()),
            vat_rate: Some("20".to_string()),
            discount: None,
        },
    )?;
    match outcome {
        0 | 1 => {
            ops::accept_quote(d, ctx, &q, prefix)?;
        }
        2 => ops::set_field(d, ctx, &format!("quotes/{q}/status"), "refused")?,
        _ => ops::set_field(d, ctx, &format!("quotes/{q}/status"), "sent")?,
    }
    Ok(())
}

/// Twelve months of activity before `today`: in most months a rep visits
/// the client and sends a quote, which is accepted (an order), refused or
/// still open; then monthly targets per rep for those months and the next.
async fn history(t: &Tenant, files: &[(DocId, &str)], today: chrono::NaiveDate) -> Result<()> {
    use chrono::Datelike;
    let first = today.with_day(1).unwrap_or(today);
    for back in (0..=12usize).rev() {
        let month = first - chrono::Months::new(back as u32);
        // This month: only the days gone by.
        let days = if back == 0 { today.day() as usize } else { 27 };
        for (i, (doc, rep)) in files.iter().enumerate() {
            let r = mix(i, back);
            if r.is_multiple_of(3) {
                continue;
            }
            let day = month + Duration::days((r % days) as i64);
            let when = day
                .and_hms_opt(10, 0, 0)
                .map_or(0, |d| d.and_utc().timestamp());
            let writer = carnet_core::doc::Writer {
                user: rep.to_string(),
                actor: automerge::ActorId::random(),
                now: when,
            };
            let qty = 1 + r % 5;
            let price = 200 + (r / 7) % 1800;
            let outcome = (r / 5) % 4;
            t.edit_for(&writer, *doc, DocKind::Account, false, |d, ctx| {
                let date = ctx.today.to_string();
                ops::add_action(
                    d,
                    ctx,
                    &[
                        ("type", "visit".to_string()),
                        ("subject", "Visite de suivi".to_string()),
                        ("due", date.clone()),
                        ("done_on", date),
                        ("outcome", "Besoin confirmé".to_string()),
                    ],
                )?;
                sell(d, ctx, "DEMO", qty, price, outcome)?;
                Ok(())
            })
            .await
            .map_err(|e| crate::tenant::TenantError::Invalid(format!("demo history: {e}")))?;
        }
    }
    let manager = carnet_core::doc::Writer {
        user: MANAGER.to_string(),
        actor: automerge::ActorId::random(),
        now: chrono::Utc::now().timestamp(),
    };
    for (n, (rep, _, _)) in REPS.iter().enumerate() {
        let plan = DocId::new();
        t.edit_for(&manager, plan, DocKind::Plan, true, |d, ctx| {
            ops::init_plan(d, rep, &ctx.settings.currency)?;
            for back in 0..=12u32 {
                let m = carnet_core::reports::Period::month_of(first - chrono::Months::new(back));
                let key = m.to_string();
                // 20,000 € to 26,000 € of orders a month, 7 visits, 1 new client.
                ops::set_target(d, &key, 2_000_000 + 300_000 * n as i64)?;
                ops::set_target(d, &format!("visits:{key}"), 7)?;
                ops::set_target(d, &format!("new_clients:{key}"), 1)?;
                ops::set_target(d, &format!("quotes_sent:{key}"), 8)?;
                ops::set_target(d, &format!("conversion:{key}"), 5_000)?;
            }
            ops::set_tiers(
                d,
                ctx,
                &[("0".into(), "3".into()), ("100".into(), "5".into())],
            )
        })
        .await
        .map_err(|e| crate::tenant::TenantError::Invalid(format!("demo targets: {e}")))?;
    }
    Ok(())
}
