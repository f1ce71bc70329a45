//! A realistic rep portfolio: French company names, cities and postcodes,
//! contacts, deals spread over the pipeline and the coming months, actions
//! around today (some overdue, some done), and quotes with catalog lines.
//! Deterministic for a given seed.

use carnet_core::model::NewQuoteLine;
use carnet_core::ops;
use carnet_core::store::Durability;
use carnet_core::{Device, DocId, DocKind, Result};
use chrono::{Duration, NaiveDate};

#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub accounts: usize,
    pub contacts_per_account: usize,
    pub deals_per_account: usize,
    pub actions_per_account: usize,
    /// One account in `quote_every` gets a quote with three lines.
    pub quote_every: usize,
    /// Add the products quotes use to the catalog (an admin's right).
    pub catalog: bool,
}

/// The portfolio of the core issue: 5,000 accounts, 15,000 contacts,
/// 20,000 deals, 50,000 actions, 3,000 quotes.
pub const ISSUE_SHAPE: Shape = Shape {
    accounts: 5_000,
    contacts_per_account: 3,
    deals_per_account: 4,
    actions_per_account: 10,
    quote_every: 5, // 3 of every 5 accounts: see `has_quote`
    catalog: true,
};

/// Small account documents, as the sync benchmark moves them: one contact,
/// one deal, two actions, no quote.
pub const SMALL_SHAPE: Shape = Shape {
    accounts: 5_000,
    contacts_per_account: 1,
    deals_per_account: 1,
    actions_per_account: 2,
    quote_every: 0,
    catalog: false,
};

fn has_quote(i: usize, every: usize) -> bool {
    // 3 in 5 when every == 5 → 3,000 of 5,000; never when 0.
    every > 0 && i % every < 3
}

const PREFIXES: &[&str] = &[
    "Boulangerie",
    "Garage",
    "Pharmacie",
    "Hôtel",
    "Société",
    "Cabinet",
    "Atelier",
    "Menuiserie",
    "Fromagerie",
    "Imprimerie",
    "Transports",
    "Clinique",
    "Laboratoire",
    "Brasserie",
    "Quincaillerie",
    "Librairie",
    "Domaine",
    "Ferme",
    "Agence",
    "Entreprise",
];
const NAMES: &[&str] = &[
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefèvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Girard",
    "André",
    "Lefebvre",
    "Mercier",
    "Dupont",
    "Lambert",
    "Bonnet",
    "François",
    "Martinez",
];
const CITIES: &[(&str, &str)] = &[
    ("Paris", "75011"),
    ("Lyon", "69003"),
    ("Marseille", "13008"),
    ("Toulouse", "31000"),
    ("Nice", "06000"),
    ("Nantes", "44000"),
    ("Strasbourg", "67000"),
    ("Montpellier", "34000"),
    ("Bordeaux", "33000"),
    ("Lille", "59000"),
    ("Rennes", "35000"),
    ("Reims", "51100"),
    ("Saint-Étienne", "42000"),
    ("Le Havre", "76600"),
    ("Grenoble", "38000"),
    ("Dijon", "21000"),
    ("Angers", "49000"),
    ("Nîmes", "30000"),
    ("Villeurbanne", "69100"),
    ("Clermont-Ferrand", "63000"),
];
const FIRST: &[&str] = &[
    "Anne", "Jean", "Marie", "Pierre", "Sophie", "Luc", "Claire", "Paul", "Julie", "Marc",
    "Camille", "Nicolas", "Élodie", "Antoine", "Isabelle",
];
const ROLES: &[&str] = &["Gérant", "Acheteur", "Comptable", "Directrice", "Assistant"];
const STAGES: &[&str] = &[
    "prospection",
    "qualification",
    "proposition",
    "negociation",
    "gagne",
    "perdu",
];
const TYPES: &[&str] = &["call", "visit", "email", "meeting", "task", "letter"];

/// A small deterministic generator (SplitMix64): no dependency, same data
/// on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    pub fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

/// The name of account `i` (unique: the index is part of it).
pub fn account_name(rng: &mut Rng, i: usize) -> String {
    format!("{} {} {}", rng.pick(PREFIXES), rng.pick(NAMES), i)
}

/// Fills `device` with a portfolio; returns the account ids. Writes are
/// buffered and flushed once at the end.
pub fn generate(device: &mut Device, shape: Shape, seed: u64) -> Result<Vec<DocId>> {
    let mut rng = Rng::new(seed);
    let today = device.today();
    let me = device.identity().user.clone();
    let products: &[(&str, &str, &str, &str)] = if shape.catalog {
        &[
            ("SRV-01", "Contrat de maintenance annuel", "1200", "20"),
            ("MAT-01", "Four mixte 10 niveaux", "8900", "20"),
            ("ALI-01", "Farine T65 25 kg", "21.40", "5.5"),
            ("LIV-01", "Guide des bonnes pratiques", "35", "5.5"),
        ]
    } else {
        &[]
    };
    for (sku, name, price, vat) in products {
        device.add_product(&[
            ("sku", sku.to_string()),
            ("name", name.to_string()),
            ("unit_price", price.to_string()),
            ("vat_rate", vat.to_string()),
        ])?;
    }
    device.set_durability(Durability::Buffered);
    let mut ids = Vec::with_capacity(shape.accounts);
    for i in 0..shape.accounts {
        let name = account_name(&mut rng, i);
        let (city, postcode) = CITIES[rng.below(CITIES.len())];
        let day = |rng: &mut Rng, span: i64| -> NaiveDate {
            today + Duration::days(rng.below(2 * span as usize) as i64 - span)
        };
        let plan: Vec<Vec<(&str, String)>> = (0..shape.contacts_per_account)
            .map(|_| {
                let first = rng.pick(FIRST);
                let last = rng.pick(NAMES);
                vec![
                    ("name", format!("{first} {last}")),
                    ("role", rng.pick(ROLES).to_string()),
                    ("email", format!("{}.{}@exemple.fr", i, rng.below(1000))),
                    (
                        "phone",
                        format!(
                            "06 {:02} {:02} {:02} {:02}",
                            rng.below(100),
                            rng.below(100),
                            rng.below(100),
                            rng.below(100)
                        ),
                    ),
                ]
            })
            .collect();
        let deals: Vec<Vec<(&str, String)>> = (0..shape.deals_per_account)
            .map(|_| {
                vec![
                    ("title", format!("Affaire {}", rng.below(100_000))),
                    (
                        "amount",
                        format!("{}.{:02}", 500 + rng.below(50_000), rng.below(100)),
                    ),
                    ("stage", rng.pick(STAGES).to_string()),
                    ("close_date", day(&mut rng, 120).to_string()),
                ]
            })
            .collect();
        let actions: Vec<(Vec<(&str, String)>, bool)> = (0..shape.actions_per_account)
            .map(|_| {
                let due = day(&mut rng, 60);
                let f = vec![
                    ("type", rng.pick(TYPES).to_string()),
                    ("subject", format!("Relance {}", rng.below(10_000))),
                    ("due", due.to_string()),
                    ("assignee", me.clone()),
                ];
                // Reps close most past actions: 1 in 10 stays open (overdue).
                let done = if due < today {
                    rng.below(10) != 0
                } else {
                    rng.below(20) == 0
                };
                (f, done)
            })
            .collect();
        let quote = has_quote(i, shape.quote_every);
        let number = format!("DEV-BENCH-{i:05}");
        let id = device.create(DocKind::Account, |doc, ctx| {
            ops::init_account(
                doc,
                ctx,
                &[
                    ("name", name.clone()),
                    ("city", city.to_string()),
                    ("postcode", postcode.to_string()),
                    (
                        "status",
                        if i % 3 == 0 { "prospect" } else { "client" }.to_string(),
                    ),
                    ("phone", "04 78 00 00 00".to_string()),
                ],
            )?;
            for c in &plan {
                ops::add_contact(doc, ctx, c)?;
            }
            for d in &deals {
                ops::add_deal(doc, ctx, d)?;
            }
            for (a, done) in &actions {
                let id = ops::add_action(doc, ctx, a)?;
                if *done {
                    ops::complete_action(doc, ctx, &id.to_string(), Some("Fait"), today)?;
                }
            }
            if quote {
                let q = ops::create_quote(doc, ctx, &number, &[])?.to_string();
                for (p, qty) in [("SRV-01", "1"), ("MAT-01", "2"), ("ALI-01", "12")] {
                    ops::add_quote_line(
                        doc,
                        ctx,
                        &q,
                        &NewQuoteLine {
                            product: Some(p.to_string()),
                            label: None,
                            qty: qty.to_string(),
                            unit_price: None,
                            vat_rate: None,
                            discount: Some("5".to_string()),
                        },
                    )?;
                }
            }
            Ok(())
        })?;
        ids.push(id);
    }
    device.flush()?;
    device.set_durability(Durability::Flushed);
    Ok(ids)
}
