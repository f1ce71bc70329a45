//! The marketing library ("documents commerciaux"): brochures, price lists
//! and presentations that managers push to reps. The `library` document
//! holds their metadata; the bytes are content-addressed blobs (SHA-256)
//! the server keeps beside the tenant and serves at `/blobs/<sha>` to the
//! people an item targets.

use serde::Serialize;

use super::view::Rec;
use crate::doc::CrmDoc;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LibraryItem {
    pub id: String,
    pub title: String,
    /// SHA-256 of the bytes, 64 lowercase hex digits.
    pub blob: String,
    pub mime: String,
    pub file_name: String,
    pub size: i64,
    /// Territory names it targets (with `teams` empty: everyone).
    pub territories: Vec<String>,
    /// Managers whose teams it targets.
    pub teams: Vec<String>,
    pub updated_at: i64,
}

impl LibraryItem {
    pub fn read(o: Rec<'_>, id: String) -> LibraryItem {
        LibraryItem {
            title: o.string("title"),
            blob: o.string("blob"),
            mime: o
                .get_str("mime")
                .unwrap_or_else(|| "application/octet-stream".into()),
            file_name: o.string("file_name"),
            size: o.get_i64("size").unwrap_or(0),
            territories: o.get_tags("territories"),
            teams: o.get_tags("teams"),
            updated_at: o
                .get_i64("updated_at")
                .or_else(|| o.get_i64("created_at"))
                .unwrap_or(0),
            id,
        }
    }

    /// Every item of a library document, newest first.
    pub fn all(doc: &CrmDoc) -> Vec<LibraryItem> {
        let h = doc.hydrated();
        let mut items: Vec<LibraryItem> = Rec(&h)
            .records("items")
            .into_iter()
            .map(|(id, o)| LibraryItem::read(o, id))
            .filter(|i| is_sha256(&i.blob))
            .collect();
        items.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(a.id.cmp(&b.id)));
        items
    }

    /// Whether the item is for someone in these territories or teams
    /// (`None` manager: not in a team). Managers and admins see every
    /// item; the server decides who that is.
    pub fn targets(&self, territories: &[&str], manager: Option<&str>) -> bool {
        if self.territories.is_empty() && self.teams.is_empty() {
            return true;
        }
        self.territories
            .iter()
            .any(|t| territories.contains(&t.as_str()))
            || manager.is_some_and(|m| self.teams.iter().any(|t| t == m))
    }
}

/// A SHA-256 written as 64 lowercase hex digits: the only blob names.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
