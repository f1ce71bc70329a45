//! The one error type the apps see. Kotlin gets `CarnetException.<Variant>`,
//! Swift `CarnetError.<variant>`; each carries `reason` (English) and
//! `reason_fr` (French, shown to reps first).

use carnet_core::error::{CoreError, StoreError, ValidationError};
use carnet_core::sync::frame::ErrorCode;
use carnet_core::sync::SyncError;
use carnet_core::text::{with_detail, Label, Lang};

/// A label in both languages, each followed by the detail.
fn both(label: Label, detail: impl std::fmt::Display) -> (String, String) {
    (
        with_detail(label, &detail, Lang::En),
        with_detail(label, &detail, Lang::Fr),
    )
}

#[derive(Clone, Debug, thiserror::Error, uniffi::Error)]
pub enum CarnetError {
    /// A value the user typed was refused; nothing was written.
    #[error("{reason}")]
    Invalid { reason: String, reason_fr: String },
    /// No such customer file or record on this device (or not visible).
    #[error("{reason}")]
    NotFound { reason: String, reason_fr: String },
    /// The store is not logged in to a server (or was never created).
    #[error("{reason}")]
    NotLoggedIn { reason: String, reason_fr: String },
    /// The local store could not be read or written (disk full, corrupt,
    /// opened twice).
    #[error("{reason}")]
    Storage { reason: String, reason_fr: String },
    /// The server could not be reached or the connection dropped.
    #[error("{reason}")]
    Network { reason: String, reason_fr: String },
    /// The server refused: wrong password, revoked device, ...
    #[error("{reason}")]
    Refused { reason: String, reason_fr: String },
    /// The server sent something this version does not understand.
    #[error("{reason}")]
    Protocol { reason: String, reason_fr: String },
    /// An app listener failed (an exception thrown in a callback).
    #[error("{reason}")]
    Listener { reason: String, reason_fr: String },
}

impl CarnetError {
    pub(crate) fn invalid(reason: impl Into<String>, reason_fr: impl Into<String>) -> Self {
        CarnetError::Invalid {
            reason: reason.into(),
            reason_fr: reason_fr.into(),
        }
    }

    pub(crate) fn not_found(what: &str) -> Self {
        CarnetError::NotFound {
            reason: format!("{what} {}", Label::NotFoundHere.text(Lang::En)),
            reason_fr: format!("{what} {}", Label::NotFoundHere.text(Lang::Fr)),
        }
    }

    pub(crate) fn not_logged_in() -> Self {
        CarnetError::NotLoggedIn {
            reason: Label::NotLoggedIn.text(Lang::En).into(),
            reason_fr: Label::NotLoggedIn.text(Lang::Fr).into(),
        }
    }

    pub(crate) fn storage(label: Label) -> Self {
        CarnetError::Storage {
            reason: label.text(Lang::En).into(),
            reason_fr: label.text(Lang::Fr).into(),
        }
    }

    pub(crate) fn network(detail: impl std::fmt::Display) -> Self {
        let (reason, reason_fr) = both(Label::NetworkDown, detail);
        CarnetError::Network { reason, reason_fr }
    }
}

impl From<ValidationError> for CarnetError {
    fn from(e: ValidationError) -> Self {
        CarnetError::Invalid {
            reason: e.to_string(),
            reason_fr: e.message_fr(),
        }
    }
}

impl From<StoreError> for CarnetError {
    fn from(e: StoreError) -> Self {
        let (reason, reason_fr) = both(Label::LocalStorage, e);
        CarnetError::Storage { reason, reason_fr }
    }
}

impl From<CoreError> for CarnetError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Invalid(v) => v.into(),
            CoreError::Store(s) => s.into(),
            CoreError::DocNotFound(id) => CarnetError::not_found(&format!("document {id}")),
            CoreError::RecordNotFound(id) => CarnetError::not_found(&format!("record {id}")),
            CoreError::NotInitialised => CarnetError::not_logged_in(),
            CoreError::AlreadyInitialised => CarnetError::storage(Label::StoreExists),
            CoreError::WrongKind {
                doc,
                expected,
                found,
            } => CarnetError::NotFound {
                reason: format!("{doc} {} {expected} ({found})", Label::NotA.text(Lang::En)),
                reason_fr: format!("{doc} {} {expected} ({found})", Label::NotA.text(Lang::Fr)),
            },
            e @ (CoreError::CorruptDoc { .. } | CoreError::Automerge(_)) => CarnetError::Storage {
                reason: e.to_string(),
                reason_fr: with_detail(Label::Unreadable, &e, Lang::Fr),
            },
            CoreError::Pdf(p) => CarnetError::Storage {
                reason: format!("PDF: {p}"),
                reason_fr: format!("PDF impossible à produire : {p}"),
            },
            CoreError::Export(p) => CarnetError::Storage {
                reason: format!("export: {p}"),
                reason_fr: format!("export impossible : {p}"),
            },
        }
    }
}

impl From<SyncError> for CarnetError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Core(c) => c.into(),
            SyncError::NotLinked => CarnetError::not_logged_in(),
            SyncError::Transport(t) => CarnetError::network(t),
            SyncError::Protocol(p) => {
                let (reason, reason_fr) = both(Label::ServerMisunderstood, p);
                CarnetError::Protocol { reason, reason_fr }
            }
            SyncError::Server { code, message } => match code {
                ErrorCode::Unauthorized => {
                    let (reason, reason_fr) = both(Label::ServerRefused, message);
                    CarnetError::Refused { reason, reason_fr }
                }
                ErrorCode::Internal => CarnetError::network(format!("server error: {message}")),
                _ => {
                    let (reason, reason_fr) =
                        both(Label::ServerRefusedFrame, format!("{message} ({code:?})"));
                    CarnetError::Protocol { reason, reason_fr }
                }
            },
        }
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for CarnetError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        let (reason, reason_fr) = both(Label::AppFailed, &e.reason);
        CarnetError::Listener { reason, reason_fr }
    }
}

pub type Result<T, E = CarnetError> = std::result::Result<T, E>;
