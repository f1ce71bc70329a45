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
            /// A fresh id: a version 7 UUID, the time in milliseconds
            /// then 74 random bits (no counter, so ids made in the same
            /// millisecond do not follow from one another). Time-ordered,
            /// new ids land at the end of a store's key space, where its
            /// pages are already in memory.
            pub fn new() -> Self {
                Self(Uuid::new_v7(uuid::Timestamp::now(uuid::NoContext)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_time_ordered_with_74_random_bits() {
        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let ids: Vec<DocId> = (0..64).map(|_| DocId::new()).collect();
        let millis =
            |id: &DocId| u64::from_be_bytes(id.0.as_bytes()[..8].try_into().unwrap()) >> 16;
        for w in ids.windows(2) {
            assert_eq!(w[0].0.get_version_num(), 7);
            assert!(millis(&w[0]) <= millis(&w[1]));
            assert!(millis(&w[0]) >= before && millis(&w[0]) < before + 60_000);
        }
        // No counter: ids made in one millisecond share no sequence (the 64
        // low bits, all random, never follow one another).
        let low = |id: &DocId| u64::from_be_bytes(id.0.as_bytes()[8..].try_into().unwrap());
        for w in ids.windows(2) {
            assert!(low(&w[1]).wrapping_sub(low(&w[0])) > 1 << 16);
        }
    }
}
