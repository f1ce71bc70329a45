//! Latency summaries and process memory readings.

use std::time::Duration;

/// Median and 99th percentile of a set of timings, in milliseconds.
pub fn median_p99(samples: &mut [Duration]) -> (f64, f64) {
    if samples.is_empty() {
        return (0.0, 0.0);
    }
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = ms(samples[samples.len() / 2]);
    let idx = ((samples.len() as f64) * 0.99).ceil() as usize;
    let p99 = ms(samples[idx.saturating_sub(1).min(samples.len() - 1)]);
    (median, p99)
}

/// A `VmRSS`/`VmHWM`-style field of /proc/self/status, in KiB.
pub fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Total size of the files under `dir`, in bytes.
pub fn dir_size(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => total += dir_size(&e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p99_pick_the_right_ranks() {
        let mut s: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        s.reverse();
        let (m, p) = median_p99(&mut s);
        assert_eq!(m, 51.0);
        assert_eq!(p, 99.0);
    }
}
