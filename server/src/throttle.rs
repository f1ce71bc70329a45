//! Password guessing: failed logins are counted per account and per
//! address in a sliding minute; past the limit further attempts are refused
//! before any hashing (the right password too, until the window passes).
//! Hashing itself (argon2, ~19 MiB and ~20 ms each) runs on a few threads
//! of its own with a short queue, so a flood of logins can neither take the
//! server's memory (each thread reuses its allocation) nor its blocking
//! pool. The sync login and the web app's login (to come) share one
//! `LoginGuard`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// Failed logins allowed per account in one window.
pub const MAX_FAILURES_PER_ACCOUNT: usize = 10;
/// Failed logins allowed per address in one window (an office shares one).
pub const MAX_FAILURES_PER_ADDRESS: usize = 30;
pub const WINDOW: Duration = Duration::from_secs(60);
/// Threads that compute password hashes.
pub const HASH_THREADS: usize = 2;
/// Logins waiting for a hashing thread before "busy".
pub const HASH_QUEUE: usize = 64;
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

type Job = Box<dyn FnOnce() + Send>;

pub struct LoginGuard {
    failures: Mutex<HashMap<Key, Vec<Instant>>>,
    hashing: Mutex<std::sync::mpsc::SyncSender<Job>>,
}

impl Default for LoginGuard {
    fn default() -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(HASH_QUEUE);
        let rx = std::sync::Arc::new(Mutex::new(rx));
        for i in 0..HASH_THREADS {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("carnet-hash-{i}"))
                .spawn(move || loop {
                    let job = match rx.lock() {
                        Ok(r) => r.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return, // the guard is gone
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "no password hashing thread");
            }
        }
        LoginGuard {
            failures: Mutex::new(HashMap::new()),
            hashing: Mutex::new(tx),
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

    /// Refuses an attempt for an account or address over its limit; else
    /// counts it as a failure until `forgive` says it was not one. Counted
    /// up front, parallel attempts cannot all slip under the limit.
    pub fn attempt(&self, email: &str, addr: Option<IpAddr>) -> Result<(), Throttled> {
        let now = Instant::now();
        self.with_failures(|m| {
            let keys = keys(email, addr);
            for (key, max) in &keys {
                if let Some(times) = m.get_mut(key) {
                    times.retain(|t| now.duration_since(*t) < WINDOW);
                    if times.len() >= *max {
                        let oldest = times.first().copied().unwrap_or(now);
                        let wait = WINDOW.saturating_sub(now.duration_since(oldest));
                        return Err(Throttled::TooMany(wait.as_secs().max(1)));
                    }
                }
            }
            if m.len() >= MAX_TRACKED {
                m.retain(|_, times| times.iter().any(|t| now.duration_since(*t) < WINDOW));
                if m.len() >= MAX_TRACKED {
                    m.clear();
                }
            }
            for (key, _) in keys {
                m.entry(key).or_default().push(now);
            }
            Ok(())
        })
    }

    /// The attempt succeeded: it no longer counts as a failure.
    pub fn forgive(&self, email: &str, addr: Option<IpAddr>) {
        self.with_failures(|m| {
            for (key, _) in keys(email, addr) {
                if let Some(times) = m.get_mut(&key) {
                    times.pop();
                }
            }
        });
    }

    /// Runs password hashing (`f`) on the hashing threads; "busy" when
    /// too many logins wait already.
    pub async fn hash<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Throttled> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        let queued = match self.hashing.lock() {
            Ok(q) => q.try_send(job).is_ok(),
            Err(_) => false,
        };
        if !queued {
            return Err(Throttled::Busy);
        }
        rx.await.map_err(|_| Throttled::Busy)
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
            assert_eq!(g.attempt("a@x.fr", Some(ip)), Ok(()));
        }
        assert!(matches!(
            g.attempt("A@x.fr ", Some(ip)),
            Err(Throttled::TooMany(_))
        ));
        assert_eq!(g.attempt("b@x.fr", Some(ip)), Ok(()));
    }

    #[test]
    fn one_address_guessing_many_accounts_is_refused() {
        let g = LoginGuard::default();
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        for i in 0..MAX_FAILURES_PER_ADDRESS {
            assert_eq!(g.attempt(&format!("u{i}@x.fr"), Some(ip)), Ok(()));
        }
        assert!(g.attempt("new@x.fr", Some(ip)).is_err());
        assert_eq!(g.attempt("new@x.fr", None), Ok(()));
    }

    #[test]
    fn a_successful_login_is_not_counted_as_a_failure() {
        let g = LoginGuard::default();
        for _ in 0..MAX_FAILURES_PER_ACCOUNT * 2 {
            assert_eq!(g.attempt("a@x.fr", None), Ok(()));
            g.forgive("a@x.fr", None);
        }
    }
}
