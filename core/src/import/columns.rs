//! Which column holds what: headers recognized from common French and
//! English spreadsheets and from INSEE's SIRENE establishment file, with
//! overrides a user saves (`Overrides`, header → target).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{Result, ValidationError};
use crate::index::fold;

/// Where a column's value goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Target {
    /// An account field (schema name). Several `address_line1` columns
    /// (SIRENE's number, type and street name) are joined with spaces.
    Account(&'static str),
    /// A contact field: `name`, `first_name`, `last_name`, `role`,
    /// `phone`, `mobile`, `email`.
    Contact(&'static str),
}

impl Target {
    /// As written in a mapping file: `name`, `contact.role`, ...
    pub fn code(self) -> String {
        match self {
            Target::Account(f) => f.to_string(),
            Target::Contact(f) => format!("contact.{f}"),
        }
    }

    pub fn parse(code: &str) -> Option<Target> {
        let code = code.trim();
        if let Some(f) = code.strip_prefix("contact.") {
            return CONTACT_FIELDS
                .iter()
                .find(|c| **c == f)
                .map(|c| Target::Contact(c));
        }
        ACCOUNT_FIELDS
            .iter()
            .find(|c| **c == code)
            .map(|c| Target::Account(c))
    }
}

pub const ACCOUNT_FIELDS: &[&str] = &[
    "name",
    "kind",
    "status",
    "siret",
    "siren",
    "vat_number",
    "naf",
    "tags",
    "address_line1",
    "address_line2",
    "postcode",
    "city",
    "country",
    "phone",
    "email",
    "website",
    "owner",
    "source",
];
pub const CONTACT_FIELDS: &[&str] = &[
    "name",
    "first_name",
    "last_name",
    "role",
    "phone",
    "mobile",
    "email",
];

/// Headers, folded to lowercase ASCII letters and digits, and their target.
/// Account names come in order of preference: the first one present is the
/// name, and a plain "Nom" beside a company name is the contact's.
const NAMES: &[&str] = &[
    "raisonsociale",
    "societe",
    "entreprise",
    "nomsociete",
    "nomentreprise",
    "denomination",
    "denominationunitelegale",
    "denominationusuelleetablissement",
    "company",
    "companyname",
    "accountname",
    "organisation",
    "organization",
    "client",
    "enseigne1etablissement",
    "enseigne",
    "nom",
    "name",
];

const HEADERS: &[(&str, Target)] = &[
    ("siret", Target::Account("siret")),
    ("numerosiret", Target::Account("siret")),
    ("siren", Target::Account("siren")),
    ("tvaintracommunautaire", Target::Account("vat_number")),
    ("numerotva", Target::Account("vat_number")),
    ("ntva", Target::Account("vat_number")),
    ("tva", Target::Account("vat_number")),
    ("vat", Target::Account("vat_number")),
    ("vatnumber", Target::Account("vat_number")),
    ("naf", Target::Account("naf")),
    ("codenaf", Target::Account("naf")),
    ("ape", Target::Account("naf")),
    ("codeape", Target::Account("naf")),
    ("activiteprincipaleetablissement", Target::Account("naf")),
    ("adresse", Target::Account("address_line1")),
    ("adresse1", Target::Account("address_line1")),
    ("adresseligne1", Target::Account("address_line1")),
    ("rue", Target::Account("address_line1")),
    ("voie", Target::Account("address_line1")),
    ("address", Target::Account("address_line1")),
    ("address1", Target::Account("address_line1")),
    ("street", Target::Account("address_line1")),
    ("numerovoieetablissement", Target::Account("address_line1")),
    (
        "indicerepetitionetablissement",
        Target::Account("address_line1"),
    ),
    ("typevoieetablissement", Target::Account("address_line1")),
    ("libellevoieetablissement", Target::Account("address_line1")),
    ("adresse2", Target::Account("address_line2")),
    ("adresseligne2", Target::Account("address_line2")),
    ("complementadresse", Target::Account("address_line2")),
    ("complementdadresse", Target::Account("address_line2")),
    ("address2", Target::Account("address_line2")),
    (
        "complementadresseetablissement",
        Target::Account("address_line2"),
    ),
    ("cp", Target::Account("postcode")),
    ("codepostal", Target::Account("postcode")),
    ("postcode", Target::Account("postcode")),
    ("postalcode", Target::Account("postcode")),
    ("zip", Target::Account("postcode")),
    ("zipcode", Target::Account("postcode")),
    ("codepostaletablissement", Target::Account("postcode")),
    ("ville", Target::Account("city")),
    ("commune", Target::Account("city")),
    ("localite", Target::Account("city")),
    ("city", Target::Account("city")),
    ("town", Target::Account("city")),
    ("libellecommuneetablissement", Target::Account("city")),
    ("pays", Target::Account("country")),
    ("country", Target::Account("country")),
    ("telephone", Target::Account("phone")),
    ("tel", Target::Account("phone")),
    ("telfixe", Target::Account("phone")),
    ("standard", Target::Account("phone")),
    ("phone", Target::Account("phone")),
    ("email", Target::Account("email")),
    ("mail", Target::Account("email")),
    ("courriel", Target::Account("email")),
    ("adresseemail", Target::Account("email")),
    ("adressemail", Target::Account("email")),
    ("emailaddress", Target::Account("email")),
    ("siteweb", Target::Account("website")),
    ("siteinternet", Target::Account("website")),
    ("site", Target::Account("website")),
    ("website", Target::Account("website")),
    ("web", Target::Account("website")),
    ("statut", Target::Account("status")),
    ("status", Target::Account("status")),
    ("tags", Target::Account("tags")),
    ("etiquettes", Target::Account("tags")),
    ("categorie", Target::Account("tags")),
    ("source", Target::Account("source")),
    ("origine", Target::Account("source")),
    ("commercial", Target::Account("owner")),
    ("owner", Target::Account("owner")),
    ("contact", Target::Contact("name")),
    ("nomcontact", Target::Contact("name")),
    ("nomducontact", Target::Contact("name")),
    ("contactname", Target::Contact("name")),
    ("interlocuteur", Target::Contact("name")),
    ("prenom", Target::Contact("first_name")),
    ("firstname", Target::Contact("first_name")),
    ("lastname", Target::Contact("last_name")),
    ("nomdefamille", Target::Contact("last_name")),
    ("fonction", Target::Contact("role")),
    ("poste", Target::Contact("role")),
    ("role", Target::Contact("role")),
    ("jobtitle", Target::Contact("role")),
    ("titre", Target::Contact("role")),
    ("mobile", Target::Contact("mobile")),
    ("portable", Target::Contact("mobile")),
    ("telportable", Target::Contact("mobile")),
    ("telmobile", Target::Contact("mobile")),
    ("gsm", Target::Contact("mobile")),
    ("emailcontact", Target::Contact("email")),
    ("contactemail", Target::Contact("email")),
    ("mailcontact", Target::Contact("email")),
    ("emailducontact", Target::Contact("email")),
    ("telcontact", Target::Contact("phone")),
    ("telephonecontact", Target::Contact("phone")),
    ("contactphone", Target::Contact("phone")),
    ("telephoneducontact", Target::Contact("phone")),
];

/// A header as compared: "Code postal" → "codepostal", "Tél." → "tel".
pub fn header_key(h: &str) -> String {
    fold(h)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect()
}

/// A saved mapping: header (as in the file) → target code, or `""` /
/// `"ignore"` to leave a column out.
pub type Overrides = BTreeMap<String, String>;

/// The target of each column (`None`: ignored).
#[derive(Clone, Debug, PartialEq)]
pub struct Mapping {
    pub columns: Vec<Option<Target>>,
}

/// One column and where it goes, for the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ColumnUse {
    pub header: String,
    /// Target code, `None` when ignored.
    pub field: Option<String>,
}

impl Mapping {
    /// The columns of an import of accounts: `recognize`, and one of them
    /// must give the account's name.
    pub fn detect(headers: &[String], overrides: &Overrides) -> Result<Mapping> {
        let mapping = Mapping::recognize(headers, overrides)?;
        if !mapping.columns.contains(&Some(Target::Account("name"))) {
            return Err(ValidationError::NoNameColumn {
                headers: headers.join(", "),
            }
            .into());
        }
        Ok(mapping)
    }

    /// Each header's target, from the known headers and `overrides`, with
    /// no column required (a list of returned mail may hold only emails).
    pub fn recognize(headers: &[String], overrides: &Overrides) -> Result<Mapping> {
        let keys: Vec<String> = headers.iter().map(|h| header_key(h)).collect();
        let name_col = NAMES.iter().find_map(|n| keys.iter().position(|k| k == n));
        let mut columns: Vec<Option<Target>> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                if Some(i) == name_col {
                    return Some(Target::Account("name"));
                }
                if NAMES.contains(&k.as_str()) {
                    // A second name column: "Nom" beside "Raison sociale" is
                    // the contact's surname; the others are left out.
                    return matches!(k.as_str(), "nom" | "name")
                        .then_some(Target::Contact("last_name"));
                }
                HEADERS.iter().find(|(h, _)| h == k).map(|(_, t)| *t)
            })
            .collect();
        for (header, code) in overrides {
            let Some(i) = headers
                .iter()
                .position(|h| h.trim() == header.trim())
                .or_else(|| keys.iter().position(|k| *k == header_key(header)))
            else {
                continue;
            };
            columns[i] = match code.trim() {
                "" | "ignore" => None,
                c => Some(Target::parse(c).ok_or_else(|| {
                    ValidationError::Rule(format!(
                        "mapping: {c:?} (column {header:?}) is not a field; fields: {}, contact.{}",
                        ACCOUNT_FIELDS.join(", "),
                        CONTACT_FIELDS.join(", contact.")
                    ))
                })?),
            };
        }
        Ok(Mapping { columns })
    }

    pub fn uses(&self, headers: &[String]) -> Vec<ColumnUse> {
        headers
            .iter()
            .zip(&self.columns)
            .map(|(h, t)| ColumnUse {
                header: h.clone(),
                field: t.map(Target::code),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(headers: &[&str], overrides: &[(&str, &str)]) -> Result<Vec<Option<String>>> {
        let h: Vec<String> = headers.iter().map(|s| s.to_string()).collect();
        let o: Overrides = overrides
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        Ok(Mapping::detect(&h, &o)?
            .columns
            .into_iter()
            .map(|t| t.map(Target::code))
            .collect())
    }

    #[test]
    fn french_english_and_sirene_headers_are_recognized() {
        let got = detect(
            &[
                "Raison sociale",
                "Nom",
                "Prénom",
                "Tél.",
                "E-mail",
                "CP",
                "Fonction",
                "Divers",
            ],
            &[],
        )
        .unwrap();
        let want = [
            Some("name"),
            Some("contact.last_name"),
            Some("contact.first_name"),
            Some("phone"),
            Some("email"),
            Some("postcode"),
            Some("contact.role"),
            None,
        ];
        assert_eq!(got, want.map(|w| w.map(String::from)));
        let sirene = detect(
            &[
                "siret",
                "enseigne1Etablissement",
                "numeroVoieEtablissement",
                "typeVoieEtablissement",
                "libelleVoieEtablissement",
                "codePostalEtablissement",
                "libelleCommuneEtablissement",
                "activitePrincipaleEtablissement",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(sirene[1].as_deref(), Some("name"));
        assert_eq!(sirene[2].as_deref(), Some("address_line1"));
        assert_eq!(sirene[4].as_deref(), Some("address_line1"));
        assert_eq!(sirene[7].as_deref(), Some("naf"));
        assert_eq!(
            detect(&["Company", "Zip"], &[]).unwrap()[1].as_deref(),
            Some("postcode")
        );
    }

    #[test]
    fn overrides_win_and_are_checked() {
        let got = detect(
            &["Client", "Divers", "Tél."],
            &[("Divers", "contact.role"), ("Tél.", "ignore")],
        )
        .unwrap();
        assert_eq!(got[1].as_deref(), Some("contact.role"));
        assert_eq!(got[2], None);
        assert!(detect(&["Client"], &[("Client", "nonsense")]).is_err());
        let err = detect(&["Ville", "CP"], &[]).unwrap_err().to_string();
        assert!(err.contains("name"), "{err}");
    }
}
