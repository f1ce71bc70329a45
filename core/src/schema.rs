//! The shape of every record kind: which fields exist, their type, whether
//! they are required or editable, and where records live inside each kind of
//! document. Every write goes through these specs, so the CLI, the mobile
//! bindings and (later) the server validate the same way.
//!
//! A path addresses one field: `account/name`, `deals/<uuid>/stage`,
//! `quotes/<uuid>/lines/<uuid>/qty`, `account/custom/<key>`.

use crate::error::ValidationError;
use crate::ids::DocKind;

/// The current schema version written into new documents (and stamped on
/// a document an app of this version edits). 2 added the `emails`
/// container of account documents and a quote's `revises`/`revision`: an
/// app of version 1 keeps what it does not know, since the document says
/// a newer version wrote it (`doc::shape`).
pub const SCHEMA_VERSION: u64 = 2;

/// How a field is stored and validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// A short string (scalar: concurrent edits are a conflict).
    Short,
    /// Long free text (Automerge Text: merged character by character).
    Text,
    Bool,
    /// `YYYY-MM-DD` string.
    Date,
    /// Integer minor units.
    Amount,
    /// Decimal string ≥ 0.
    Quantity,
    /// Decimal string in 0..=100.
    Percent,
    /// Decimal string, one of the VAT rates in settings.
    VatRate,
    Email,
    Phone,
    Siret,
    Siren,
    VatNumber,
    Naf,
    Postcode,
    /// One of a fixed set of values.
    Choice(&'static [&'static str]),
    /// A pipeline stage code from settings.
    Stage,
    /// An action type code from settings.
    ActionType,
    /// The id of another record or document (UUID string).
    Ref,
    /// A set of tags: a map `tag -> true`, so two offline additions merge.
    Tags,
    /// Unix time in seconds, set by the app.
    Timestamp,
    /// An integer (positions).
    Int,
    /// A blob's name: its SHA-256 as 64 lowercase hex digits.
    Sha256,
}

#[derive(Clone, Copy, Debug)]
pub struct FieldSpec {
    pub name: &'static str,
    pub ty: FieldType,
    pub required: bool,
    /// Can a user change it with a plain field edit?
    pub editable: bool,
}

const fn f(name: &'static str, ty: FieldType) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        required: false,
        editable: true,
    }
}
const fn req(name: &'static str, ty: FieldType) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        required: true,
        editable: true,
    }
}
/// Required at creation, never edited afterwards.
const fn fixed(name: &'static str, ty: FieldType) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        required: true,
        editable: false,
    }
}
const fn ro(name: &'static str, ty: FieldType) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        required: false,
        editable: false,
    }
}

pub const ACCOUNT_KINDS: &[&str] = &["company", "person"];
pub const ACCOUNT_STATUSES: &[&str] = &["prospect", "client", "former"];
pub const CHANNELS: &[&str] = &["phone", "mobile", "email", "post", "visit"];
/// `superseded`: a newer revision replaces it (it stays readable, linked).
pub const QUOTE_STATUSES: &[&str] = &[
    "draft",
    "sent",
    "accepted",
    "refused",
    "expired",
    "superseded",
];
pub const ORDER_STATUSES: &[&str] = &["confirmed", "delivered", "invoiced", "cancelled"];
/// An outbox message: written `queued` by its author; only the server's
/// mailer moves it to `sent` or `failed`.
pub const EMAIL_STATUSES: &[&str] = &["queued", "sent", "failed"];
pub const LANGS: &[&str] = &["fr", "en"];
/// The category of operation an e-invoice states: deliveries of goods,
/// services, or both.
pub const OPERATION_CATEGORIES: &[&str] = &["goods", "services", "mixed"];
pub const STAGE_OUTCOMES: &[&str] = &["open", "won", "lost"];
pub const ROLES: &[&str] = &["rep", "manager", "admin"];

/// Every kind of record, with its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    Account,
    Contact,
    Deal,
    Action,
    Note,
    Quote,
    QuoteLine,
    Order,
    OrderLine,
    Product,
    Stage,
    ActionTypeDef,
    VatRateDef,
    Company,
    User,
    Territory,
    Target,
    CommissionTier,
    PlanHeader,
    LibraryItem,
    Email,
}

impl RecordKind {
    pub fn name(self) -> &'static str {
        match self {
            RecordKind::Account => "account",
            RecordKind::Contact => "contact",
            RecordKind::Deal => "deal",
            RecordKind::Action => "action",
            RecordKind::Note => "note",
            RecordKind::Quote => "quote",
            RecordKind::QuoteLine => "quote line",
            RecordKind::Order => "order",
            RecordKind::OrderLine => "order line",
            RecordKind::Product => "product",
            RecordKind::Stage => "stage",
            RecordKind::ActionTypeDef => "action type",
            RecordKind::VatRateDef => "VAT rate",
            RecordKind::Company => "company",
            RecordKind::User => "user",
            RecordKind::Territory => "territory",
            RecordKind::Target => "target",
            RecordKind::CommissionTier => "commission tier",
            RecordKind::PlanHeader => "plan",
            RecordKind::LibraryItem => "library item",
            RecordKind::Email => "email",
        }
    }

    pub fn fields(self) -> &'static [FieldSpec] {
        use FieldType::*;
        match self {
            RecordKind::Account => {
                const {
                    &[
                        req("name", Short),
                        req("kind", Choice(ACCOUNT_KINDS)),
                        req("status", Choice(ACCOUNT_STATUSES)),
                        f("siret", Siret),
                        f("siren", Siren),
                        f("vat_number", VatNumber),
                        f("naf", Naf),
                        f("tags", Tags),
                        f("address_line1", Short),
                        f("address_line2", Short),
                        f("postcode", Postcode),
                        f("city", Short),
                        f("country", Short),
                        f("returned_mail", Bool),
                        f("phone", Phone),
                        f("email", Email),
                        f("website", Short),
                        req("owner", Email),
                        f("territory", Short),
                        f("source", Short),
                        f("expectations", Text),
                        f("consent_email", Bool),
                        f("consent_phone", Bool),
                        f("consent_post", Bool),
                        // When a rep last confirmed each key field is still
                        // right (`ops::verify`, or an edit of the field).
                        f("verified_address", Date),
                        f("verified_phone", Date),
                        f("verified_email", Date),
                        // Mail came back ("NPAI") / the address bounced: left
                        // out of mailings until the field is corrected.
                        f("email_bounced", Bool),
                        // Merged into another file (`crate::merge`): kept
                        // for its history, out of every list. Only the
                        // server writes them (the judge refuses a device
                        // setting them, at creation too).
                        ro("merged_into", Ref),
                        ro("merged_heads", Short),
                        ro("created_at", Timestamp),
                        ro("created_by", Email),
                    ]
                }
            }
            RecordKind::Contact => {
                const {
                    &[
                        req("name", Short),
                        f("role", Short),
                        f("phone", Phone),
                        f("mobile", Phone),
                        f("email", Email),
                        f("preferred_channel", Choice(CHANNELS)),
                        f("consent_email", Bool),
                        f("consent_phone", Bool),
                        f("consent_post", Bool),
                        f("notes", Text),
                        f("verified_role", Date),
                        ro("created_at", Timestamp),
                    ]
                }
            }
            RecordKind::Deal => {
                const {
                    &[
                        req("title", Short),
                        req("stage", Stage),
                        req("amount", Amount),
                        req("currency", Short),
                        f("probability", Percent),
                        f("close_date", Date),
                        f("next_step", Short),
                        f("lost_reason", Short),
                        req("owner", Email),
                        f("contact", Ref),
                        ro("created_at", Timestamp),
                    ]
                }
            }
            RecordKind::Action => {
                const {
                    &[
                        req("type", ActionType),
                        req("subject", Short),
                        req("due", Date),
                        req("assignee", Email),
                        f("outcome", Text),
                        f("done_on", Date),
                        f("deal", Ref),
                        f("contact", Ref),
                        ro("created_at", Timestamp),
                        ro("created_by", Email),
                    ]
                }
            }
            RecordKind::Note => {
                const {
                    &[
                        f("body", Text),
                        ro("author", Email),
                        ro("created_at", Timestamp),
                    ]
                }
            }
            RecordKind::Quote => {
                const {
                    &[
                        ro("number", Short),
                        ro("provisional_number", Short),
                        req("status", Choice(QUOTE_STATUSES)),
                        f("deal", Ref),
                        f("contact", Ref),
                        req("date", Date),
                        f("valid_until", Date),
                        req("currency", Short),
                        f("terms", Text),
                        f("payment_terms", Text),
                        f("delivery_terms", Text),
                        f("notes", Text),
                        ro("owner", Email),
                        ro("created_at", Timestamp),
                        // A revision: the quote it replaces, and its rank
                        // (2 for the first revision).
                        ro("revises", Ref),
                        ro("revision", Int),
                    ]
                }
            }
            RecordKind::QuoteLine | RecordKind::OrderLine => {
                const {
                    &[
                        f("position", Int),
                        f("product", Ref),
                        req("label", Short),
                        req("qty", Quantity),
                        req("unit_price", Amount),
                        f("discount", Percent),
                        req("vat_rate", VatRate),
                    ]
                }
            }
            RecordKind::Order => {
                const {
                    &[
                        ro("number", Short),
                        ro("provisional_number", Short),
                        req("status", Choice(ORDER_STATUSES)),
                        ro("quote", Ref),
                        req("date", Date),
                        f("delivery_date", Date),
                        req("currency", Short),
                        ro("owner", Email),
                        ro("created_at", Timestamp),
                    ]
                }
            }
            RecordKind::Product => {
                const {
                    &[
                        req("sku", Short),
                        req("name", Short),
                        req("unit_price", Amount),
                        req("currency", Short),
                        req("vat_rate", VatRate),
                        f("category", Short),
                        f("active", Bool),
                        f("description", Text),
                    ]
                }
            }
            RecordKind::Stage => {
                const {
                    &[
                        req("label", Short),
                        req("probability", Percent),
                        req("position", Int),
                        req("outcome", Choice(STAGE_OUTCOMES)),
                    ]
                }
            }
            RecordKind::ActionTypeDef => const { &[req("label", Short)] },
            RecordKind::VatRateDef => const { &[req("label", Short)] },
            RecordKind::Company => {
                const {
                    &[
                        f("name", Short),
                        f("legal_form", Short),
                        f("share_capital", Amount),
                        f("siren", Siren),
                        f("siret", Siret),
                        f("rcs_city", Short),
                        f("vat_number", VatNumber),
                        f("address", Short),
                        f("postcode", Postcode),
                        f("city", Short),
                        f("phone", Phone),
                        f("email", Email),
                        f("payment_terms", Text),
                        f("late_penalty_rate", Percent),
                        // What the company sells, as an e-invoice states it.
                        f("operation_category", Choice(OPERATION_CATEGORIES)),
                        // The letterhead's logo: a PNG or JPEG of the
                        // library (its blob), drawn on every PDF.
                        f("logo", Sha256),
                        req("currency", Short),
                        req("quote_prefix", Short),
                        req("order_prefix", Short),
                    ]
                }
            }
            RecordKind::User => {
                const {
                    &[
                        req("email", Email),
                        f("name", Short),
                        req("role", Choice(ROLES)),
                        f("manager", Email),
                        // Set when the user is deactivated: no login, no
                        // access, devices cut off (the record stays, so
                        // history keeps its author).
                        f("disabled", Bool),
                        // The user's dashboard layout: indicator codes in
                        // order (`reports::Indicator::layout`).
                        f("dashboard", Short),
                    ]
                }
            }
            RecordKind::Territory => {
                const { &[req("name", Short), f("postcodes", Short), f("reps", Tags)] }
            }
            RecordKind::Target => const { &[req("amount", Amount)] },
            RecordKind::CommissionTier => {
                const { &[req("from_pct", Quantity), req("rate", Percent)] }
            }
            RecordKind::PlanHeader => const { &[ro("user", Email), req("currency", Short)] },
            // A message is fixed once written: what the server sends is
            // what its author wrote. The result fields are the server's.
            RecordKind::Email => {
                const {
                    &[
                        fixed("to", Email),
                        // Empty for a quote: "Devis <its final number>".
                        ro("subject", Short),
                        ro("message", Text),
                        ro("quote", Ref),
                        // Library documents attached: their blobs (SHA-256).
                        ro("attachments", Tags),
                        fixed("lang", Choice(LANGS)),
                        fixed("status", Choice(EMAIL_STATUSES)),
                        ro("attempts", Int),
                        ro("error", Short),
                        ro("next_attempt", Timestamp),
                        ro("sent_at", Timestamp),
                        ro("message_id", Short),
                        ro("created_by", Email),
                        ro("created_at", Timestamp),
                    ]
                }
            }
            // A document of the marketing library: its bytes are a blob
            // (SHA-256, hex) stored beside the tenant; a new version
            // replaces `blob`. No territory and no team: for everyone.
            RecordKind::LibraryItem => {
                const {
                    &[
                        req("title", Short),
                        f("blob", Sha256),
                        f("mime", Short),
                        f("file_name", Short),
                        f("size", Int),
                        f("territories", Tags),
                        f("teams", Tags),
                        f("updated_at", Timestamp),
                        ro("created_at", Timestamp),
                    ]
                }
            }
        }
    }

    pub fn field(self, name: &str) -> Option<&'static FieldSpec> {
        self.fields().iter().find(|s| s.name == name)
    }
}

/// A record map inside a document: `containers[i].0` names the map of
/// records, `.1` their kind, `.2` nested record maps of each record.
pub struct Container {
    pub key: &'static str,
    pub kind: RecordKind,
    pub nested: &'static [Container],
}

const LINES_Q: &[Container] = &[Container {
    key: "lines",
    kind: RecordKind::QuoteLine,
    nested: &[],
}];
const LINES_O: &[Container] = &[Container {
    key: "lines",
    kind: RecordKind::OrderLine,
    nested: &[],
}];

/// The layout of a document kind: singleton maps at the root (like
/// `account`) and record containers.
pub struct Layout {
    pub singletons: &'static [(&'static str, RecordKind)],
    pub containers: &'static [Container],
}

pub fn layout(kind: DocKind) -> Layout {
    match kind {
        DocKind::Account => Layout {
            singletons: &[("account", RecordKind::Account)],
            containers: &[
                Container {
                    key: "contacts",
                    kind: RecordKind::Contact,
                    nested: &[],
                },
                Container {
                    key: "deals",
                    kind: RecordKind::Deal,
                    nested: &[],
                },
                Container {
                    key: "actions",
                    kind: RecordKind::Action,
                    nested: &[],
                },
                Container {
                    key: "notes",
                    kind: RecordKind::Note,
                    nested: &[],
                },
                Container {
                    key: "quotes",
                    kind: RecordKind::Quote,
                    nested: LINES_Q,
                },
                Container {
                    key: "orders",
                    kind: RecordKind::Order,
                    nested: LINES_O,
                },
                Container {
                    key: "emails",
                    kind: RecordKind::Email,
                    nested: &[],
                },
            ],
        },
        DocKind::Settings => Layout {
            singletons: &[("company", RecordKind::Company)],
            containers: &[
                Container {
                    key: "stages",
                    kind: RecordKind::Stage,
                    nested: &[],
                },
                Container {
                    key: "action_types",
                    kind: RecordKind::ActionTypeDef,
                    nested: &[],
                },
                Container {
                    key: "vat_rates",
                    kind: RecordKind::VatRateDef,
                    nested: &[],
                },
            ],
        },
        DocKind::Catalog => Layout {
            singletons: &[],
            containers: &[Container {
                key: "products",
                kind: RecordKind::Product,
                nested: &[],
            }],
        },
        DocKind::Directory => Layout {
            singletons: &[],
            containers: &[
                Container {
                    key: "users",
                    kind: RecordKind::User,
                    nested: &[],
                },
                Container {
                    key: "territories",
                    kind: RecordKind::Territory,
                    nested: &[],
                },
            ],
        },
        DocKind::Plan => Layout {
            singletons: &[("plan", RecordKind::PlanHeader)],
            containers: &[
                Container {
                    key: "targets",
                    kind: RecordKind::Target,
                    nested: &[],
                },
                Container {
                    key: "tiers",
                    kind: RecordKind::CommissionTier,
                    nested: &[],
                },
            ],
        },
        DocKind::Library => Layout {
            singletons: &[],
            containers: &[Container {
                key: "items",
                kind: RecordKind::LibraryItem,
                nested: &[],
            }],
        },
    }
}

/// A field path resolved against a document layout.
#[derive(Clone, Debug)]
pub struct FieldPath {
    /// Map keys from the root to the map holding the field.
    pub parent: Vec<String>,
    /// The field's key in that map.
    pub key: String,
    pub record: RecordKind,
    /// The spec, or `None` for a custom field (`account/custom/<key>`).
    pub spec: Option<&'static FieldSpec>,
}

impl FieldPath {
    pub fn display(&self) -> String {
        let mut s = self.parent.join("/");
        s.push('/');
        s.push_str(&self.key);
        s
    }
}

/// Resolves `path` (slash separated) for a document of `kind`.
pub fn resolve(kind: DocKind, path: &str) -> Result<FieldPath, ValidationError> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let unknown = || ValidationError::UnknownField {
        path: path.to_string(),
        what: format!("a {kind} document"),
    };
    let lay = layout(kind);
    match parts.as_slice() {
        [single, "custom", key] if !key.is_empty() => {
            let (_, record) = lay
                .singletons
                .iter()
                .find(|(k, _)| k == single)
                .ok_or_else(unknown)?;
            if *record != RecordKind::Account {
                return Err(unknown());
            }
            Ok(FieldPath {
                parent: vec![single.to_string(), "custom".to_string()],
                key: key.to_string(),
                record: *record,
                spec: None,
            })
        }
        [single, field] => {
            if let Some((_, record)) = lay.singletons.iter().find(|(k, _)| k == single) {
                let spec = record.field(field).ok_or_else(unknown)?;
                return Ok(FieldPath {
                    parent: vec![single.to_string()],
                    key: field.to_string(),
                    record: *record,
                    spec: Some(spec),
                });
            }
            Err(unknown())
        }
        [container, id, rest @ ..] => {
            let c = lay
                .containers
                .iter()
                .find(|c| c.key == *container)
                .ok_or_else(unknown)?;
            resolve_in(c, id, rest, vec![container.to_string()], path, kind)
        }
        _ => Err(unknown()),
    }
}

fn resolve_in(
    c: &Container,
    id: &str,
    rest: &[&str],
    mut parent: Vec<String>,
    path: &str,
    kind: DocKind,
) -> Result<FieldPath, ValidationError> {
    let unknown = || ValidationError::UnknownField {
        path: path.to_string(),
        what: format!("a {kind} document"),
    };
    if id.is_empty() {
        return Err(unknown());
    }
    parent.push(id.to_string());
    match rest {
        [field] => {
            let spec = c.kind.field(field).ok_or_else(unknown)?;
            Ok(FieldPath {
                parent,
                key: field.to_string(),
                record: c.kind,
                spec: Some(spec),
            })
        }
        [nested, nid, more @ ..] => {
            let n = c
                .nested
                .iter()
                .find(|n| n.key == *nested)
                .ok_or_else(unknown)?;
            parent.push(nested.to_string());
            resolve_in(n, nid, more, parent, path, kind)
        }
        _ => Err(unknown()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_singleton_record_nested_and_custom_paths() {
        let p = resolve(DocKind::Account, "account/name").unwrap();
        assert_eq!(p.parent, vec!["account"]);
        assert_eq!(p.spec.unwrap().ty, FieldType::Short);

        let p = resolve(DocKind::Account, "deals/abc/stage").unwrap();
        assert_eq!(p.parent, vec!["deals", "abc"]);
        assert_eq!(p.record, RecordKind::Deal);

        let p = resolve(DocKind::Account, "quotes/q1/lines/l1/qty").unwrap();
        assert_eq!(p.parent, vec!["quotes", "q1", "lines", "l1"]);
        assert_eq!(p.record, RecordKind::QuoteLine);

        let p = resolve(DocKind::Account, "account/custom/fleet_size").unwrap();
        assert!(p.spec.is_none());
        assert_eq!(p.display(), "account/custom/fleet_size");
    }

    #[test]
    fn refuses_unknown_paths() {
        for bad in [
            "account/nope",
            "deals/abc",
            "deals/abc/nope",
            "stuff/abc/name",
            "",
            "quotes/q/lines/l",
            "deals//stage",
        ] {
            assert!(
                matches!(
                    resolve(DocKind::Account, bad),
                    Err(ValidationError::UnknownField { .. })
                ),
                "{bad} should be refused"
            );
        }
        assert!(resolve(DocKind::Settings, "stages/won/probability").is_ok());
        assert!(resolve(DocKind::Settings, "account/name").is_err());
    }
}
