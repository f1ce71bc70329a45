//! Identifiers. Every document and every record inside a document is keyed by
//! a UUID made on the device, so two offline inserts never collide.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ValidationError;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh random id.
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s.trim())
                    .map(Self)
                    .map_err(|_| ValidationError::BadId(s.to_string()))
            }
        }
    };
}

uuid_id!(
    /// The id of one Automerge document (a customer file, the settings, ...).
    DocId
);
uuid_id!(
    /// The id of a record inside a document (a contact, a deal, a quote line, ...).
    RecordId
);

/// What a document holds; see DESIGN.md "Documents".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocKind {
    /// One customer file ("dossier client").
    Account,
    /// Users, roles, teams, territories.
    Directory,
    /// Company identity, pipeline stages, action types, VAT rates, ...
    Settings,
    /// Products and services.
    Catalog,
    /// One rep's targets and commission plan (`plan:<user>`).
    Plan,
    /// Documents pushed to reps (metadata only).
    Library,
}

impl DocKind {
    pub const ALL: [DocKind; 6] = [
        DocKind::Account,
        DocKind::Directory,
        DocKind::Settings,
        DocKind::Catalog,
        DocKind::Plan,
        DocKind::Library,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Account => "account",
            DocKind::Directory => "directory",
            DocKind::Settings => "settings",
            DocKind::Catalog => "catalog",
            DocKind::Plan => "plan",
            DocKind::Library => "library",
        }
    }

    pub fn parse(s: &str) -> Option<DocKind> {
        DocKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for DocKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
