//! What a user fills in to create a record: the inputs of the domain API's
//! operations, as typed text (validated and parsed by the operation, with
//! the settings' vocabularies). Every front-end builds these and nothing
//! else: none of them names a document path or a field list. The CLI takes
//! them as its options (feature `clap`), the apps as uniffi records, the
//! web app from forms (serde).

use serde::{Deserialize, Serialize};

/// Field name and the text typed, for the set ones only.
fn raw(fields: &[(&'static str, Option<&String>)]) -> Vec<(&'static str, String)> {
    fields
        .iter()
        .filter_map(|(k, v)| v.map(|v| (*k, v.clone())))
        .collect()
}

/// A new customer file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[serde(default)]
pub struct NewAccount {
    #[cfg_attr(feature = "clap", arg(long))]
    pub name: String,
    /// `company` (default) or `person`.
    #[cfg_attr(feature = "clap", arg(long))]
    pub kind: Option<String>,
    /// `prospect` (default), `client`, `inactive`.
    #[cfg_attr(feature = "clap", arg(long))]
    pub status: Option<String>,
    #[cfg_attr(feature = "clap", arg(long))]
    pub siret: Option<String>,
    #[cfg_attr(feature = "clap", arg(long))]
    pub vat_number: Option<String>,
    #[cfg_attr(feature = "clap", arg(long))]
    pub naf: Option<String>,
    #[cfg_attr(feature = "clap", arg(long, visible_alias = "address"))]
    pub address_line1: Option<String>,
    #[cfg_attr(feature = "clap", arg(long))]
    pub address_line2: Option<String>,
    #[cfg_attr(feature = "clap", arg(long))]
    pub postcode: Option<String>,
    #[cfg_attr(feature = "clap", arg(long))]
    pub city: Option<String>,
    #[cfg_attr(feature = "clap", arg(long))]
    pub country: Option<String>,
    #[cfg_attr(feature = "clap", arg(long))]
    pub phone: Option<String>,
    #[cfg_attr(feature = "clap", arg(long))]
    pub email: Option<String>,
    #[cfg_attr(feature = "clap", arg(long))]
    pub website: Option<String>,
    /// Comma-separated.
    #[cfg_attr(feature = "clap", arg(long))]
    pub tags: Option<String>,
    #[cfg_attr(feature = "clap", arg(long))]
    pub source: Option<String>,
    /// Defaults to the user creating it.
    #[cfg_attr(feature = "clap", arg(long))]
    pub owner: Option<String>,
    /// SIREN of a business without a known establishment (SIRET).
    #[cfg_attr(feature = "clap", arg(long))]
    pub siren: Option<String>,
    /// A territory name, when no postcode rule places the account.
    #[cfg_attr(feature = "clap", arg(long))]
    pub territory: Option<String>,
}

impl NewAccount {
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        raw(&[
            ("name", Some(&self.name)),
            ("kind", self.kind.as_ref()),
            ("status", self.status.as_ref()),
            ("siret", self.siret.as_ref()),
            ("vat_number", self.vat_number.as_ref()),
            ("naf", self.naf.as_ref()),
            ("address_line1", self.address_line1.as_ref()),
            ("address_line2", self.address_line2.as_ref()),
            ("postcode", self.postcode.as_ref()),
            ("city", self.city.as_ref()),
            ("country", self.country.as_ref()),
            ("phone", self.phone.as_ref()),
            ("email", self.email.as_ref()),
            ("website", self.website.as_ref()),
            ("tags", self.tags.as_ref()),
            ("source", self.source.as_ref()),
            ("owner", self.owner.as_ref()),
            ("siren", self.siren.as_ref()),
            ("territory", self.territory.as_ref()),
        ])
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[serde(default)]
pub struct NewContact {
    #[cfg_attr(feature = "clap", arg(long))]
    pub name: String,
    #[cfg_attr(feature = "clap", arg(long))]
    pub role: Option<String>,
    #[cfg_attr(feature = "clap", arg(long))]
    pub phone: Option<String>,
    #[cfg_attr(feature = "clap", arg(long))]
    pub mobile: Option<String>,
    #[cfg_attr(feature = "clap", arg(long))]
    pub email: Option<String>,
    /// `phone`, `mobile`, `email`, `visit`.
    #[cfg_attr(feature = "clap", arg(long, visible_alias = "channel"))]
    pub preferred_channel: Option<String>,
    #[cfg_attr(feature = "clap", arg(long))]
    pub notes: Option<String>,
}

impl NewContact {
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        raw(&[
            ("name", Some(&self.name)),
            ("role", self.role.as_ref()),
            ("phone", self.phone.as_ref()),
            ("mobile", self.mobile.as_ref()),
            ("email", self.email.as_ref()),
            ("preferred_channel", self.preferred_channel.as_ref()),
            ("notes", self.notes.as_ref()),
        ])
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[serde(default)]
pub struct NewDeal {
    #[cfg_attr(feature = "clap", arg(long))]
    pub title: String,
    /// Amount as typed: `12500`, `12 500,50`.
    #[cfg_attr(feature = "clap", arg(long, allow_hyphen_values = true))]
    pub amount: String,
    /// Defaults to the first pipeline stage.
    #[cfg_attr(feature = "clap", arg(long))]
    pub stage: Option<String>,
    #[cfg_attr(feature = "clap", arg(long, visible_alias = "close"))]
    pub close_date: Option<String>,
    #[cfg_attr(feature = "clap", arg(long))]
    pub probability: Option<String>,
    #[cfg_attr(feature = "clap", arg(long))]
    pub next_step: Option<String>,
    /// A contact of the same file.
    #[cfg_attr(feature = "clap", arg(long))]
    pub contact: Option<String>,
    /// Defaults to the user creating it.
    #[cfg_attr(feature = "clap", arg(long))]
    pub owner: Option<String>,
}

impl NewDeal {
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        raw(&[
            ("title", Some(&self.title)),
            ("amount", Some(&self.amount)),
            ("stage", self.stage.as_ref()),
            ("close_date", self.close_date.as_ref()),
            ("probability", self.probability.as_ref()),
            ("next_step", self.next_step.as_ref()),
            ("contact", self.contact.as_ref()),
            ("owner", self.owner.as_ref()),
        ])
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[serde(default)]
pub struct NewAction {
    /// `call`, `visit`, `email`, ... (the settings' action types).
    #[cfg_attr(feature = "clap", arg(long, visible_alias = "type"))]
    pub action_type: String,
    #[cfg_attr(feature = "clap", arg(long))]
    pub subject: String,
    /// `YYYY-MM-DD`.
    #[cfg_attr(feature = "clap", arg(long))]
    pub due: String,
    /// Defaults to the user creating it.
    #[cfg_attr(feature = "clap", arg(long))]
    pub assignee: Option<String>,
    #[cfg_attr(feature = "clap", arg(long))]
    pub deal: Option<String>,
    #[cfg_attr(feature = "clap", arg(long))]
    pub contact: Option<String>,
}

impl NewAction {
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        raw(&[
            ("type", Some(&self.action_type)),
            ("subject", Some(&self.subject)),
            ("due", Some(&self.due)),
            ("assignee", self.assignee.as_ref()),
            ("deal", self.deal.as_ref()),
            ("contact", self.contact.as_ref()),
        ])
    }
}

/// A visit report typed at the client's site: the visit, done today with
/// its outcome, and optionally the follow-up action, saved as one change.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[serde(default)]
pub struct VisitReport {
    #[cfg_attr(feature = "clap", arg(long))]
    pub subject: String,
    #[cfg_attr(feature = "clap", arg(long))]
    pub outcome: String,
    #[cfg_attr(feature = "clap", arg(long))]
    pub contact: Option<String>,
    #[cfg_attr(feature = "clap", arg(long))]
    pub deal: Option<String>,
    #[cfg_attr(feature = "clap", arg(skip))]
    pub follow_up: Option<NewAction>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[serde(default)]
pub struct NewQuote {
    #[cfg_attr(feature = "clap", arg(long))]
    pub deal: Option<String>,
    #[cfg_attr(feature = "clap", arg(long))]
    pub contact: Option<String>,
    /// Defaults to today.
    #[cfg_attr(feature = "clap", arg(long))]
    pub date: Option<String>,
    #[cfg_attr(feature = "clap", arg(long))]
    pub valid_until: Option<String>,
    #[cfg_attr(feature = "clap", arg(long))]
    pub terms: Option<String>,
    /// Payment terms of this quote (the company's default when absent).
    #[cfg_attr(feature = "clap", arg(long))]
    pub payment_terms: Option<String>,
    #[cfg_attr(feature = "clap", arg(long))]
    pub delivery_terms: Option<String>,
    #[cfg_attr(feature = "clap", arg(long))]
    pub notes: Option<String>,
}

impl NewQuote {
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        raw(&[
            ("deal", self.deal.as_ref()),
            ("contact", self.contact.as_ref()),
            ("date", self.date.as_ref()),
            ("valid_until", self.valid_until.as_ref()),
            ("terms", self.terms.as_ref()),
            ("payment_terms", self.payment_terms.as_ref()),
            ("delivery_terms", self.delivery_terms.as_ref()),
            ("notes", self.notes.as_ref()),
        ])
    }
}

/// A quote line: from a catalogue product (`product` = its id or SKU, price
/// and VAT from the catalogue unless given) or free (`label` and
/// `unit_price` required).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[serde(default)]
pub struct NewQuoteLine {
    #[cfg_attr(feature = "clap", arg(long, allow_hyphen_values = true))]
    pub qty: String,
    #[cfg_attr(
        feature = "clap",
        arg(long, conflicts_with = "label", required_unless_present = "label")
    )]
    pub product: Option<String>,
    #[cfg_attr(feature = "clap", arg(long))]
    pub label: Option<String>,
    /// Unit price excl. VAT (from the catalog when omitted).
    #[cfg_attr(
        feature = "clap",
        arg(long, visible_alias = "price", allow_hyphen_values = true)
    )]
    pub unit_price: Option<String>,
    /// VAT rate in %.
    #[cfg_attr(feature = "clap", arg(long, visible_alias = "vat"))]
    pub vat_rate: Option<String>,
    /// Discount in %.
    #[cfg_attr(feature = "clap", arg(long))]
    pub discount: Option<String>,
}
