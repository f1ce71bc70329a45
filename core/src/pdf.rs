//! PDFs made in the core, so a phone makes them offline: a quote ("devis")
//! with its legal mentions, ready to show on the tablet or to attach.
//!
//! A small layout engine on krilla (docs/decisions/006-pdf.md): A4 pages,
//! text measured with the embedded fonts' advances and wrapped to its
//! column, tables whose header repeats on every page they run onto, and on
//! every page the seller's legal line and "Page n / N". Fonts (DejaVu Sans,
//! regular and bold) are embedded, subset to the glyphs used.

use krilla::geom::{PathBuilder, Point};
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::{Font, TextDirection};
use krilla::Document;
use rust_decimal::Decimal;

use crate::legal;
use crate::model::{Account, Quote, Settings};
use crate::reports::TodoItem;
use crate::text::{self, Lang};
use crate::{CoreError, Result};

const REGULAR: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
const BOLD: &[u8] = include_bytes!("../assets/fonts/DejaVuSans-Bold.ttf");

/// A4, in points.
const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 42.0;
/// Kept free at the bottom of each page for the footer.
const FOOTER: f32 = 48.0;
const BODY: f32 = 9.0;
const SMALL: f32 = 7.0;

fn lead(size: f32) -> f32 {
    size * 1.35
}

enum Op {
    Text {
        x: f32,
        /// Top of the line box.
        y: f32,
        size: f32,
        bold: bool,
        text: String,
    },
    Rule {
        x: f32,
        y: f32,
        w: f32,
    },
    Band {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

/// A table column: its title, width in points, and alignment.
struct Col<'a> {
    title: &'a str,
    width: f32,
    align: Align,
}

struct Faces {
    regular: ttf_parser::Face<'static>,
    bold: ttf_parser::Face<'static>,
}

impl Faces {
    fn load() -> Result<Faces> {
        let parse = |b: &'static [u8]| {
            ttf_parser::Face::parse(b, 0).map_err(|e| CoreError::Pdf(format!("font: {e}")))
        };
        Ok(Faces {
            regular: parse(REGULAR)?,
            bold: parse(BOLD)?,
        })
    }

    fn width(&self, s: &str, size: f32, bold: bool) -> f32 {
        let face = if bold { &self.bold } else { &self.regular };
        let units: u32 = s
            .chars()
            .map(|c| {
                face.glyph_index(c)
                    .and_then(|g| face.glyph_hor_advance(g))
                    .map_or(0, u32::from)
            })
            .sum();
        units as f32 * size / f32::from(face.units_per_em())
    }

    /// `s` broken into lines no wider than `width` (at spaces, or inside a
    /// word longer than the line).
    fn wrap(&self, s: &str, size: f32, bold: bool, width: f32) -> Vec<String> {
        let mut out = Vec::new();
        for para in s.lines() {
            let mut line = String::new();
            for word in para.split(' ') {
                let candidate = if line.is_empty() {
                    word.to_string()
                } else {
                    format!("{line} {word}")
                };
                if self.width(&candidate, size, bold) <= width {
                    line = candidate;
                    continue;
                }
                if !line.is_empty() {
                    out.push(std::mem::take(&mut line));
                }
                // A word wider than the line is cut where it overflows.
                for c in word.chars() {
                    line.push(c);
                    if self.width(&line, size, bold) > width && line.chars().count() > 1 {
                        line.pop();
                        out.push(std::mem::take(&mut line));
                        line.push(c);
                    }
                }
            }
            out.push(line);
        }
        if out.is_empty() {
            out.push(String::new());
        }
        out
    }
}

/// Pages being laid out: what to draw on each, and where the next line goes.
struct Sheet {
    faces: Faces,
    pages: Vec<Vec<Op>>,
    y: f32,
    /// The legal line at the foot of every page.
    footer: Vec<String>,
    lang: Lang,
}

impl Sheet {
    fn new(footer: &str, lang: Lang) -> Result<Sheet> {
        let faces = Faces::load()?;
        let footer = faces.wrap(footer, SMALL, false, PAGE_W - 2.0 * MARGIN);
        Ok(Sheet {
            faces,
            pages: vec![Vec::new()],
            y: MARGIN,
            footer,
            lang,
        })
    }

    fn bottom(&self) -> f32 {
        PAGE_H - FOOTER - lead(SMALL) * self.footer.len() as f32
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = MARGIN;
    }

    /// Starts a new page unless `h` more points fit on this one.
    fn ensure(&mut self, h: f32) -> bool {
        if self.y + h > self.bottom() {
            self.new_page();
            true
        } else {
            false
        }
    }

    fn op(&mut self, op: Op) {
        if let Some(p) = self.pages.last_mut() {
            p.push(op);
        }
    }

    fn put(&mut self, x: f32, y: f32, size: f32, bold: bool, text: &str) {
        self.op(Op::Text {
            x,
            y,
            size,
            bold,
            text: text.to_string(),
        });
    }

    /// A paragraph in the column [x, x + width), wrapped.
    fn para(&mut self, x: f32, width: f32, s: &str, size: f32, bold: bool) {
        for line in self.faces.wrap(s, size, bold, width) {
            self.ensure(lead(size));
            let y = self.y;
            self.put(x, y, size, bold, &line);
            self.y += lead(size);
        }
    }

    fn gap(&mut self, h: f32) {
        self.y += h;
    }

    fn rule(&mut self) {
        let y = self.y;
        self.op(Op::Rule {
            x: MARGIN,
            y,
            w: PAGE_W - 2.0 * MARGIN,
        });
    }

    /// Two blocks side by side (the seller's and the client's), each a
    /// list of (text, bold) lines; the cursor goes below the taller.
    fn columns(&mut self, left: &[(String, bool)], right: &[(String, bool)]) {
        let half = (PAGE_W - 2.0 * MARGIN) / 2.0 - 10.0;
        let top = self.y;
        let mut bottom = top;
        for (x, block) in [(MARGIN, left), (PAGE_W / 2.0 + 10.0, right)] {
            self.y = top;
            for (s, bold) in block {
                let size = if *bold { BODY + 2.0 } else { BODY };
                self.para(x, half, s, size, *bold);
            }
            bottom = bottom.max(self.y);
        }
        self.y = bottom;
    }

    fn header_row(&mut self, cols: &[Col<'_>]) {
        let h = lead(BODY) + 4.0;
        let y = self.y;
        self.op(Op::Band {
            x: MARGIN,
            y,
            w: cols.iter().map(|c| c.width).sum(),
            h,
        });
        self.cells(
            cols,
            &cols.iter().map(|c| c.title.to_string()).collect::<Vec<_>>(),
            true,
        );
    }

    /// One row: each cell wrapped in its column; returns nothing, moves
    /// the cursor below the tallest cell.
    fn cells(&mut self, cols: &[Col<'_>], row: &[String], bold: bool) {
        let pad = 3.0;
        let wrapped: Vec<Vec<String>> = cols
            .iter()
            .zip(row)
            .map(|(c, s)| self.faces.wrap(s, BODY, bold, c.width - 2.0 * pad))
            .collect();
        let lines = wrapped.iter().map(Vec::len).max().unwrap_or(1);
        let top = self.y + 2.0;
        let mut x = MARGIN;
        for (c, cell) in cols.iter().zip(&wrapped) {
            for (i, line) in cell.iter().enumerate() {
                let lx = match c.align {
                    Align::Left => x + pad,
                    Align::Right => x + c.width - pad - self.faces.width(line, BODY, bold),
                };
                self.put(lx, top + i as f32 * lead(BODY), BODY, bold, line);
            }
            x += c.width;
        }
        self.y = top + lines as f32 * lead(BODY) + 2.0;
    }

    /// A table; its header is drawn again at the top of every page the
    /// rows run onto. A row is never split across pages.
    fn table(&mut self, cols: &[Col<'_>], rows: &[Vec<String>]) {
        self.ensure(3.0 * lead(BODY) + 8.0);
        self.header_row(cols);
        for row in rows {
            let lines = cols
                .iter()
                .zip(row)
                .map(|(c, s)| self.faces.wrap(s, BODY, false, c.width - 6.0).len())
                .max()
                .unwrap_or(1);
            if self.ensure(lines as f32 * lead(BODY) + 4.0) {
                self.header_row(cols);
            }
            self.cells(cols, row, false);
            self.rule();
        }
    }

    /// The PDF: every page with its footer and number.
    fn finish(self, title: &str) -> Result<Vec<u8>> {
        let mut doc = Document::new();
        let regular = Font::new(REGULAR.into(), 0)
            .ok_or_else(|| CoreError::Pdf("the regular font does not load".into()))?;
        let bold = Font::new(BOLD.into(), 0)
            .ok_or_else(|| CoreError::Pdf("the bold font does not load".into()))?;
        let total = self.pages.len();
        let settings = PageSettings::from_wh(PAGE_W, PAGE_H)
            .ok_or_else(|| CoreError::Pdf("page size".into()))?;
        for (n, ops) in self.pages.iter().enumerate() {
            let mut page = doc.start_page_with(settings.clone());
            let mut s = page.surface();
            let text = |s: &mut krilla::surface::Surface<'_>,
                        x: f32,
                        y: f32,
                        size: f32,
                        b: bool,
                        t: &str| {
                let font = if b { bold.clone() } else { regular.clone() };
                // The point is the baseline: a line box's top plus the size.
                s.draw_text(
                    Point::from_xy(x, y + size),
                    font,
                    size,
                    t,
                    false,
                    TextDirection::Auto,
                );
            };
            for op in ops {
                match op {
                    Op::Text {
                        x,
                        y,
                        size,
                        bold: b,
                        text: t,
                    } => text(&mut s, *x, *y, *size, *b, t),
                    Op::Rule { x, y, w } => {
                        let mut pb = PathBuilder::new();
                        pb.move_to(*x, *y);
                        pb.line_to(x + w, *y);
                        if let Some(path) = pb.finish() {
                            s.set_fill(None);
                            s.set_stroke(Some(Stroke {
                                width: 0.3,
                                paint: krilla::color::luma::Color::new(160).into(),
                                ..Stroke::default()
                            }));
                            s.draw_path(&path);
                            s.set_stroke(None);
                        }
                    }
                    Op::Band { x, y, w, h } => {
                        let mut pb = PathBuilder::new();
                        if let Some(rect) = krilla::geom::Rect::from_xywh(*x, *y, *w, *h) {
                            pb.push_rect(rect);
                        }
                        if let Some(path) = pb.finish() {
                            s.set_stroke(None);
                            s.set_fill(Some(Fill {
                                paint: krilla::color::luma::Color::new(232).into(),
                                ..Fill::default()
                            }));
                            s.draw_path(&path);
                            s.set_fill(Some(Fill::default()));
                        }
                    }
                }
            }
            // The footer: the seller's legal line, then the page number.
            let mut y = PAGE_H - FOOTER - lead(SMALL) * self.footer.len() as f32 + 12.0;
            for line in &self.footer {
                text(&mut s, MARGIN, y, SMALL, false, line);
                y += lead(SMALL);
            }
            let number = match self.lang {
                Lang::Fr => format!("{title} — page {} / {total}", n + 1),
                Lang::En => format!("{title} — page {} of {total}", n + 1),
            };
            let w = self.faces.width(&number, SMALL, false);
            text(&mut s, PAGE_W - MARGIN - w, y + 2.0, SMALL, false, &number);
            s.finish();
            page.finish();
        }
        doc.set_metadata(krilla::metadata::Metadata::new().title(title.to_string()));
        doc.finish()
            .map_err(|e| CoreError::Pdf(format!("writing the PDF: {e:?}")))
    }
}

fn tr(lang: Lang, fr: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Fr => fr,
        Lang::En => en,
    }
}

fn percent(d: Decimal, lang: Lang) -> String {
    format!("{}\u{a0}%", text::rate(&d.normalize().to_string(), lang))
}

/// The seller as a quote's letterhead and footer name it.
fn seller_lines(s: &Settings, lang: Lang) -> (Vec<(String, bool)>, String) {
    let c = &s.company;
    let capital = c
        .share_capital
        .map(|cents| text::amount(cents, &s.currency, lang));
    let form = match (&capital, c.legal_form.trim()) {
        (Some(k), f) if !f.is_empty() => format!(
            "{f} {} {k}",
            tr(lang, "au capital de", "with a share capital of")
        ),
        (None, f) => f.to_string(),
        (Some(k), _) => format!("{} {k}", tr(lang, "Capital de", "Share capital")),
    };
    let ids = [
        (!c.siren.is_empty()).then(|| format!("SIREN {}", c.siren)),
        (!c.siret.is_empty()).then(|| format!("SIRET {}", c.siret)),
        (!c.rcs_city.is_empty()).then(|| format!("RCS {}", c.rcs_city)),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" — ");
    let vat = (!c.vat_number.is_empty()).then(|| {
        format!(
            "{} {}",
            tr(lang, "TVA intracommunautaire :", "EU VAT number:"),
            c.vat_number
        )
    });
    let contact = [c.phone.as_str(), c.email.as_str()]
        .into_iter()
        .filter(|x| !x.is_empty())
        .collect::<Vec<_>>()
        .join(" — ");
    let mut lines = vec![(c.name.clone(), true)];
    for l in [
        form.clone(),
        c.address.clone(),
        format!("{} {}", c.postcode, c.city).trim().to_string(),
        ids.clone(),
        vat.clone().unwrap_or_default(),
        contact,
    ] {
        if !l.trim().is_empty() {
            lines.push((l, false));
        }
    }
    let footer = [c.name.clone(), form, ids, vat.unwrap_or_default()]
        .into_iter()
        .filter(|x| !x.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" — ");
    (lines, footer)
}

fn client_lines(a: &Account, lang: Lang) -> Vec<(String, bool)> {
    let mut lines = vec![
        (tr(lang, "Client", "Client").to_string(), false),
        (a.name.clone(), true),
    ];
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    for l in [
        opt(&a.address_line1),
        opt(&a.address_line2),
        format!("{} {}", opt(&a.postcode), opt(&a.city))
            .trim()
            .to_string(),
        opt(&a.country),
        a.siret
            .as_ref()
            .map(|s| format!("SIRET {s}"))
            .or_else(|| a.siren.as_ref().map(|s| format!("SIREN {s}")))
            .unwrap_or_default(),
        a.vat_number
            .as_ref()
            .map(|v| format!("{} {v}", tr(lang, "TVA :", "VAT:")))
            .unwrap_or_default(),
    ] {
        if !l.trim().is_empty() {
            lines.push((l, false));
        }
    }
    lines
}

/// The quote as a PDF, in `lang`: letterhead, client, lines (the header
/// repeated on each page), totals per VAT rate, terms and every legal
/// mention (`crate::legal`), the seller's legal line and the page number at
/// the foot of each page. Made whatever the quote's state: a draft shows
/// "provisional number" when it has no final one.
pub fn quote(settings: &Settings, account: &Account, q: &Quote, lang: Lang) -> Result<Vec<u8>> {
    let (seller, footer) = seller_lines(settings, lang);
    let title = format!("{} {}", tr(lang, "Devis", "Quote"), q.number);
    let mut sheet = Sheet::new(&footer, lang)?;
    sheet.columns(&seller, &client_lines(account, lang));
    sheet.gap(14.0);
    let full = PAGE_W - 2.0 * MARGIN;
    sheet.para(
        MARGIN,
        full,
        &format!("{} {}", tr(lang, "DEVIS N°", "QUOTE No."), q.number),
        BODY + 5.0,
        true,
    );
    if q.provisional {
        sheet.para(
            MARGIN,
            full,
            tr(
                lang,
                "(numéro provisoire : le numéro définitif est attribué à la synchronisation)",
                "(provisional number: the final one is given on sync)",
            ),
            SMALL,
            false,
        );
    }
    let day = |d: Option<chrono::NaiveDate>| d.map(|d| text::date(d, lang)).unwrap_or_default();
    sheet.para(
        MARGIN,
        full,
        &format!(
            "{} {} — {} {}",
            tr(lang, "Date :", "Date:"),
            day(q.date),
            tr(lang, "Valable jusqu'au :", "Valid until:"),
            day(q.valid_until)
        ),
        BODY,
        false,
    );
    sheet.gap(8.0);
    let cur = q.currency.as_str();
    let money = |c: i64| text::amount(c, cur, lang);
    let cols = [
        Col {
            title: tr(lang, "Désignation", "Item"),
            width: 215.0,
            align: Align::Left,
        },
        Col {
            title: tr(lang, "Qté", "Qty"),
            width: 40.0,
            align: Align::Right,
        },
        Col {
            title: tr(lang, "P.U. HT", "Unit price"),
            width: 72.0,
            align: Align::Right,
        },
        Col {
            title: tr(lang, "Remise", "Discount"),
            width: 48.0,
            align: Align::Right,
        },
        Col {
            title: tr(lang, "TVA", "VAT"),
            width: 40.0,
            align: Align::Right,
        },
        Col {
            title: tr(lang, "Total HT", "Net"),
            width: full - 215.0 - 40.0 - 72.0 - 48.0 - 40.0,
            align: Align::Right,
        },
    ];
    let rows: Vec<Vec<String>> = q
        .lines
        .iter()
        .map(|l| {
            vec![
                l.label.clone(),
                text::rate(&l.qty.normalize().to_string(), lang),
                money(l.unit_price),
                if l.discount.is_zero() {
                    String::new()
                } else {
                    percent(l.discount, lang)
                },
                percent(l.vat_rate, lang),
                money(l.net),
            ]
        })
        .collect();
    sheet.table(&cols, &rows);
    // Totals, right-aligned under the table.
    sheet.gap(6.0);
    let mut totals: Vec<(String, String, bool)> = vec![(
        tr(lang, "Total HT", "Total excl. VAT").to_string(),
        money(q.totals.net),
        true,
    )];
    for v in &q.totals.vat_lines {
        totals.push((
            format!(
                "{} {} ({} {})",
                tr(lang, "TVA", "VAT"),
                percent(v.rate, lang),
                tr(lang, "base", "on"),
                money(v.base)
            ),
            money(v.vat),
            false,
        ));
    }
    totals.push((
        tr(lang, "Total TTC", "Total incl. VAT").to_string(),
        money(q.totals.gross),
        true,
    ));
    sheet.ensure(lead(BODY) * totals.len() as f32 + 8.0);
    for (label, value, bold) in &totals {
        let y = sheet.y;
        let wv = sheet.faces.width(value, BODY, *bold);
        let wl = sheet.faces.width(label, BODY, *bold);
        sheet.put(PAGE_W - MARGIN - wv - 3.0, y, BODY, *bold, value);
        sheet.put(PAGE_W - MARGIN - 110.0 - wl, y, BODY, *bold, label);
        sheet.y += lead(BODY);
    }
    // Terms and legal mentions.
    sheet.gap(12.0);
    let c = &settings.company;
    let payment = if q.payment_terms.trim().is_empty() {
        c.payment_terms.clone()
    } else {
        q.payment_terms.clone()
    };
    let mut terms = vec![format!(
        "{} {}",
        tr(lang, "Conditions de paiement :", "Payment terms:"),
        payment
    )];
    if !q.delivery_terms.trim().is_empty() {
        terms.push(format!(
            "{} {}",
            tr(lang, "Conditions de livraison :", "Delivery terms:"),
            q.delivery_terms
        ));
    }
    if let Some(rate) = c.late_penalty_rate {
        terms.push(format!(
            "{} {}",
            tr(
                lang,
                "Pénalités de retard : taux annuel de",
                "Late-payment penalties: yearly rate of"
            ),
            percent(rate, lang)
        ));
    }
    if legal::is_business(account) {
        terms.push(legal::recovery_indemnity(lang).to_string());
    }
    terms.push(format!(
        "{} {}",
        tr(lang, "Devis valable jusqu'au", "Quote valid until"),
        day(q.valid_until)
    ));
    for t in [&q.terms, &q.notes] {
        if !t.trim().is_empty() {
            terms.push(t.clone());
        }
    }
    for t in &terms {
        sheet.para(MARGIN, full, t, BODY, false);
    }
    sheet.gap(14.0);
    sheet.ensure(lead(BODY) * 4.0);
    sheet.para(
        MARGIN,
        full,
        tr(
            lang,
            "Bon pour accord — date, signature et cachet du client :",
            "Agreed — date, signature and stamp of the client:",
        ),
        BODY,
        true,
    );
    sheet.finish(&title)
}

/// "Édition des actions à effectuer": the open actions due up to `until`
/// (overdue first, as `reports::todo` orders them), for `who`, as a table
/// whose header repeats on every page; the company's name at the foot.
pub fn todo(
    settings: &Settings,
    who: &str,
    items: &[TodoItem],
    until: chrono::NaiveDate,
    today: chrono::NaiveDate,
    lang: Lang,
) -> Result<Vec<u8>> {
    let title = tr(lang, "Actions à effectuer", "Actions to do").to_string();
    let footer = format!(
        "{} — {} {} — {}",
        settings.company.name,
        tr(lang, "édité le", "printed on"),
        text::date(today, lang),
        who
    );
    let mut sheet = Sheet::new(&footer, lang)?;
    let full = PAGE_W - 2.0 * MARGIN;
    sheet.para(
        MARGIN,
        full,
        tr(lang, "Édition des actions à effectuer", "Actions to do"),
        BODY + 5.0,
        true,
    );
    sheet.para(
        MARGIN,
        full,
        &format!(
            "{} {} — {} — {} {}",
            tr(lang, "Jusqu'au", "Up to"),
            text::date(until, lang),
            who,
            items.len(),
            tr(lang, "action(s)", "action(s)")
        ),
        BODY,
        false,
    );
    sheet.gap(8.0);
    let cols = [
        Col {
            title: tr(lang, "Échéance", "Due"),
            width: 62.0,
            align: Align::Left,
        },
        Col {
            title: tr(lang, "Retard", "Late"),
            width: 44.0,
            align: Align::Right,
        },
        Col {
            title: tr(lang, "Client", "Account"),
            width: 135.0,
            align: Align::Left,
        },
        Col {
            title: tr(lang, "Type", "Type"),
            width: 45.0,
            align: Align::Left,
        },
        Col {
            title: tr(lang, "Objet", "Subject"),
            width: full - 62.0 - 44.0 - 135.0 - 45.0 - 30.0,
            align: Align::Left,
        },
        Col {
            title: tr(lang, "Fait", "Done"),
            width: 30.0,
            align: Align::Left,
        },
    ];
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|t| {
            vec![
                text::date(t.due, lang),
                if t.overdue {
                    format!("{}\u{a0}{}", t.days_late, tr(lang, "j", "d"))
                } else {
                    String::new()
                },
                t.account.clone(),
                t.action_type.clone(),
                t.subject.clone(),
                "☐".to_string(),
            ]
        })
        .collect();
    sheet.table(&cols, &rows);
    sheet.finish(&title)
}
