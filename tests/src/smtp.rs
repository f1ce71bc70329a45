//! A real SMTP server on loopback for the mail tests and the outbox
//! benchmark: `tests/smtp/sink.py` on Debian's aiosmtpd, which stores what
//! it accepts as `.eml` files and can refuse or kill on demand.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Sink {
    pub dir: PathBuf,
    pub port: u16,
    child: Child,
}

impl Sink {
    /// Starts a sink storing into `dir`, on a free loopback port.
    pub fn start(dir: &Path) -> Sink {
        Sink::spawn(dir, &[])
    }

    /// A sink that requires STARTTLS, with the certificate chain `cert`
    /// (PEM) and its key.
    pub fn start_tls(dir: &Path, cert: &Path, key: &Path) -> Sink {
        Sink::spawn(dir, &["--tls".as_ref(), cert.as_os_str(), key.as_os_str()])
    }

    fn spawn(dir: &Path, extra: &[&std::ffi::OsStr]) -> Sink {
        std::fs::create_dir_all(dir).expect("sink dir");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/smtp/sink.py");
        // Debian's Python, where python3-aiosmtpd is installed.
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SMTP sink (apt install python3-aiosmtpd)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("sink stdout"))
            .read_line(&mut line)
            .expect("sink output");
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the SMTP sink said {line:?}"));
        Sink {
            dir: dir.to_path_buf(),
            port,
            child,
        }
    }

    /// What the sink does with the next message: `accept`, `tempfail`,
    /// `permfail`, `kill PID`.
    pub fn set_mode(&self, mode: &str) {
        std::fs::write(self.dir.join("mode"), mode).expect("sink mode");
    }

    /// The messages stored so far, in order.
    pub fn messages(&self) -> Vec<Eml> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .expect("sink dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| Eml(std::fs::read_to_string(p).expect("eml")))
            .collect()
    }

    /// Waits until at least `n` messages are stored; returns them all.
    pub fn wait_for(&self, n: usize, within: Duration) -> Vec<Eml> {
        let deadline = Instant::now() + within;
        loop {
            let m = self.messages();
            if m.len() >= n || Instant::now() > deadline {
                return m;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One stored message, as the mail server received it.
pub struct Eml(pub String);

impl Eml {
    /// The first header of this name (unfolded), without its name.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.0.split("\r\n\r\n").next().unwrap_or("");
        let head = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    /// The bytes of the first attachment of this type (base64 decoded).
    pub fn attachment(&self, mime: &str) -> Option<Vec<u8>> {
        let at = self.0.find(&format!("Content-Type: {mime}"))?;
        let rest = &self.0[at..];
        let body = rest.split_once("\r\n\r\n")?.1;
        let b64: String = body
            .lines()
            .take_while(|l| !l.starts_with("--"))
            .collect::<Vec<_>>()
            .concat();
        decode_base64(b64.trim())
    }
}

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for chunk in bytes.chunks(4) {
        let pad = chunk.iter().filter(|c| **c == b'=').count() + (4 - chunk.len());
        if pad > 2 {
            return None;
        }
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= if *c == b'=' { 0 } else { val(*c)? } << (18 - 6 * i);
        }
        let b = n.to_be_bytes();
        out.extend_from_slice(&b[1..4 - pad]);
    }
    Some(out)
}

/// The text of a PDF (Debian's pdftotext).
pub fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("a.pdf");
    std::fs::write(&path, pdf).expect("write pdf");
    let out = Command::new("pdftotext")
        .args(["-layout"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (apt install poppler-utils)");
    assert!(out.status.success(), "pdftotext failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
