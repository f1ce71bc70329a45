//! Password guessing: failed logins are counted per account and per
//! address in a sliding minute; past the limit further attempts are refused
//! before any hashing (the right password too, until the window passes).
//! Hashing itself (argon2, ~19 MiB and ~20 ms each) runs at most a few at a
//! time, so a flood of logins cannot take the server's memory. The sync
//! login and the web app's login (to come) share one `LoginGuard`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit};

/// Failed logins allowed per account in one window.
pub const MAX_FAILURES_PER_ACCOUNT: usize = 10;
/// Failed logins allowed per address in one window (an office shares one).
pub const MAX_FAILURES_PER_ADDRESS: usize = 30;
pub const WINDOW: Duration = Duration::from_secs(60);
/// Password hashes computed at once.
pub const CONCURRENT_HASHES: usize = 2;
/// How long a login waits for a hashing slot before "busy".
pub const HASH_QUEUE_WAIT: Duration = Duration::from_secs(10);
/// Accounts and addresses remembered at most (oldest forgotten first).
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Throttled {
    #[error("too many failed logins; retry in {0} s")]
    TooMany(u64),
    #[error("the server is busy; retry in a moment")]
    Busy,
}

#[derive(Hash, PartialEq, Eq, Clone, Debug)]
enum Key {
    Account(String),
    Address(IpAddr),
}

pub struct LoginGuard {
    failures: Mutex<HashMap<Key, Vec<Instant>>>,
    hashing: Semaphore,
}

impl Default for LoginGuard {
    fn default() -> Self {
        LoginGuard {
            failures: Mutex::new(HashMap::new()),
            hashing: Semaphore::new(CONCURRENT_HASHES),
        }
    }
}

fn keys(email: &str, addr: Option<IpAddr>) -> Vec<(Key, usize)> {
    let mut k = vec![(
        Key::Account(email.trim().to_lowercase()),
        MAX_FAILURES_PER_ACCOUNT,
    )];
    if let Some(a) = addr {
        k.push((Key::Address(a), MAX_FAILURES_PER_ADDRESS));
    }
    k
}

impl LoginGuard {
    fn with_failures<T>(&self, f: impl FnOnce(&mut HashMap<Key, Vec<Instant>>) -> T) -> T {
        match self.failures.lock() {
            Ok(mut m) => f(&mut m),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    /// Refuses an attempt for an account or address over its limit.
    pub fn check(&self, email: &str, addr: Option<IpAddr>) -> Result<(), Throttled> {
        let now = Instant::now();
        self.with_failures(|m| {
            for (key, max) in keys(email, addr) {
                if let Some(times) = m.get_mut(&key) {
                    times.retain(|t| now.duration_since(*t) < WINDOW);
                    if times.len() >= max {
                        let oldest = times.first().copied().unwrap_or(now);
                        let wait = WINDOW.saturating_sub(now.duration_since(oldest));
                        return Err(Throttled::TooMany(wait.as_secs().max(1)));
                    }
                }
            }
            Ok(())
        })
    }

    /// Counts a failed attempt against the account and the address.
    pub fn failed(&self, email: &str, addr: Option<IpAddr>) {
        let now = Instant::now();
        self.with_failures(|m| {
            if m.len() >= MAX_TRACKED {
                m.retain(|_, times| times.iter().any(|t| now.duration_since(*t) < WINDOW));
                if m.len() >= MAX_TRACKED {
                    m.clear();
                }
            }
            for (key, max) in keys(email, addr) {
                let times = m.entry(key).or_default();
                times.retain(|t| now.duration_since(*t) < WINDOW);
                if times.len() < max {
                    times.push(now);
                }
            }
        });
    }

    /// A slot to hash a password in, waiting a little for one.
    pub async fn hashing_slot(&self) -> Result<SemaphorePermit<'_>, Throttled> {
        match tokio::time::timeout(HASH_QUEUE_WAIT, self.hashing.acquire()).await {
            Ok(Ok(p)) => Ok(p),
            _ => Err(Throttled::Busy),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eleventh_failure_in_a_minute_is_refused_for_that_account_only() {
        let g = LoginGuard::default();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..MAX_FAILURES_PER_ACCOUNT {
            assert_eq!(g.check("a@x.fr", Some(ip)), Ok(()));
            g.failed("a@x.fr", Some(ip));
        }
        assert!(matches!(
            g.check("A@x.fr ", Some(ip)),
            Err(Throttled::TooMany(_))
        ));
        assert_eq!(g.check("b@x.fr", Some(ip)), Ok(()));
    }

    #[test]
    fn one_address_guessing_many_accounts_is_refused() {
        let g = LoginGuard::default();
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        for i in 0..MAX_FAILURES_PER_ADDRESS {
            g.failed(&format!("u{i}@x.fr"), Some(ip));
        }
        assert!(g.check("new@x.fr", Some(ip)).is_err());
        assert_eq!(g.check("new@x.fr", None), Ok(()));
    }
}
