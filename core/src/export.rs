//! Lists handed to a spreadsheet: customer files as CSV (semicolons, a
//! BOM, formula-like cells defused), with headers `import` reads back, so
//! an export re-imports into the same files. A mailing list leaves out
//! the addresses mail came back from ("NPAI"); an emailing list the
//! bounced addresses and those who refused prospecting email.

use crate::accounting::{cell, spreadsheet_writer};
use crate::model::AccountFile;
use crate::text::{account_status, Lang};

/// Who a list is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Every file, one row per contact (a file without one: one row).
    All,
    /// Postal mailing: one row per file with an address, NPAI left out.
    Mailing,
    /// Emailing: one row per file with an email, bounced and refused left out.
    Emailing,
}

impl std::str::FromStr for Audience {
    type Err = crate::ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "all" => Ok(Audience::All),
            "mailing" => Ok(Audience::Mailing),
            "emailing" => Ok(Audience::Emailing),
            other => Err(crate::ValidationError::NotAllowed {
                field: "audience".into(),
                value: other.into(),
                allowed: "all, mailing, emailing".into(),
            }),
        }
    }
}

pub const HEADER: [&str; 18] = [
    "Raison sociale",
    "SIRET",
    "SIREN",
    "TVA intracommunautaire",
    "Adresse",
    "Complément d'adresse",
    "Code postal",
    "Ville",
    "Pays",
    "Téléphone",
    "E-mail",
    "Site web",
    "Statut",
    "Commercial",
    "Contact",
    "Fonction",
    "Mobile",
    "E-mail contact",
];

/// Whether a file belongs on the list.
pub fn wanted(f: &AccountFile, audience: Audience) -> bool {
    let a = &f.account;
    match audience {
        Audience::All => true,
        Audience::Mailing => {
            !a.returned_mail && (a.address_line1.is_some() || a.postcode.is_some())
        }
        Audience::Emailing => a.email.is_some() && !a.email_bounced && !a.refused_email,
    }
}

/// The files as CSV, in the order given.
pub fn accounts_csv(files: &[AccountFile], audience: Audience) -> crate::Result<Vec<u8>> {
    let mut w = spreadsheet_writer();
    let fail = |e: csv::Error| crate::CoreError::Export(e.to_string());
    w.write_record(HEADER).map_err(fail)?;
    for f in files.iter().filter(|f| wanted(f, audience)) {
        let a = &f.account;
        let o = |v: &Option<String>| cell(v.as_deref().unwrap_or(""));
        let base = [
            cell(&a.name),
            o(&a.siret),
            // The SIREN of a file with a SIRET is implied by it.
            if a.siret.is_some() {
                String::new()
            } else {
                o(&a.siren)
            },
            o(&a.vat_number),
            o(&a.address_line1),
            o(&a.address_line2),
            o(&a.postcode),
            o(&a.city),
            o(&a.country),
            o(&a.phone),
            o(&a.email),
            o(&a.website),
            // In words the import reads back ("ancien client" for `former`).
            account_status(&a.status, Lang::Fr).to_string(),
            cell(&a.owner),
        ];
        let contacts: Vec<_> = match audience {
            Audience::All => f.contacts.iter().collect(),
            _ => f.contacts.iter().take(1).collect(),
        };
        if contacts.is_empty() {
            let row: Vec<String> = base
                .iter()
                .cloned()
                .chain([""; 4].map(String::from))
                .collect();
            w.write_record(&row).map_err(fail)?;
        }
        for c in contacts {
            let row: Vec<String> = base
                .iter()
                .cloned()
                .chain([cell(&c.name), o(&c.role), o(&c.mobile), o(&c.email)])
                .collect();
            w.write_record(&row).map_err(fail)?;
        }
    }
    w.into_inner()
        .map_err(|e| crate::CoreError::Export(e.to_string()))
}
