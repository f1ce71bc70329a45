//! The one error type the apps see. Kotlin gets `CarnetException.<Variant>`,
//! Swift `CarnetError.<variant>`; each carries `reason` (English) and
//! `reason_fr` (French, shown to reps first).

use carnet_core::error::{CoreError, StoreError, ValidationError};
use carnet_core::sync::frame::ErrorCode;
use carnet_core::sync::SyncError;

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
            reason: format!("{what} not found on this device"),
            reason_fr: format!("{what} introuvable sur cet appareil"),
        }
    }

    pub(crate) fn not_logged_in() -> Self {
        CarnetError::NotLoggedIn {
            reason: "this device is not logged in to a Carnet server".into(),
            reason_fr: "cet appareil n'est connecté à aucun serveur Carnet".into(),
        }
    }

    pub(crate) fn network(detail: impl std::fmt::Display) -> Self {
        CarnetError::Network {
            reason: format!("network: {detail}"),
            reason_fr: format!("réseau indisponible : {detail}"),
        }
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
        CarnetError::Storage {
            reason: format!("local store: {e}"),
            reason_fr: format!("stockage local : {e}"),
        }
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
            CoreError::AlreadyInitialised => CarnetError::Storage {
                reason: "a store already exists in this directory".into(),
                reason_fr: "ce dossier contient déjà des données Carnet".into(),
            },
            CoreError::WrongKind {
                doc,
                expected,
                found,
            } => CarnetError::NotFound {
                reason: format!("{doc} is a {found}, not a {expected}"),
                reason_fr: format!("{doc} n'est pas un(e) {expected} (c'est un(e) {found})"),
            },
            e @ (CoreError::CorruptDoc { .. } | CoreError::Automerge(_)) => CarnetError::Storage {
                reason: e.to_string(),
                reason_fr: format!("document illisible : {e}"),
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
            SyncError::Protocol(p) => CarnetError::Protocol {
                reason_fr: format!("réponse du serveur incomprise : {p}"),
                reason: format!("protocol: {p}"),
            },
            SyncError::Server { code, message } => match code {
                ErrorCode::Unauthorized => CarnetError::Refused {
                    reason: format!("the server refused: {message}"),
                    reason_fr: format!(
                        "le serveur refuse la connexion (identifiants ou appareil révoqué) : {message}"
                    ),
                },
                ErrorCode::Internal => CarnetError::network(format!("server error: {message}")),
                _ => CarnetError::Protocol {
                    reason: format!("the server refused a frame: {message} ({code:?})"),
                    reason_fr: format!("le serveur a refusé un message : {message}"),
                },
            },
        }
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for CarnetError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        CarnetError::Listener {
            reason: format!("listener failed: {}", e.reason),
            reason_fr: format!("erreur dans l'application : {}", e.reason),
        }
    }
}

pub type Result<T, E = CarnetError> = std::result::Result<T, E>;
