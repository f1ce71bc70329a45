//! Every text a user reads, in one catalogue: French first, English
//! available. Keys are the variants of `Label`, so a missing or misspelt key
//! does not compile; each variant carries both languages, so no language
//! can lack one. Amounts and dates are formatted here too (CLDR rules
//! through `num-format`): `24 630,00 €` and `30/11/2026` in French,
//! `€24,630.00` and `2026-11-30` in English. Messages of refused input
//! (`ValidationError::message`) are here too.

use chrono::NaiveDate;
use num_format::{Locale, ToFormattedString};

use crate::error::ValidationError;

/// The language of what a user reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Lang {
    #[default]
    Fr,
    En,
}

impl Lang {
    /// Its BCP 47 tag: `fr-FR`, `en-GB`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr-FR",
            Lang::En => "en-GB",
        }
    }
}

impl std::str::FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> Result<Lang, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fr" | "fr-fr" | "fr_fr" => Ok(Lang::Fr),
            "en" | "en-gb" | "en-us" | "en_gb" | "en_us" => Ok(Lang::En),
            other => Err(format!("unknown language {other:?} (fr or en)")),
        }
    }
}

/// A signed amount in cents: `2463000` → `24 630,00 €` (fr), `€24,630.00`
/// (en). Currencies other than the euro are written after, with their code.
pub fn amount(cents: i64, currency: &str, lang: Lang) -> String {
    let number = decimal(cents, lang);
    match (lang, currency) {
        (Lang::Fr, "EUR") => format!("{number}\u{a0}€"),
        (Lang::En, "EUR") => match number.strip_prefix('-') {
            Some(n) => format!("-€{n}"),
            None => format!("€{number}"),
        },
        (_, code) => format!("{number}\u{a0}{code}"),
    }
}

/// Cents as a grouped decimal number without a currency: `24 630,00`.
pub fn decimal(cents: i64, lang: Lang) -> String {
    let locale = match lang {
        Lang::Fr => &Locale::fr,
        Lang::En => &Locale::en,
    };
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    let units = (abs / 100).to_formatted_string(locale);
    let point = match lang {
        Lang::Fr => ',',
        Lang::En => '.',
    };
    format!("{sign}{units}{point}{:02}", abs % 100)
}

/// A rate or percentage as typed in French or English: `5.5` → `5,5`.
pub fn rate(text: &str, lang: Lang) -> String {
    match lang {
        Lang::Fr => text.replace('.', ","),
        Lang::En => text.to_string(),
    }
}

/// A calendar date: `30/11/2026` (fr), `2026-11-30` (en).
/// A share in 0..=1 as a percentage with one decimal: `12,3 %`.
pub fn share(x: f64, lang: Lang) -> String {
    format!("{}\u{a0}%", rate(&format!("{:.1}", x * 100.0), lang))
}

pub fn date(d: NaiveDate, lang: Lang) -> String {
    match lang {
        Lang::Fr => d.format("%d/%m/%Y").to_string(),
        Lang::En => d.format("%Y-%m-%d").to_string(),
    }
}

/// A moment (Unix seconds, shown in UTC): `30/11/2026 14:05`.
pub fn date_time(unix: i64, lang: Lang) -> String {
    let Some(t) = chrono::DateTime::from_timestamp(unix, 0) else {
        return String::new();
    };
    match lang {
        Lang::Fr => t.format("%d/%m/%Y %H:%M").to_string(),
        Lang::En => t.format("%Y-%m-%d %H:%M").to_string(),
    }
}

macro_rules! labels {
    ($($key:ident => ($fr:expr, $en:expr),)*) => {
        /// The catalogue's keys.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Label {
            $($key,)*
        }

        impl Label {
            pub fn text(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $(
                        (Label::$key, Lang::Fr) => $fr,
                        (Label::$key, Lang::En) => $en,
                    )*
                }
            }
        }
    };
}

labels! {
    // ----- records and their fields
    Name => ("Nom", "Name"),
    Status => ("Statut", "Status"),
    City => ("Ville", "City"),
    Postcode => ("CP", "Postcode"),
    Owner => ("Responsable", "Owner"),
    Due => ("Échéance", "Due"),
    Type => ("Type", "Type"),
    Subject => ("Objet", "Subject"),
    Account => ("Client", "Account"),
    Late => ("Retard", "Late"),
    DaysShort => ("j", "d"),
    Stage => ("Étape", "Stage"),
    Count => ("Nb", "Count"),
    Amount => ("Montant", "Amount"),
    Weighted => ("Pondéré", "Weighted"),
    Prob => ("Proba.", "Prob."),
    Month => ("Mois", "Month"),
    Won => ("Gagné", "Won"),
    TotalOpen => ("Total en cours", "Open total"),
    PastClose => ("Date dépassée", "Past close date"),
    Undated => ("Sans date", "Undated"),
    Contacts => ("Contacts", "Contacts"),
    Deals => ("Affaires", "Deals"),
    Actions => ("Relances", "Actions"),
    Notes => ("Notes", "Notes"),
    Quotes => ("Devis", "Quotes"),
    Orders => ("Commandes", "Orders"),
    Expectations => ("Attentes", "Expectations"),
    Custom => ("Champs libres", "Custom fields"),
    Tags => ("Étiquettes", "Tags"),
    Done => ("fait", "done"),
    Open => ("à faire", "open"),
    LineLabel => ("Désignation", "Label"),
    Qty => ("Qté", "Qty"),
    UnitPrice => ("PU HT", "Unit price"),
    Discount => ("Remise %", "Disc. %"),
    Vat => ("TVA %", "VAT %"),
    Net => ("Total HT", "Net"),
    TotalNet => ("Total HT", "Total excl. VAT"),
    TotalVat => ("Total TVA", "Total VAT"),
    TotalGross => ("Total TTC", "Total incl. VAT"),
    VatAt => ("TVA à", "VAT at"),
    Provisional => ("(numéro provisoire)", "(provisional number)"),
    Target => ("Objectif", "Target"),
    Actual => ("Réalisé", "Actual"),
    Variance => ("Écart", "Variance"),
    Attainment => ("Atteinte", "Attainment"),
    NoTarget => ("aucun objectif", "no target"),
    Commission => ("Commission", "Commission"),
    TierFrom => ("À partir de", "From"),
    Rate => ("Taux", "Rate"),
    Base => ("Assiette", "Base"),
    Revenue => ("CA HT", "Revenue"),
    Who => ("Qui", "Who"),
    When => ("Quand", "When"),
    Field => ("Champ", "Field"),
    Before => ("Avant", "Before"),
    After => ("Après", "After"),
    Shown => ("affichée", "shown"),
    ConflictIn => ("Conflit", "Conflict"),
    Phone => ("Tél.", "Phone"),
    Email => ("E-mail", "Email"),
    Role => ("Fonction", "Role"),
    Close => ("Clôture", "Close"),
    Date => ("Date", "Date"),
    Number => ("Numéro", "Number"),
    Sku => ("Réf.", "SKU"),
    Price => ("Prix HT", "Price"),
    Code => ("Code", "Code"),
    Outbox => ("Boîte d'envoi", "Outbox"),
    Recipient => ("Destinataire", "To"),
    Attempts => ("Tentatives", "Attempts"),
    Detail => ("Détail", "Detail"),
    OutboxEmpty => ("Aucun message.", "No messages."),
    // ----- lists and reports
    NothingTodo => ("Rien à faire d'ici là.", "Nothing due by then."),
    NoAccounts => ("Aucun client.", "No accounts."),
    NoConflicts => ("Aucun conflit.", "No conflicts."),
    // ----- sync
    Server => ("Serveur", "Server"),
    OfflineOnly => ("aucun (hors ligne)", "none (offline only)"),
    Pending => ("Modifications en attente", "Pending changes"),
    LastAck => ("Dernier accusé du serveur", "Last server ack"),
    Refused => ("Refusé", "Refused"),
    LoggedIn => ("Connecté", "Logged in"),
    AsUser => ("en tant que", "as"),
    ThisDevice => ("appareil", "device"),
    FirstSyncHint => (
        "Lancez `carnet sync` pour recevoir vos dossiers clients.",
        "Run `carnet sync` to receive your customer files."
    ),
    SyncedUpToDate => ("Synchronisé", "Synchronised"),
    FilesReceived => ("dossier(s) reçu(s) ou modifié(s)", "file(s) received or changed"),
    FilesPending => ("en attente d'envoi", "waiting to be sent"),
    Reverted => (
        "modifications refusées annulées ; la prochaine synchronisation rapporte la copie du serveur",
        "refused changes dropped; the next sync brings the server's copy back"
    ),
    // ----- errors the apps show
    NotLoggedIn => (
        "cet appareil n'est connecté à aucun serveur Carnet",
        "this device is not logged in to a Carnet server"
    ),
    AlreadyLoggedIn => ("cet appareil est déjà connecté", "this device is already logged in"),
    StoreExists => (
        "ce dossier contient déjà des données Carnet",
        "a store already exists in this directory"
    ),
    StoreHere => (
        "contient déjà un dossier local ; connectez-vous avec un autre --store",
        "already holds a store; log in with a new --store directory"
    ),
    SyncInterrupted => (
        "synchronisation interrompue, nouvelle tentative",
        "sync interrupted, retrying"
    ),
    RefusedByServer => ("refusé par le serveur", "refused by the server"),
    DocsRefused => ("document(s) refusé(s) par le serveur", "document(s) refused by the server"),
    NotA => ("n'est pas un(e)", "is not a"),
    NotFoundHere => ("introuvable sur cet appareil", "not found on this device"),
    NothingToRevert => ("n'a pas de modification refusée à annuler", "has no refused changes to revert"),
    NetworkDown => ("réseau indisponible", "network"),
    ServerRefused => (
        "le serveur refuse la connexion (identifiants ou appareil révoqué)",
        "the server refused"
    ),
    ServerRefusedFrame => ("le serveur a refusé un message", "the server refused a frame"),
    ServerMisunderstood => ("réponse du serveur incomprise", "protocol"),
    LocalStorage => ("stockage local", "local store"),
    Unreadable => ("document illisible", "unreadable document"),
    AppFailed => ("erreur dans l'application", "listener failed"),
    SyncStartFailed => ("impossible de démarrer la synchronisation", "cannot start the sync runtime"),
}

/// A quote's status as people read it ("brouillon", not `draft`); an
/// unknown code reads as itself.
pub fn quote_status(code: &str, lang: Lang) -> &str {
    let (fr, en) = match code {
        "draft" => ("brouillon", "draft"),
        "sent" => ("envoyé", "sent"),
        "accepted" => ("accepté", "accepted"),
        "refused" => ("refusé", "refused"),
        "expired" => ("expiré", "expired"),
        "superseded" => ("remplacé par une révision", "superseded by a revision"),
        _ => return code,
    };
    match lang {
        Lang::Fr => fr,
        Lang::En => en,
    }
}

/// An outbox message's status as people read it ("envoyé", not `sent`).
pub fn email_status(code: &str, lang: Lang) -> &str {
    let (fr, en) = match code {
        "queued" => ("en attente d'envoi", "waiting to be sent"),
        "sent" => ("envoyé", "sent"),
        "failed" => ("échec de l'envoi", "sending failed"),
        _ => return code,
    };
    match lang {
        Lang::Fr => fr,
        Lang::En => en,
    }
}

/// An account's status as people read it.
pub fn account_status(code: &str, lang: Lang) -> &str {
    let (fr, en) = match code {
        "prospect" => ("prospect", "prospect"),
        "client" => ("client", "customer"),
        "former" => ("ancien client", "former customer"),
        _ => return code,
    };
    match lang {
        Lang::Fr => fr,
        Lang::En => en,
    }
}

/// An order's status as people read it ("confirmée", not `confirmed`).
pub fn order_status(code: &str, lang: Lang) -> &str {
    let (fr, en) = match code {
        "confirmed" => ("confirmée", "confirmed"),
        "delivered" => ("livrée", "delivered"),
        "invoiced" => ("facturée", "invoiced"),
        "cancelled" => ("annulée", "cancelled"),
        _ => return code,
    };
    match lang {
        Lang::Fr => fr,
        Lang::En => en,
    }
}

/// A label followed by a detail: `réseau indisponible : détail` (French
/// puts a space before the colon), `network: detail`.
pub fn with_detail(label: Label, detail: impl std::fmt::Display, lang: Lang) -> String {
    with_detail_of(label.text(lang), detail, lang)
}

/// `with_detail` for a composed text.
pub fn with_detail_of(text: &str, detail: impl std::fmt::Display, lang: Lang) -> String {
    match lang {
        Lang::Fr => format!("{text} : {detail}"),
        Lang::En => format!("{text}: {detail}"),
    }
}

/// Messages of refused input: English is the error's `Display`, French is
/// here, beside every other text a user reads.
impl ValidationError {
    /// The message in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        match lang {
            Lang::Fr => self.message_fr(),
            Lang::En => self.to_string(),
        }
    }

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
            MissingMentions { quote, missing } => format!(
                "le devis {quote} ne peut pas être envoyé, il manque : {}",
                crate::legal::list(missing, Lang::Fr)
            ),
            OptedOut { to, who } => {
                format!("{who} ({to}) a refusé la prospection par e-mail : rien n'est envoyé")
            }
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
            BadBlob(v) => format!("{v:?} n'est pas un document de la bibliothèque"),
            NoNameColumn { headers } => format!(
                "aucune colonne ne donne la raison sociale (en-têtes : {headers}) : indiquez laquelle"
            ),
            Csv { line, problem } => {
                use crate::error::CsvProblem as P;
                let at = line.map(|l| format!("ligne {l} : ")).unwrap_or_default();
                let what = match problem {
                    P::Empty => "le fichier est vide : pas de ligne d'en-têtes".to_string(),
                    P::Io(e) => format!("le fichier ne peut pas être lu : {e}"),
                    P::RowTooLong(max) => format!(
                        "une ligne dépasse {} Mo (un guillemet jamais refermé ?)",
                        max / (1024 * 1024)
                    ),
                    P::TooManyColumns { found, max } => {
                        format!("{found} colonnes, {max} au plus")
                    }
                    P::Unreadable(e) => format!("CSV illisible ({e})"),
                };
                format!("{at}{what}")
            }
            UnknownField { path, what } => format!("champ inconnu {path:?} pour {what}"),
            ReadOnly { field } => format!("{field} : en lecture seule"),
            Rule(m) => m.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_dates_read_as_in_france() {
        assert_eq!(
            amount(2_463_000, "EUR", Lang::Fr),
            "24\u{202f}630,00\u{a0}€"
        );
        assert_eq!(amount(2_463_000, "EUR", Lang::En), "€24,630.00");
        assert_eq!(amount(-5, "EUR", Lang::Fr), "-0,05\u{a0}€");
        assert_eq!(amount(-123_456, "EUR", Lang::En), "-€1,234.56");
        assert_eq!(amount(100, "CHF", Lang::Fr), "1,00\u{a0}CHF");
        let d = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        assert_eq!(date(d, Lang::Fr), "30/11/2026");
        assert_eq!(date(d, Lang::En), "2026-11-30");
        assert_eq!(rate("5.5", Lang::Fr), "5,5");
        assert_eq!(share(0.12345, Lang::Fr), "12,3\u{a0}%");
        assert_eq!(share(1.0, Lang::En), "100.0\u{a0}%");
    }

    #[test]
    fn every_label_has_both_languages() {
        for l in [Label::Name, Label::TotalGross, Label::NotLoggedIn] {
            assert!(!l.text(Lang::Fr).is_empty() && !l.text(Lang::En).is_empty());
            assert_ne!(l.text(Lang::Fr), l.text(Lang::En));
        }
    }
}
