//! Typed errors of the core. `ValidationError` is what a user sees when an
//! input is refused (nothing is written then); `CoreError` wraps everything a
//! device operation can fail with.

use thiserror::Error;

use crate::ids::{DocId, RecordId};

/// An input refused before anything was written.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ValidationError {
    #[error("{field}: must not be empty")]
    Empty { field: String },
    #[error("{field}: {value:?} is not a valid amount (use 1234.50, at most 2 decimals)")]
    BadAmount { field: String, value: String },
    #[error("{field}: must not be negative (got {value})")]
    Negative { field: String, value: String },
    #[error("{field}: {value:?} is not a valid number")]
    BadNumber { field: String, value: String },
    #[error("{field}: {value} is out of range ({range})")]
    OutOfRange {
        field: String,
        value: String,
        range: String,
    },
    #[error("{field}: {value:?} is not a valid date (expected YYYY-MM-DD)")]
    BadDate { field: String, value: String },
    #[error("{value:?} is not a valid period (expected YYYY, YYYY-Qn or YYYY-MM)")]
    BadPeriod { value: String },
    #[error("siret: {value:?} is not a valid SIRET (14 digits, Luhn key)")]
    BadSiret { value: String },
    #[error("siren: {value:?} is not a valid SIREN (9 digits, Luhn key)")]
    BadSiren { value: String },
    #[error("vat_number: {value:?} is not a valid VAT number")]
    BadVatNumber { value: String },
    #[error("naf: {value:?} is not a valid NAF code (e.g. 62.01Z)")]
    BadNaf { value: String },
    #[error("{field}: {value:?} is not a valid email address")]
    BadEmail { field: String, value: String },
    #[error("{field}: {value:?} is not a valid phone number")]
    BadPhone { field: String, value: String },
    #[error("postcode: {value:?} is not a valid French postcode (5 digits)")]
    BadPostcode { value: String },
    #[error("{field}: {value:?} is not one of: {allowed}")]
    NotAllowed {
        field: String,
        value: String,
        allowed: String,
    },
    #[error("unknown stage {value:?} (stages: {allowed})")]
    UnknownStage { value: String, allowed: String },
    #[error("unknown action type {value:?} (types: {allowed})")]
    UnknownActionType { value: String, allowed: String },
    #[error("unknown VAT rate {value}% (rates: {allowed})")]
    UnknownVatRate { value: String, allowed: String },
    #[error("{field}: {value:?} is not a yes/no value")]
    BadBool { field: String, value: String },
    #[error("{0:?} is not a valid id")]
    BadId(String),
    #[error("unknown field {path:?} for {what}")]
    UnknownField { path: String, what: String },
    #[error("{field}: is read-only")]
    ReadOnly { field: String },
    #[error("{0}")]
    Rule(String),
}

/// What a storage backend can fail with.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("storage engine: {0}")]
    Engine(#[from] sled::Error),
    #[error("corrupt stored entry {key}: {reason}")]
    Corrupt { key: String, reason: String },
}

/// Every error a device-level operation can return.
#[derive(Debug, Error)]
pub enum CoreError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("document {0} not found")]
    DocNotFound(DocId),
    #[error("record {0} not found")]
    RecordNotFound(RecordId),
    #[error("corrupt document {doc}: {reason}")]
    CorruptDoc { doc: DocId, reason: String },
    #[error("document {doc} is a {found}, not a {expected}")]
    WrongKind {
        doc: DocId,
        expected: &'static str,
        found: String,
    },
    #[error("no store here: run `carnet init` first")]
    NotInitialised,
    #[error("a store is already initialised here")]
    AlreadyInitialised,
    #[error("automerge: {0}")]
    Automerge(#[from] automerge::AutomergeError),
}

pub type Result<T, E = CoreError> = std::result::Result<T, E>;

impl ValidationError {
    /// The message in French, for people (the `Display` form is English).
    pub fn message_fr(&self) -> String {
        use ValidationError::*;
        match self {
            Empty { field } => format!("{field} : ne doit pas être vide"),
            BadAmount { field, value } => format!(
                "{field} : {value:?} n'est pas un montant valide (ex. 1234,50, deux décimales au plus)"
            ),
            Negative { field, value } => {
                format!("{field} : ne doit pas être négatif (reçu {value})")
            }
            BadNumber { field, value } => format!("{field} : {value:?} n'est pas un nombre valide"),
            OutOfRange {
                field,
                value,
                range,
            } => format!("{field} : {value} est hors limites ({range})"),
            BadDate { field, value } => {
                format!("{field} : {value:?} n'est pas une date valide (AAAA-MM-JJ)")
            }
            BadPeriod { value } => {
                format!("{value:?} n'est pas une période valide (AAAA, AAAA-Tn ou AAAA-MM)")
            }
            BadSiret { value } => {
                format!("siret : {value:?} n'est pas un SIRET valide (14 chiffres, clé de Luhn)")
            }
            BadSiren { value } => {
                format!("siren : {value:?} n'est pas un SIREN valide (9 chiffres, clé de Luhn)")
            }
            BadVatNumber { value } => {
                format!("vat_number : {value:?} n'est pas un numéro de TVA valide")
            }
            BadNaf { value } => format!("naf : {value:?} n'est pas un code NAF valide (ex. 62.01Z)"),
            BadEmail { field, value } => {
                format!("{field} : {value:?} n'est pas une adresse e-mail valide")
            }
            BadPhone { field, value } => {
                format!("{field} : {value:?} n'est pas un numéro de téléphone valide")
            }
            BadPostcode { value } => {
                format!("postcode : {value:?} n'est pas un code postal valide (5 chiffres)")
            }
            NotAllowed {
                field,
                value,
                allowed,
            } => format!("{field} : {value:?} n'est pas parmi : {allowed}"),
            UnknownStage { value, allowed } => {
                format!("étape inconnue {value:?} (étapes : {allowed})")
            }
            UnknownActionType { value, allowed } => {
                format!("type de relance inconnu {value:?} (types : {allowed})")
            }
            UnknownVatRate { value, allowed } => {
                format!("taux de TVA inconnu {value} % (taux : {allowed})")
            }
            BadBool { field, value } => format!("{field} : {value:?} n'est pas oui/non"),
            BadId(v) => format!("{v:?} n'est pas un identifiant valide"),
            UnknownField { path, what } => format!("champ inconnu {path:?} pour {what}"),
            ReadOnly { field } => format!("{field} : en lecture seule"),
            Rule(m) => m.clone(),
        }
    }
}
