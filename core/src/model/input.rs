//! What a user fills in to create a record: the inputs of the domain API's
//! operations, as typed text (validated and parsed by the operation, with
//! the settings' vocabularies). Every front-end builds these and nothing
//! else: none of them names a document path or a field list.

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
#[serde(default)]
pub struct NewAccount {
    pub name: String,
    /// `company` (default) or `person`.
    pub kind: Option<String>,
    /// `prospect` (default), `client`, `inactive`.
    pub status: Option<String>,
    pub siret: Option<String>,
    pub vat_number: Option<String>,
    pub naf: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub postcode: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub website: Option<String>,
    /// Comma-separated.
    pub tags: Option<String>,
    pub source: Option<String>,
    /// Defaults to the user creating it.
    pub owner: Option<String>,
    /// SIREN of a business without a known establishment (SIRET).
    pub siren: Option<String>,
    /// A territory name, when no postcode rule places the account.
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
#[serde(default)]
pub struct NewContact {
    pub name: String,
    pub role: Option<String>,
    pub phone: Option<String>,
    pub mobile: Option<String>,
    pub email: Option<String>,
    /// `phone`, `mobile`, `email`, `visit`.
    pub preferred_channel: Option<String>,
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
#[serde(default)]
pub struct NewDeal {
    pub title: String,
    /// Amount as typed: `12500`, `12 500,50`.
    pub amount: String,
    /// Defaults to the first pipeline stage.
    pub stage: Option<String>,
    pub close_date: Option<String>,
    pub probability: Option<String>,
    pub next_step: Option<String>,
    /// A contact of the same file.
    pub contact: Option<String>,
    /// Defaults to the user creating it.
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
#[serde(default)]
pub struct NewAction {
    /// `call`, `visit`, `email`, ... (the settings' action types).
    pub action_type: String,
    pub subject: String,
    /// `YYYY-MM-DD`.
    pub due: String,
    /// Defaults to the user creating it.
    pub assignee: Option<String>,
    pub deal: Option<String>,
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
#[serde(default)]
pub struct VisitReport {
    pub subject: String,
    pub outcome: String,
    pub contact: Option<String>,
    pub deal: Option<String>,
    pub follow_up: Option<NewAction>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NewQuote {
    pub deal: Option<String>,
    pub contact: Option<String>,
    /// Defaults to today.
    pub date: Option<String>,
    pub valid_until: Option<String>,
    pub terms: Option<String>,
}

impl NewQuote {
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        raw(&[
            ("deal", self.deal.as_ref()),
            ("contact", self.contact.as_ref()),
            ("date", self.date.as_ref()),
            ("valid_until", self.valid_until.as_ref()),
            ("terms", self.terms.as_ref()),
        ])
    }
}

/// A quote line: from a catalogue product (`product` = its id or SKU, price
/// and VAT from the catalogue unless given) or free (`label` and
/// `unit_price` required).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NewQuoteLine {
    pub qty: String,
    pub product: Option<String>,
    pub label: Option<String>,
    pub unit_price: Option<String>,
    pub vat_rate: Option<String>,
    pub discount: Option<String>,
}
