//! The layout engine under every PDF: A4 pages on krilla, text measured
//! with the embedded fonts' advances and wrapped to its column, tables
//! whose header repeats on every page they run onto, and on every page a
//! footer line and "Page n / N".

use krilla::configure::{Archival, ConfigurationBuilder};
use krilla::geom::{PathBuilder, Point, Size, Transform};
use krilla::image::Image;
use krilla::metadata::{DateTime, Metadata};
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::{Font, TextDirection};
use krilla::{Document, SerializeSettings};

use crate::text::Lang;
use crate::{CoreError, Result};

pub(super) const REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
pub(super) const BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// A4, in points.
pub(super) const PAGE_W: f32 = 595.28;
pub(super) const PAGE_H: f32 = 841.89;
pub(super) const MARGIN: f32 = 42.0;
/// Kept free at the bottom of each page for the footer.
pub(super) const FOOTER: f32 = 48.0;
pub(super) const BODY: f32 = 9.0;
pub(super) const SMALL: f32 = 7.0;

pub(super) fn lead(size: f32) -> f32 {
    size * 1.35
}

pub(super) enum Op {
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
    /// The letterhead's logo, in the box (x, y, w, h).
    Logo {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Align {
    Left,
    Right,
}

/// A table column: its title, width in points, and alignment.
pub(super) struct Col<'a> {
    pub(super) title: &'a str,
    pub(super) width: f32,
    pub(super) align: Align,
}

pub(super) struct Faces {
    pub(super) regular: ttf_parser::Face<'static>,
    pub(super) bold: ttf_parser::Face<'static>,
}

impl Faces {
    pub(super) fn load() -> Result<Faces> {
        let parse = |b: &'static [u8]| {
            ttf_parser::Face::parse(b, 0).map_err(|e| CoreError::Pdf(format!("font: {e}")))
        };
        Ok(Faces {
            regular: parse(REGULAR)?,
            bold: parse(BOLD)?,
        })
    }

    pub(super) fn width(&self, s: &str, size: f32, bold: bool) -> f32 {
        let face = if bold { &self.bold } else { &self.regular };
        let units: u32 = self
            .drawable(s, bold)
            .chars()
            .map(|c| {
                face.glyph_index(c)
                    .and_then(|g| face.glyph_hor_advance(g))
                    .map_or(0, u32::from)
            })
            .sum();
        units as f32 * size / f32::from(face.units_per_em())
    }

    /// `s` as it can be drawn: a character the font has no glyph for
    /// (a script DejaVu lacks, an emoji) becomes `?`, a control one a
    /// space. PDF/A forbids the empty glyph, so a customer's name in a
    /// script we cannot draw must not cost them the whole PDF.
    pub(super) fn drawable<'s>(&self, s: &'s str, bold: bool) -> std::borrow::Cow<'s, str> {
        let face = if bold { &self.bold } else { &self.regular };
        let ok = |c: char| {
            !c.is_control()
                && !matches!(c, '\u{feff}' | '\u{fffe}' | '\u{ffff}')
                && face.glyph_index(c).is_some()
        };
        if s.chars().all(ok) {
            return std::borrow::Cow::Borrowed(s);
        }
        s.chars()
            .map(|c| match c {
                c if ok(c) => c,
                c if c.is_control() || c.is_whitespace() => ' ',
                _ => '?',
            })
            .collect()
    }

    /// `s` broken into lines no wider than `width` (at spaces, or inside a
    /// word longer than the line).
    pub(super) fn wrap(&self, s: &str, size: f32, bold: bool, width: f32) -> Vec<String> {
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

/// The logo's box at the top of the first page, in points.
const LOGO_MAX_W: f32 = 160.0;
const LOGO_MAX_H: f32 = 48.0;

/// A logo's bytes as an image krilla embeds: a PNG or a JPEG (by its
/// first bytes) of at most `MAX_LOGO_BYTES` and `MAX_LOGO_SIDE` pixels a
/// side. Only the header is read here; the pixels are decoded when the
/// PDF is written, bounded by those sides.
pub(super) fn logo_image(bytes: &[u8]) -> std::result::Result<Image, String> {
    if bytes.len() as u64 > super::MAX_LOGO_BYTES {
        return Err(format!(
            "larger than {} MB",
            super::MAX_LOGO_BYTES / (1024 * 1024)
        ));
    }
    let data = krilla::Data::from(bytes.to_vec());
    let image = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Image::from_png(data, false)?
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Image::from_jpeg(data, false)?
    } else {
        return Err("not a PNG or JPEG image".into());
    };
    let (w, h) = image.size();
    if w == 0 || h == 0 || w > super::MAX_LOGO_SIDE || h > super::MAX_LOGO_SIDE {
        return Err(format!(
            "{w}×{h} pixels: at most {} a side",
            super::MAX_LOGO_SIDE
        ));
    }
    Ok(image)
}

/// Pages being laid out: what to draw on each, and where the next line goes.
pub(super) struct Sheet {
    pub(super) faces: Faces,
    pub(super) pages: Vec<Vec<Op>>,
    pub(super) y: f32,
    /// The legal line at the foot of every page.
    pub(super) footer: Vec<String>,
    pub(super) lang: Lang,
    logo: Option<Image>,
    /// The document's date, in its metadata.
    date: chrono::NaiveDate,
}

impl Sheet {
    /// A sheet headed by `head`'s logo when it has one that can be drawn (a
    /// logo that cannot is left out: a quote is never refused for it).
    pub(super) fn new(
        head: &super::Letterhead<'_>,
        footer: &str,
        date: Option<chrono::NaiveDate>,
        lang: Lang,
    ) -> Result<Sheet> {
        let faces = Faces::load()?;
        let footer = faces.wrap(footer, SMALL, false, PAGE_W - 2.0 * MARGIN);
        let logo = head.logo.and_then(|b| logo_image(b).ok());
        let mut sheet = Sheet {
            faces,
            pages: vec![Vec::new()],
            y: MARGIN,
            footer,
            lang,
            logo: None,
            date: date.unwrap_or_else(|| chrono::Utc::now().date_naive()),
        };
        if let Some(image) = logo {
            let (pw, ph) = image.size();
            let scale = (LOGO_MAX_W / pw as f32).min(LOGO_MAX_H / ph as f32);
            let (w, h) = (pw as f32 * scale, ph as f32 * scale);
            sheet.op(Op::Logo {
                x: MARGIN,
                y: MARGIN,
                w,
                h,
            });
            sheet.y += h + 10.0;
            sheet.logo = Some(image);
        }
        Ok(sheet)
    }

    pub(super) fn bottom(&self) -> f32 {
        PAGE_H - FOOTER - lead(SMALL) * self.footer.len() as f32
    }

    pub(super) fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = MARGIN;
    }

    /// Starts a new page unless `h` more points fit on this one.
    pub(super) fn ensure(&mut self, h: f32) -> bool {
        if self.y + h > self.bottom() {
            self.new_page();
            true
        } else {
            false
        }
    }

    pub(super) fn op(&mut self, op: Op) {
        if let Some(p) = self.pages.last_mut() {
            p.push(op);
        }
    }

    pub(super) fn put(&mut self, x: f32, y: f32, size: f32, bold: bool, text: &str) {
        self.op(Op::Text {
            x,
            y,
            size,
            bold,
            text: text.to_string(),
        });
    }

    /// A paragraph in the column [x, x + width), wrapped.
    pub(super) fn para(&mut self, x: f32, width: f32, s: &str, size: f32, bold: bool) {
        for line in self.faces.wrap(s, size, bold, width) {
            self.ensure(lead(size));
            let y = self.y;
            self.put(x, y, size, bold, &line);
            self.y += lead(size);
        }
    }

    pub(super) fn gap(&mut self, h: f32) {
        self.y += h;
    }

    pub(super) fn rule(&mut self) {
        let y = self.y;
        self.op(Op::Rule {
            x: MARGIN,
            y,
            w: PAGE_W - 2.0 * MARGIN,
        });
    }

    /// Two blocks side by side (the seller's and the client's), each a
    /// list of (text, bold) lines; the cursor goes below the taller.
    pub(super) fn columns(&mut self, left: &[(String, bool)], right: &[(String, bool)]) {
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

    pub(super) fn header_row(&mut self, cols: &[Col<'_>]) {
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
    pub(super) fn cells(&mut self, cols: &[Col<'_>], row: &[String], bold: bool) {
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
    pub(super) fn table(&mut self, cols: &[Col<'_>], rows: &[Vec<String>]) {
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

    /// The PDF, in PDF/A-3b (archivable, and the base Factur-X builds
    /// on): every page with its footer and number; title, language and
    /// date in its metadata. krilla checks the rules it can (fonts
    /// embedded, no glyph missing, colours device-independent) and refuses
    /// to write a file that breaks one.
    pub(super) fn finish(self, title: &str) -> Result<Vec<u8>> {
        let configuration = ConfigurationBuilder::new()
            .with_archival_validator(Archival::A3_B)
            .finish()
            .map_err(|e| CoreError::Pdf(format!("PDF/A configuration: {e:?}")))?;
        let mut doc = Document::new_with(SerializeSettings {
            configuration,
            ..SerializeSettings::default()
        });
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
                    &self.faces.drawable(t, b),
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
                    Op::Logo { x, y, w, h } => {
                        if let (Some(image), Some(size)) = (&self.logo, Size::from_wh(*w, *h)) {
                            s.push_transform(&Transform::from_translate(*x, *y));
                            s.draw_image(image.clone(), size);
                            s.pop();
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
        use chrono::Datelike;
        let date = DateTime::new(u16::try_from(self.date.year()).unwrap_or(2000))
            .month(self.date.month() as u8)
            .day(self.date.day() as u8);
        doc.set_metadata(
            Metadata::new()
                .title(title.to_string())
                .language(self.lang.code().to_string())
                .creator("Carnet".to_string())
                .creation_date(date),
        );
        doc.finish()
            .map_err(|e| CoreError::Pdf(format!("writing the PDF: {e:?}")))
    }
}
