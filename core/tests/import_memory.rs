//! Importing 100,000 rows in bounded memory. Alone in its test binary, so
//! the process's peak memory is this import's.

use carnet_core::import::{Options, Overrides};
use carnet_core::text::Lang;
use carnet_core::Device;

const NOV_26: i64 = 1_795_687_200;

fn device() -> (tempfile::TempDir, Device) {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Device::init(dir.path(), "rep@carnet.test", Some("Rep"), "Carnet SARL").unwrap();
    d.set_clock(Some(NOV_26));
    (dir, d)
}

#[test]
fn a_hundred_thousand_rows_stream_through_in_bounded_memory() {
    fn peak_kib() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            .unwrap()
    }
    /// Generates the file as it is read: it never exists whole.
    struct Generated {
        row: u64,
        buf: Vec<u8>,
        pos: usize,
    }
    impl std::io::Read for Generated {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            if self.pos == self.buf.len() {
                if self.row > 100_000 {
                    return Ok(0);
                }
                self.buf = if self.row == 0 {
                    b"Raison sociale;CP;Ville;Notes\n".to_vec()
                } else {
                    format!(
                        "Entreprise {};{:05};Ville;{}\n",
                        self.row,
                        10_000 + self.row % 80_000,
                        "x".repeat(200)
                    )
                    .into_bytes()
                };
                self.pos = 0;
                self.row += 1;
            }
            let n = out.len().min(self.buf.len() - self.pos);
            out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }
    let (_dir, mut d) = device();
    let before = peak_kib();
    let mut calls = 0;
    let r = d
        .import_accounts(
            Generated {
                row: 0,
                buf: Vec::new(),
                pos: 0,
            },
            &Overrides::new(),
            &Options {
                dry_run: true,
                lang: Lang::Fr,
                verified_on: None,
            },
            &mut |_| calls += 1,
        )
        .unwrap();
    assert_eq!((r.created, r.rejected, r.duplicates), (100_000, 0, 0));
    assert!(calls >= 100, "progress was reported {calls} times");
    // 100,000 rows of ~240 bytes is 24 MB of text; what stays is the
    // duplicate keys, not the rows.
    let grew_mib = (peak_kib() - before) / 1024;
    println!("peak memory grew by {grew_mib} MiB over 100,000 rows");
    assert!(grew_mib < 150, "peak memory grew by {grew_mib} MiB");
}
