//! The tenant-wide documents: settings (pipeline, action types, VAT rates,
//! numbering), the catalog, the directory and a rep's plan (targets and
//! commission tiers).

use std::collections::BTreeMap;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Serialize;

use super::view::Rec;
use crate::doc::value::FieldValue;
use crate::doc::{CrmDoc, Vocab};
use crate::error::Result;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StageOutcome {
    Open,
    Won,
    Lost,
}

impl std::fmt::Display for StageOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StageOutcome::Open => "open",
            StageOutcome::Won => "won",
            StageOutcome::Lost => "lost",
        })
    }
}

/// A pipeline stage with its default probability.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stage {
    pub code: String,
    pub label: String,
    pub probability: Decimal,
    pub position: i64,
    pub outcome: StageOutcome,
}

/// The seller as quotes and orders name it: what French law asks a quote
/// to state (`crate::legal`). Empty strings are unset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Default)]
pub struct Company {
    pub name: String,
    /// "SAS", "SARL", "EI", …
    pub legal_form: String,
    /// Cents, as written ("10000.00"), when set.
    pub share_capital: Option<i64>,
    pub siren: String,
    pub siret: String,
    /// "RCS Lyon": the registry town.
    pub rcs_city: String,
    pub vat_number: String,
    pub address: String,
    pub postcode: String,
    pub city: String,
    pub phone: String,
    pub email: String,
    /// The default payment terms of a quote ("30 jours fin de mois").
    pub payment_terms: String,
    /// The late-payment penalty rate, percent per year, when set.
    pub late_penalty_rate: Option<Decimal>,
    /// `goods`, `services` or `mixed` (what an e-invoice states), when set.
    pub operation_category: Option<String>,
    /// The letterhead's logo: the blob (SHA-256) of a PNG or JPEG of the
    /// library, when set.
    pub logo: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Default)]
pub struct Settings {
    pub company_name: String,
    pub company: Company,
    pub currency: String,
    pub quote_prefix: String,
    pub order_prefix: String,
    /// Sorted by position.
    pub stages: Vec<Stage>,
    /// (code, label)
    pub action_types: Vec<(String, String)>,
    pub vat_rates: Vec<Decimal>,
}

/// Seeded pipeline: code, label (French first), default probability, outcome.
const SEED_STAGES: &[(&str, &str, &str, &str)] = &[
    ("prospection", "Prospection", "10", "open"),
    ("qualification", "Qualification", "25", "open"),
    ("proposition", "Proposition", "50", "open"),
    ("negociation", "Négociation", "75", "open"),
    ("gagne", "Gagnée", "100", "won"),
    ("perdu", "Perdue", "0", "lost"),
];
const SEED_ACTION_TYPES: &[(&str, &str)] = &[
    ("call", "Appel"),
    ("visit", "Visite"),
    ("email", "E-mail"),
    ("letter", "Courrier"),
    ("meeting", "Rendez-vous"),
    ("task", "Tâche"),
];
/// French VAT rates: normal, intermediate, reduced, special; 0 for exempt.
const SEED_VAT: &[(&str, &str)] = &[
    ("20", "Taux normal"),
    ("10", "Taux intermédiaire"),
    ("5.5", "Taux réduit"),
    ("2.1", "Taux particulier"),
    ("0", "Exonéré"),
];

impl Settings {
    /// Writes the seed values into a fresh settings document.
    pub fn seed(doc: &mut CrmDoc, company: &str) -> Result<()> {
        let s = |v: &str| FieldValue::Str(v.to_string());
        let company_obj = doc.map_at(&["company"]);
        if let Some(obj) = company_obj {
            let am = doc.automerge();
            use automerge::transaction::Transactable;
            am.put(&obj, "name", company)?;
            am.put(&obj, "currency", "EUR")?;
            am.put(&obj, "quote_prefix", "DEV")?;
            am.put(&obj, "order_prefix", "CMD")?;
        }
        for (i, (code, label, p, outcome)) in SEED_STAGES.iter().enumerate() {
            doc.create_record(
                &["stages"],
                code,
                crate::schema::RecordKind::Stage,
                &[
                    ("label", s(label)),
                    ("probability", s(p)),
                    ("position", FieldValue::Int(i as i64 + 1)),
                    ("outcome", s(outcome)),
                ],
            )?;
        }
        for (code, label) in SEED_ACTION_TYPES {
            doc.create_record(
                &["action_types"],
                code,
                crate::schema::RecordKind::ActionTypeDef,
                &[("label", s(label))],
            )?;
        }
        for (rate, label) in SEED_VAT {
            doc.create_record(
                &["vat_rates"],
                rate,
                crate::schema::RecordKind::VatRateDef,
                &[("label", s(label))],
            )?;
        }
        Ok(())
    }

    pub fn read(doc: &CrmDoc) -> Settings {
        let h = doc.hydrated();
        let root = Rec(&h);
        let company = root.map("company");
        let get = |k: &str, default: &str| {
            company
                .as_ref()
                .and_then(|c| c.get_str(k))
                .unwrap_or_else(|| default.to_string())
        };
        let mut stages: Vec<Stage> = root
            .records("stages")
            .into_iter()
            .map(|(code, o)| Stage {
                label: o.get_str("label").unwrap_or_else(|| code.clone()),
                probability: o.decimal("probability").unwrap_or(Decimal::ZERO),
                position: o.get_i64("position").unwrap_or(0),
                outcome: match o.get_str("outcome").as_deref() {
                    Some("won") => StageOutcome::Won,
                    Some("lost") => StageOutcome::Lost,
                    _ => StageOutcome::Open,
                },
                code,
            })
            .collect();
        stages.sort_by(|a, b| a.position.cmp(&b.position).then(a.code.cmp(&b.code)));
        let mut action_types: Vec<(String, String)> = root
            .records("action_types")
            .into_iter()
            .map(|(code, o)| {
                let label = o.get_str("label").unwrap_or_else(|| code.clone());
                (code, label)
            })
            .collect();
        action_types.sort();
        let mut vat_rates: Vec<Decimal> = root
            .records("vat_rates")
            .into_iter()
            .filter_map(|(code, _)| Decimal::from_str(&code).ok())
            .collect();
        vat_rates.sort();
        let c = company.as_ref();
        let text = |k: &str| c.and_then(|c| c.get_text(k)).unwrap_or_default();
        let company_info = Company {
            name: get("name", ""),
            legal_form: get("legal_form", ""),
            share_capital: c.and_then(|c| c.get_i64("share_capital")),
            siren: get("siren", ""),
            siret: get("siret", ""),
            rcs_city: get("rcs_city", ""),
            vat_number: get("vat_number", ""),
            address: get("address", ""),
            postcode: get("postcode", ""),
            city: get("city", ""),
            phone: get("phone", ""),
            email: get("email", ""),
            payment_terms: text("payment_terms"),
            late_penalty_rate: c.and_then(|c| c.decimal("late_penalty_rate")),
            operation_category: c.and_then(|c| c.get_str("operation_category")),
            logo: c
                .and_then(|c| c.get_str("logo"))
                .filter(|s| super::library::is_sha256(s)),
        };
        Settings {
            company_name: get("name", ""),
            company: company_info,
            currency: get("currency", "EUR"),
            quote_prefix: get("quote_prefix", "DEV"),
            order_prefix: get("order_prefix", "CMD"),
            stages,
            action_types,
            vat_rates,
        }
    }

    pub fn vocab(&self) -> Vocab {
        Vocab {
            stages: self.stages.iter().map(|s| s.code.clone()).collect(),
            action_types: self.action_types.iter().map(|(c, _)| c.clone()).collect(),
            vat_rates: self.vat_rates.clone(),
        }
    }

    pub fn stage(&self, code: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.code == code)
    }

    /// The first open stage: where a new deal starts.
    pub fn first_open_stage(&self) -> Option<&Stage> {
        self.stages.iter().find(|s| s.outcome == StageOutcome::Open)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Product {
    pub id: String,
    pub sku: String,
    pub name: String,
    pub unit_price: i64,
    pub currency: String,
    pub vat_rate: Decimal,
    pub category: Option<String>,
    pub active: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Default)]
pub struct Catalog {
    pub products: Vec<Product>,
}

impl Catalog {
    pub fn read(doc: &CrmDoc) -> Catalog {
        let h = doc.hydrated();
        let root = Rec(&h);
        let mut products: Vec<Product> = root
            .records("products")
            .into_iter()
            .map(|(id, o)| Product {
                sku: o.string("sku"),
                name: o.string("name"),
                unit_price: o.get_i64("unit_price").unwrap_or(0),
                currency: o.get_str("currency").unwrap_or_else(|| "EUR".into()),
                vat_rate: o.decimal("vat_rate").unwrap_or(Decimal::ZERO),
                category: o.get_str("category"),
                active: o.get_bool("active").unwrap_or(true),
                id,
            })
            .collect();
        products.sort_by(|a, b| a.sku.cmp(&b.sku));
        Catalog { products }
    }

    /// A product by id or SKU.
    pub fn find(&self, key: &str) -> Option<&Product> {
        self.products
            .iter()
            .find(|p| p.id == key || p.sku.eq_ignore_ascii_case(key))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub role: String,
    pub manager: Option<String>,
    /// Deactivated: kept for history, granted nothing.
    pub disabled: bool,
    /// Dashboard layout (indicator codes, comma-separated).
    pub dashboard: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Default)]
pub struct Directory {
    pub users: Vec<User>,
}

impl Directory {
    pub fn read(doc: &CrmDoc) -> Directory {
        let h = doc.hydrated();
        let root = Rec(&h);
        let mut users: Vec<User> = root
            .records("users")
            .into_iter()
            .map(|(id, o)| User {
                email: o.string("email"),
                name: o.get_str("name"),
                role: o.get_str("role").unwrap_or_else(|| "rep".into()),
                manager: o.get_str("manager"),
                disabled: o.get_bool("disabled").unwrap_or(false),
                dashboard: o.get_str("dashboard"),
                id,
            })
            .collect();
        users.sort_by(|a, b| a.email.cmp(&b.email));
        Directory { users }
    }
}

/// One commission tier: from `from_pct` % of the target upwards, revenue
/// earns `rate` %.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Tier {
    pub id: String,
    pub from_pct: Decimal,
    pub rate: Decimal,
}

/// A rep's plan: targets by period (`2026`, `2026-Q4`, `2026-11`) and
/// commission tiers.
#[derive(Clone, Debug, PartialEq, Serialize, Default)]
pub struct Plan {
    pub user: String,
    pub currency: String,
    /// period -> target in cents
    pub targets: BTreeMap<String, i64>,
    /// Sorted by `from_pct`.
    pub tiers: Vec<Tier>,
}

impl Plan {
    pub fn read(doc: &CrmDoc) -> Plan {
        let h = doc.hydrated();
        let root = Rec(&h);
        let header = root.map("plan");
        let mut tiers: Vec<Tier> = root
            .records("tiers")
            .into_iter()
            .map(|(id, o)| Tier {
                from_pct: o.decimal("from_pct").unwrap_or(Decimal::ZERO),
                rate: o.decimal("rate").unwrap_or(Decimal::ZERO),
                id,
            })
            .collect();
        tiers.sort_by(|a, b| a.from_pct.cmp(&b.from_pct).then(a.id.cmp(&b.id)));
        Plan {
            user: header
                .as_ref()
                .and_then(|h| h.get_str("user"))
                .unwrap_or_default(),
            currency: header
                .as_ref()
                .and_then(|h| h.get_str("currency"))
                .unwrap_or_else(|| "EUR".into()),
            targets: root
                .records("targets")
                .into_iter()
                .filter_map(|(period, o)| o.get_i64("amount").map(|a| (period, a)))
                .collect(),
            tiers,
        }
    }
}
