//! vCard 3.0 and 4.0 (RFC 2426, RFC 6350) for contacts: what a phone's
//! address book or a mail client exports and imports. Written as 4.0;
//! read in either version, with folded lines, escapes and typed TEL
//! properties. Bounded: a card count, a line length and a total size.

use crate::error::ValidationError;

/// Cards in one file.
pub const MAX_CARDS: usize = 100_000;
/// Bytes in one file.
pub const MAX_BYTES: usize = 32 << 20;
/// Bytes in one unfolded property line.
pub const MAX_LINE: usize = 64 * 1024;

/// A contact as a vCard carries it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Card {
    pub uid: Option<String>,
    pub name: String,
    /// ORG: the company, to find the customer file.
    pub org: Option<String>,
    pub role: Option<String>,
    pub phone: Option<String>,
    pub mobile: Option<String>,
    pub email: Option<String>,
    pub notes: Option<String>,
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ',' => out.push_str("\\,"),
            ';' => out.push_str("\\;"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// `value` split at the separators that are not escaped.
fn split_unescaped(value: &str, sep: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut it = value.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => {
                out.last_mut().into_iter().for_each(|l| l.push('\\'));
                if let Some(n) = it.next() {
                    out.last_mut().into_iter().for_each(|l| l.push(n));
                }
            }
            c if c == sep => out.push(String::new()),
            c => out.last_mut().into_iter().for_each(|l| l.push(c)),
        }
    }
    out.into_iter().map(|p| unescape(&p)).collect()
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('n') | Some('N') => out.push('\n'),
                Some(o) => out.push(o),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Folds a content line at 75 octets, on character boundaries.
fn fold(line: &str, out: &mut String) {
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
}

/// The cards as one vCard 4.0 file.
pub fn write(cards: &[Card]) -> String {
    let mut out = String::new();
    for c in cards {
        out.push_str("BEGIN:VCARD\r\nVERSION:4.0\r\n");
        let mut prop = |k: &str, v: &str| fold(&format!("{k}:{v}"), &mut out);
        if let Some(u) = &c.uid {
            prop("UID", &escape(u));
        }
        prop("FN", &escape(&c.name));
        if let Some(o) = &c.org {
            prop("ORG", &escape(o));
        }
        if let Some(r) = &c.role {
            prop("TITLE", &escape(r));
        }
        if let Some(p) = &c.phone {
            prop("TEL;TYPE=work,voice;VALUE=uri", &format!("tel:{p}"));
        }
        if let Some(m) = &c.mobile {
            prop("TEL;TYPE=cell;VALUE=uri", &format!("tel:{m}"));
        }
        if let Some(e) = &c.email {
            prop("EMAIL;TYPE=work", &escape(e));
        }
        if let Some(n) = &c.notes {
            prop("NOTE", &escape(n));
        }
        out.push_str("END:VCARD\r\n");
    }
    out
}

fn bad(reason: String) -> ValidationError {
    ValidationError::Rule(format!("vCard: {reason}"))
}

/// The cards of a vCard 3.0 or 4.0 file (2.1's quoted-printable is not
/// read: such a card is refused with its line).
pub fn parse(text: &str) -> Result<Vec<Card>, ValidationError> {
    if text.len() > MAX_BYTES {
        return Err(bad(format!("more than {} MB", MAX_BYTES >> 20)));
    }
    // Unfold: a line starting with a space or tab continues the previous.
    let mut lines: Vec<(usize, String)> = Vec::new();
    for (n, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = raw.strip_prefix([' ', '\t']) {
            if let Some((_, last)) = lines.last_mut() {
                last.push_str(rest);
                if last.len() > MAX_LINE {
                    return Err(bad(format!("line {}: longer than {MAX_LINE} bytes", n + 1)));
                }
                continue;
            }
        }
        if !raw.trim().is_empty() {
            lines.push((n + 1, raw.to_string()));
        }
    }
    let mut cards = Vec::new();
    let mut cur: Option<Card> = None;
    let mut n_name: Option<String> = None;
    for (n, line) in lines {
        let Some((head, value)) = line.split_once(':') else {
            return Err(bad(format!("line {n}: no ':' in {line:?}")));
        };
        let mut parts = head.split(';');
        let name = parts.next().unwrap_or("").to_ascii_uppercase();
        // Drop a group prefix ("item1.TEL").
        let name = name.rsplit('.').next().unwrap_or("").to_string();
        let params: Vec<String> = parts.map(|p| p.to_ascii_lowercase()).collect();
        if params.iter().any(|p| p.contains("quoted-printable")) {
            return Err(bad(format!(
                "line {n}: quoted-printable (vCard 2.1) is not read; export as vCard 3.0 or 4.0"
            )));
        }
        match name.as_str() {
            "BEGIN" if value.eq_ignore_ascii_case("VCARD") => {
                if cur.is_some() {
                    return Err(bad(format!("line {n}: BEGIN inside a card")));
                }
                if cards.len() >= MAX_CARDS {
                    return Err(bad(format!("more than {MAX_CARDS} cards")));
                }
                cur = Some(Card::default());
                n_name = None;
            }
            "END" if value.eq_ignore_ascii_case("VCARD") => {
                let mut c = cur
                    .take()
                    .ok_or_else(|| bad(format!("line {n}: END without BEGIN")))?;
                if c.name.trim().is_empty() {
                    c.name = n_name.take().unwrap_or_default();
                }
                cards.push(c);
            }
            _ => {
                let Some(c) = cur.as_mut() else {
                    return Err(bad(format!("line {n}: {name} outside a card")));
                };
                let v = unescape(value).trim().to_string();
                let set = |slot: &mut Option<String>| {
                    if slot.is_none() && !v.is_empty() {
                        *slot = Some(v.clone());
                    }
                };
                match name.as_str() {
                    "UID" => set(&mut c.uid),
                    "FN" => c.name = v.clone(),
                    "N" => {
                        // family;given;additional;prefix;suffix
                        let f = split_unescaped(value, ';');
                        let given = f.get(1).map(|s| s.trim()).unwrap_or("");
                        let family = f.first().map(|s| s.trim()).unwrap_or("");
                        let whole = format!("{given} {family}").trim().to_string();
                        if !whole.is_empty() {
                            n_name = Some(whole);
                        }
                    }
                    "ORG" => {
                        // organization;unit: the organization.
                        let org = split_unescaped(value, ';').swap_remove(0);
                        if !org.trim().is_empty() && c.org.is_none() {
                            c.org = Some(org.trim().to_string());
                        }
                    }
                    "TITLE" | "ROLE" => set(&mut c.role),
                    "EMAIL" => set(&mut c.email),
                    "NOTE" => set(&mut c.notes),
                    "TEL" => {
                        let number = v.strip_prefix("tel:").unwrap_or(&v).to_string();
                        let cell = params.iter().any(|p| p.contains("cell"));
                        let slot = if cell { &mut c.mobile } else { &mut c.phone };
                        if slot.is_none() && !number.is_empty() {
                            *slot = Some(number);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    if cur.is_some() {
        return Err(bad("the last card has no END:VCARD".into()));
    }
    Ok(cards)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_round_trips_with_escapes_folding_and_accents() {
        let c = Card {
            uid: Some("c1".into()),
            name: "Jeanne Lefèvre-Dupré".into(),
            org: Some("Boulangerie Martin, Fils & Cie; Lyon".into()),
            role: Some("Gérante".into()),
            phone: Some("+33478000001".into()),
            mobile: Some("+33612345678".into()),
            email: Some("jeanne@martin.fr".into()),
            notes: Some(format!("Ligne 1\nLigne 2 \\ {}", "é".repeat(80))),
        };
        let text = write(std::slice::from_ref(&c));
        assert!(text.lines().all(|l| l.len() <= 76), "{text}");
        assert_eq!(parse(&text).unwrap(), vec![c]);
    }

    #[test]
    fn vcard_3_with_n_only_typed_tel_and_groups() {
        let text = "BEGIN:VCARD\nVERSION:3.0\nN:Martin;Paul;;;\nitem1.TEL;TYPE=CELL:06 12 34 56 78\nTEL;type=WORK;type=VOICE:04 78 00 00 01\nEMAIL;TYPE=INTERNET:paul@martin.fr\nTITLE:Gérant\nORG:Garage Martin;Atelier\nEND:VCARD\n";
        let cards = parse(text).unwrap();
        assert_eq!(cards[0].name, "Paul Martin");
        assert_eq!(cards[0].mobile.as_deref(), Some("06 12 34 56 78"));
        assert_eq!(cards[0].phone.as_deref(), Some("04 78 00 00 01"));
        assert_eq!(cards[0].org.as_deref(), Some("Garage Martin"));
    }

    #[test]
    fn broken_files_are_refused_with_their_line() {
        assert!(parse("BEGIN:VCARD\nFN:A\n").is_err());
        assert!(parse("FN:A\n").unwrap_err().to_string().contains("line 1"));
        let qp = "BEGIN:VCARD\nVERSION:2.1\nFN;ENCODING=QUOTED-PRINTABLE:Caf=C3=A9\nEND:VCARD\n";
        assert!(parse(qp)
            .unwrap_err()
            .to_string()
            .contains("quoted-printable"));
        let long = format!("BEGIN:VCARD\nNOTE:a\n{}\nEND:VCARD\n", " x".repeat(40_000));
        assert!(parse(&long).is_err());
    }
}
