//! The demo tenant: a manager, three reps with their territories (Paris,
//! Lyon, Marseille), an admin, and sixty customer files with contacts,
//! deals and actions. Every demo user's password is `carnet-demo`.

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
    let today = chrono::Utc::now().date_naive();
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
        t.edit_as_user(&writer, DocId::new(), DocKind::Account, |doc, ctx| {
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
                    ("owner", rep.to_string()),
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
    Ok(true)
}
