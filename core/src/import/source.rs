//! Reading a CSV file as it comes from a spreadsheet or another tool:
//! comma, semicolon or tab (sniffed from the header line), UTF-8 with or
//! without BOM or Windows-1252 (detected), CRLF or LF, quoted fields with
//! newlines. Streams: memory is bounded by the longest row, itself capped.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::{self, Chain, Cursor, Read};
use std::rc::Rc;

use crate::error::{CoreError, CsvProblem, Result, ValidationError};

/// The longest row accepted (bytes): a field without its closing quote
/// would otherwise swallow the whole file into memory.
pub const MAX_ROW_BYTES: u64 = 1 << 20;
/// Columns in a row.
pub const MAX_COLUMNS: usize = 500;
const SNIFF: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    Utf8,
    Windows1252,
}

/// Counts bytes read (for progress) and refuses a row longer than
/// `MAX_ROW_BYTES` (reset after every row). Notes where the line feeds
/// are in what csv has read ahead, for line numbers.
struct Guard<R> {
    inner: R,
    total: Rc<Cell<u64>>,
    row: Rc<Cell<u64>>,
    newlines: Rc<RefCell<VecDeque<u64>>>,
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // csv buffers 8 KiB ahead of the row it parses.
        if self.row.get() > MAX_ROW_BYTES + 16 * 1024 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a row longer than {} bytes", MAX_ROW_BYTES),
            ));
        }
        let n = self.inner.read(buf)?;
        let at = self.total.get();
        let mut newlines = self.newlines.borrow_mut();
        for (i, b) in buf[..n].iter().enumerate() {
            if *b == b'\n' {
                newlines.push_back(at + i as u64);
            }
        }
        self.total.set(at + n as u64);
        self.row.set(self.row.get() + n as u64);
        Ok(n)
    }
}

pub struct CsvSource<R: Read> {
    rdr: csv::Reader<Guard<Chain<Cursor<Vec<u8>>, R>>>,
    encoding: Encoding,
    delimiter: u8,
    headers: Vec<String>,
    total: Rc<Cell<u64>>,
    row: Rc<Cell<u64>>,
    newlines: Rc<RefCell<VecDeque<u64>>>,
    /// Line feeds before the current record.
    lines_before: u64,
    record: csv::ByteRecord,
}

/// One row: its line number in the file (the header is line 1) and its
/// fields, decoded.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub line: u64,
    pub fields: Vec<String>,
}

fn bad(line: Option<u64>, problem: CsvProblem) -> CoreError {
    ValidationError::Csv { line, problem }.into()
}

impl<R: Read> CsvSource<R> {
    pub fn new(mut input: R) -> Result<Self> {
        let mut head = Vec::with_capacity(SNIFF);
        (&mut input)
            .take(SNIFF as u64)
            .read_to_end(&mut head)
            .map_err(|e| bad(None, CsvProblem::Io(e.to_string())))?;
        if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
            head.drain(..3);
        }
        let encoding = if utf8_prefix(&head) {
            Encoding::Utf8
        } else {
            Encoding::Windows1252
        };
        let delimiter = sniff_delimiter(&head);
        let total = Rc::new(Cell::new(0));
        let row = Rc::new(Cell::new(0));
        let newlines = Rc::new(RefCell::new(VecDeque::new()));
        let guard = Guard {
            inner: Cursor::new(head).chain(input),
            total: total.clone(),
            row: row.clone(),
            newlines: newlines.clone(),
        };
        let rdr = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(guard);
        let mut src = CsvSource {
            rdr,
            encoding,
            delimiter,
            headers: Vec::new(),
            total,
            row,
            newlines,
            lines_before: 0,
            record: csv::ByteRecord::new(),
        };
        let Some(first) = src.next_row()? else {
            return Err(bad(None, CsvProblem::Empty));
        };
        src.headers = first.fields.iter().map(|h| h.trim().to_string()).collect();
        Ok(src)
    }

    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    pub fn delimiter(&self) -> char {
        self.delimiter as char
    }

    /// Bytes read so far (for a progress bar).
    pub fn bytes_read(&self) -> u64 {
        self.total.get()
    }

    /// The next row, `None` at the end. Empty lines are skipped here;
    /// rows of empty fields are returned (the caller counts them blank).
    pub fn next_row(&mut self) -> Result<Option<Row>> {
        self.row.set(0);
        let line = match self.rdr.read_byte_record(&mut self.record) {
            Ok(false) => return Ok(None),
            Ok(true) => {
                // csv's own line count depends on the line ending. Count
                // the line feeds read up to the end of the record, less
                // its own terminator and those inside its quoted fields.
                let end = self.rdr.position().byte();
                let mut newlines = self.newlines.borrow_mut();
                let mut terminated = false;
                while let Some(&n) = newlines.front().filter(|&&n| n < end) {
                    newlines.pop_front();
                    self.lines_before += 1;
                    terminated = n + 1 == end;
                }
                let inside = self
                    .record
                    .as_slice()
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count() as u64;
                self.lines_before
                    .saturating_sub(u64::from(terminated) + inside)
                    + 1
            }
            Err(e) => {
                // csv knows no position for an I/O error: the record
                // began on the line after the last one read.
                let line = e
                    .position()
                    .map(|p| p.line())
                    .or(Some(self.lines_before + 1));
                // The guard stopped a row past the limit: say so plainly.
                if self.row.get() > MAX_ROW_BYTES {
                    return Err(bad(line, CsvProblem::RowTooLong(MAX_ROW_BYTES)));
                }
                return Err(bad(line, CsvProblem::Unreadable(e.to_string())));
            }
        };
        if self.record.len() > MAX_COLUMNS {
            return Err(bad(
                Some(line),
                CsvProblem::TooManyColumns {
                    found: self.record.len(),
                    max: MAX_COLUMNS,
                },
            ));
        }
        let fields = self
            .record
            .iter()
            .map(|f| decode(f, self.encoding))
            .collect();
        Ok(Some(Row { line, fields }))
    }
}

/// Whether `bytes` is UTF-8, a sequence cut at the end aside.
fn utf8_prefix(bytes: &[u8]) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && bytes.len() - e.valid_up_to() < 4,
    }
}

/// The separator of the header line: the most frequent of `;`, `,` and
/// tab outside quotes (`,` when none).
fn sniff_delimiter(head: &[u8]) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for &b in head {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            b';' if !quoted => counts[0] += 1,
            b',' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let best = (0..3).max_by_key(|&i| (counts[i], 3 - i)).unwrap_or(1);
    if counts[best] == 0 {
        b','
    } else {
        [b';', b',', b'\t'][best]
    }
}

/// A field's text: UTF-8 when it is, else Windows-1252 (a file detected as
/// UTF-8 with one stray Latin-1 field still reads right).
fn decode(bytes: &[u8], encoding: Encoding) -> String {
    if encoding == Encoding::Utf8 {
        if let Ok(s) = std::str::from_utf8(bytes) {
            return s.to_string();
        }
    }
    bytes.iter().map(|&b| windows_1252(b)).collect()
}

fn windows_1252(b: u8) -> char {
    const HIGH: [u32; 32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
        0x2039, 0x0152, 0x8D, 0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013,
        0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
    ];
    match b {
        0x80..=0x9F => char::from_u32(HIGH[(b - 0x80) as usize]).unwrap_or('\u{fffd}'),
        _ => b as char,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(bytes: &[u8]) -> (CsvSource<&[u8]>, Vec<Row>) {
        let mut src = CsvSource::new(bytes).unwrap();
        let mut out = Vec::new();
        while let Some(r) = src.next_row().unwrap() {
            out.push(r);
        }
        (src, out)
    }

    #[test]
    fn semicolons_bom_crlf_and_quoted_newlines() {
        let file = b"\xEF\xBB\xBFNom;Ville\r\n\"Martin; fils\";Lyon\r\n\r\n\"Deux\r\nlignes\";\"Saint-\xC3\x89tienne\"\r\n";
        let (src, rows) = rows(file);
        assert_eq!(src.headers(), ["Nom", "Ville"]);
        assert_eq!(src.delimiter(), ';');
        assert_eq!(src.encoding(), Encoding::Utf8);
        assert_eq!(rows[0].fields, ["Martin; fils", "Lyon"]);
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[1].fields, ["Deux\r\nlignes", "Saint-Étienne"]);
        assert_eq!(rows[1].line, 4);
    }

    #[test]
    fn windows_1252_is_detected() {
        let file = b"Soci\xE9t\xE9,Ville\n\x80uro \x9Cuvre,Orl\xE9ans\n";
        let (src, rows) = rows(file);
        assert_eq!(src.encoding(), Encoding::Windows1252);
        assert_eq!(src.headers(), ["Société", "Ville"]);
        assert_eq!(rows[0].fields, ["€uro œuvre", "Orléans"]);
    }

    #[test]
    fn a_runaway_quoted_field_is_refused_not_buffered() {
        let mut file = b"Nom,Ville\n\"never closed,".to_vec();
        file.extend(std::iter::repeat_n(b'x', 3 << 20));
        let mut src = CsvSource::new(&file[..]).unwrap();
        let CoreError::Invalid(e) = src.next_row().unwrap_err() else {
            panic!("a validation error")
        };
        assert!(
            e.to_string().contains("a row longer than 1048576 bytes"),
            "{e}"
        );
        assert_eq!(
            e.message(crate::text::Lang::Fr),
            "ligne 2 : une ligne dépasse 1 Mo (un guillemet jamais refermé ?)"
        );
    }

    #[test]
    fn an_empty_file_has_no_header() {
        let err = CsvSource::new(&b""[..]).err().unwrap();
        assert_eq!(
            err.to_string(),
            "the file is empty: no header line",
            "{err}"
        );
    }

    #[test]
    fn more_than_500_columns_are_refused_with_the_line_in_french_too() {
        let mut file = b"Nom,Ville\nAcme,Lyon\n".to_vec();
        file.extend(b"x,".repeat(501));
        file.extend(b"\n");
        let mut src = CsvSource::new(&file[..]).unwrap();
        assert_eq!(src.next_row().unwrap().unwrap().fields, ["Acme", "Lyon"]);
        let CoreError::Invalid(e) = src.next_row().unwrap_err() else {
            panic!("a validation error")
        };
        assert_eq!(e.to_string(), "line 3: 502 columns, at most 500");
        assert_eq!(
            e.message(crate::text::Lang::Fr),
            "ligne 3 : 502 colonnes, 500 au plus"
        );
        // 500 columns are read.
        let row = format!("{}\n", vec!["y"; 500].join(","));
        let file = format!("a,b\n{row}");
        let mut src = CsvSource::new(file.as_bytes()).unwrap();
        assert_eq!(src.next_row().unwrap().unwrap().fields.len(), 500);
    }
}
