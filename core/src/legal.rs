//! What French law asks a quote ("devis") to state before it leaves, and
//! where each mention comes from: the company settings (the seller), the
//! customer file (the client), the quote itself. `check` lists what is
//! missing; `ops::send_quote` refuses to send a quote while the list is not
//! empty, so a quote marked sent always carries every mention, and the PDF
//! prints them from the same place.
//!
//! Sources: Code de commerce L441-9 and R123-237 (seller identity, RCS,
//! share capital), CGI art. 242 nonies A (VAT number), L441-10 (payment
//! terms, late-payment penalty rate and, between businesses, the fixed
//! EUR 40 recovery indemnity — D441-5).

use serde::Serialize;

use crate::model::{Account, Quote, Settings};
use crate::text::Lang;
use crate::ValidationError;

/// A seller stating every mention (a SARL in Lyon whose SIREN, and VAT
/// key, are valid): the company fields, as `company set` takes them, that
/// the tests, the benchmarks and the docs' walkthrough fill in.
pub const EXAMPLE_SELLER: &[(&str, &str)] = &[
    ("legal_form", "SARL"),
    ("share_capital", "10000"),
    ("address", "12 rue de la République"),
    ("postcode", "69002"),
    ("city", "Lyon"),
    ("siren", "732829320"),
    ("rcs_city", "Lyon"),
    ("vat_number", "FR44732829320"),
    ("payment_terms", "30 jours fin de mois"),
    ("late_penalty_rate", "12"),
];

/// One mention a quote must carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mention {
    SellerName,
    SellerLegalForm,
    SellerShareCapital,
    SellerAddress,
    SellerSiren,
    SellerRcs,
    SellerVatNumber,
    ClientName,
    ClientAddress,
    /// For a business client.
    ClientSiren,
    QuoteDate,
    Validity,
    PaymentTerms,
    LatePenaltyRate,
    /// A quote with no line states no price.
    Lines,
}

impl Mention {
    /// What to fill in, and where, in `lang`.
    pub fn label(self, lang: Lang) -> &'static str {
        use Mention::*;
        let (fr, en) = match self {
            SellerName => (
                "raison sociale de l'entreprise (paramètres)",
                "company name (settings)",
            ),
            SellerLegalForm => (
                "forme juridique de l'entreprise (paramètres)",
                "company legal form (settings)",
            ),
            SellerShareCapital => (
                "capital social de l'entreprise (paramètres)",
                "company share capital (settings)",
            ),
            SellerAddress => (
                "adresse complète de l'entreprise (paramètres)",
                "company full address (settings)",
            ),
            SellerSiren => (
                "SIREN ou SIRET de l'entreprise (paramètres)",
                "company SIREN or SIRET (settings)",
            ),
            SellerRcs => (
                "ville d'immatriculation au RCS (paramètres)",
                "RCS registry town (settings)",
            ),
            SellerVatNumber => (
                "numéro de TVA intracommunautaire de l'entreprise (paramètres)",
                "company EU VAT number (settings)",
            ),
            ClientName => ("nom du client (fiche client)", "client name (account)"),
            ClientAddress => (
                "adresse complète du client : adresse, code postal, ville (fiche client)",
                "client full address: street, postcode, city (account)",
            ),
            ClientSiren => (
                "SIREN ou SIRET du client professionnel (fiche client)",
                "SIREN or SIRET of the business client (account)",
            ),
            QuoteDate => ("date du devis", "quote date"),
            Validity => ("date de validité du devis", "quote validity date"),
            PaymentTerms => (
                "conditions de paiement (devis ou paramètres)",
                "payment terms (quote or settings)",
            ),
            LatePenaltyRate => (
                "taux des pénalités de retard (paramètres)",
                "late-payment penalty rate (settings)",
            ),
            Lines => ("au moins une ligne", "at least one line"),
        };
        match lang {
            Lang::Fr => fr,
            Lang::En => en,
        }
    }
}

/// A business client (as opposed to a private person): SIREN and the
/// recovery indemnity apply.
pub fn is_business(account: &Account) -> bool {
    account.kind != "person"
}

fn blank(s: &str) -> bool {
    s.trim().is_empty()
}

/// The mentions `quote` lacks, in the order a reader meets them.
pub fn missing(settings: &Settings, account: &Account, quote: &Quote) -> Vec<Mention> {
    use Mention::*;
    let c = &settings.company;
    let opt = |o: &Option<String>| o.as_deref().is_none_or(blank);
    let mut out = Vec::new();
    let mut need = |ok: bool, m: Mention| {
        if !ok {
            out.push(m);
        }
    };
    need(!blank(&c.name), SellerName);
    need(!blank(&c.legal_form), SellerLegalForm);
    need(c.share_capital.is_some(), SellerShareCapital);
    need(
        !blank(&c.address) && !blank(&c.postcode) && !blank(&c.city),
        SellerAddress,
    );
    need(!blank(&c.siren) || !blank(&c.siret), SellerSiren);
    need(!blank(&c.rcs_city), SellerRcs);
    need(!blank(&c.vat_number), SellerVatNumber);
    need(!blank(&account.name), ClientName);
    need(
        !opt(&account.address_line1) && !opt(&account.postcode) && !opt(&account.city),
        ClientAddress,
    );
    need(
        !is_business(account) || !opt(&account.siren) || !opt(&account.siret),
        ClientSiren,
    );
    need(quote.date.is_some(), QuoteDate);
    need(quote.valid_until.is_some(), Validity);
    need(
        !blank(&quote.payment_terms) || !blank(&c.payment_terms),
        PaymentTerms,
    );
    need(c.late_penalty_rate.is_some(), LatePenaltyRate);
    need(!quote.lines.is_empty(), Lines);
    out
}

/// `Ok` when the quote may be sent, else the refusal listing what lacks.
pub fn check(settings: &Settings, account: &Account, quote: &Quote) -> Result<(), ValidationError> {
    let missing = missing(settings, account, quote);
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ValidationError::MissingMentions {
            quote: quote.number.clone(),
            missing,
        })
    }
}

/// Mentions as a reader's list: "a ; b ; c".
pub fn list(missing: &[Mention], lang: Lang) -> String {
    missing
        .iter()
        .map(|m| m.label(lang))
        .collect::<Vec<_>>()
        .join(" ; ")
}

/// The fixed recovery indemnity every late payment between businesses owes
/// (Code de commerce D441-5), as a quote states it.
pub fn recovery_indemnity(lang: Lang) -> &'static str {
    match lang {
        Lang::Fr => "Indemnité forfaitaire pour frais de recouvrement en cas de retard de paiement : 40,00 €",
        Lang::En => "Fixed recovery indemnity for late payment: EUR 40.00",
    }
}
