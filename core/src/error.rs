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
    #[error(
        "quote {quote} cannot be sent, it lacks: {}",
        crate::legal::list(missing, crate::text::Lang::En)
    )]
    MissingMentions {
        quote: String,
        missing: Vec<crate::legal::Mention>,
    },
    #[error("{who} ({to}) refused prospecting email: nothing is sent")]
    OptedOut { to: String, who: String },
    #[error("unknown action type {value:?} (types: {allowed})")]
    UnknownActionType { value: String, allowed: String },
    #[error("unknown VAT rate {value}% (rates: {allowed})")]
    UnknownVatRate { value: String, allowed: String },
    #[error("{field}: {value:?} is not a yes/no value")]
    BadBool { field: String, value: String },
    #[error("{0:?} is not a valid id")]
    BadId(String),
    #[error("{0:?} is not a document of the library (a SHA-256 in hex)")]
    BadBlob(String),
    #[error("no column gives the account's name (headers: {headers}); map one with --mapping")]
    NoNameColumn { headers: String },
    /// A CSV file that cannot be read (`import::source`), at a line when
    /// known.
    #[error("{}{problem}", .line.map(|l| format!("line {l}: ")).unwrap_or_default())]
    Csv {
        line: Option<u64>,
        problem: CsvProblem,
    },
    #[error("unknown field {path:?} for {what}")]
    UnknownField { path: String, what: String },
    #[error("{field}: is read-only")]
    ReadOnly { field: String },
    #[error("{0}")]
    Rule(String),
}

/// Why a CSV file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CsvProblem {
    #[error("the file is empty: no header line")]
    Empty,
    #[error("cannot read the file: {0}")]
    Io(String),
    #[error("a row longer than {0} bytes (a quote that never closes?)")]
    RowTooLong(u64),
    #[error("{found} columns, at most {max}")]
    TooManyColumns { found: usize, max: usize },
    #[error("unreadable CSV ({0})")]
    Unreadable(String),
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
    #[error("PDF: {0}")]
    Pdf(String),
    #[error("export: {0}")]
    Export(String),
}

pub type Result<T, E = CoreError> = std::result::Result<T, E>;
