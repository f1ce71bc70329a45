//! Browser sessions: a random token in an HttpOnly, SameSite=Strict cookie
//! (Secure behind TLS), stored hashed in memory with its CSRF token, its
//! user, its language and when it was last used. A "public computer"
//! session has a cookie that dies with the browser and ends after 30 idle
//! minutes; others end after 12 idle hours. Logging out ends it at once;
//! a user removed from the directory loses every session on their next
//! request. Sessions live in memory: a restart logs everyone out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use automerge::ActorId;
use carnet_core::text::Lang;

use crate::auth;

pub const COOKIE: &str = "carnet_session";
pub const PUBLIC_IDLE: Duration = Duration::from_secs(30 * 60);
pub const PRIVATE_IDLE: Duration = Duration::from_secs(12 * 3600);
/// Sessions kept at most (the oldest idle one goes first).
pub const MAX_SESSIONS: usize = 10_000;

#[derive(Clone, Debug)]
pub struct WebSession {
    pub user: String,
    pub csrf: String,
    pub public: bool,
    pub lang: Lang,
    /// The actor of this session's changes (one per session, like a device).
    pub actor: ActorId,
    last: Instant,
}

impl WebSession {
    fn idle_limit(&self) -> Duration {
        if self.public {
            PUBLIC_IDLE
        } else {
            PRIVATE_IDLE
        }
    }
}

#[derive(Default)]
pub struct Sessions {
    by_hash: Mutex<HashMap<String, WebSession>>,
}

impl Sessions {
    /// Opens a session; returns its cookie token.
    pub fn open(&self, user: &str, public: bool, lang: Lang) -> String {
        let token = auth::new_token();
        let s = WebSession {
            user: user.to_string(),
            csrf: auth::new_token(),
            public,
            lang,
            actor: ActorId::random(),
            last: Instant::now(),
        };
        let mut m = self.lock();
        if m.len() >= MAX_SESSIONS {
            m.retain(|_, s| s.last.elapsed() < s.idle_limit());
            if m.len() >= MAX_SESSIONS {
                if let Some(oldest) = m.iter().min_by_key(|(_, s)| s.last).map(|(k, _)| k.clone()) {
                    m.remove(&oldest);
                }
            }
        }
        m.insert(auth::token_hash(&token), s);
        token
    }

    /// The live session of a cookie token, touched; `None` when unknown or
    /// idle too long (then it is forgotten).
    pub fn get(&self, token: &str) -> Option<WebSession> {
        let key = auth::token_hash(token);
        let mut m = self.lock();
        let s = m.get_mut(&key)?;
        if s.last.elapsed() >= s.idle_limit() {
            m.remove(&key);
            return None;
        }
        s.last = Instant::now();
        Some(s.clone())
    }

    pub fn set_lang(&self, token: &str, lang: Lang) {
        if let Some(s) = self.lock().get_mut(&auth::token_hash(token)) {
            s.lang = lang;
        }
    }

    pub fn close(&self, token: &str) {
        self.lock().remove(&auth::token_hash(token));
    }

    /// Ends every session of `user` (deactivated).
    pub fn close_user(&self, user: &str) {
        self.lock().retain(|_, s| s.user != user);
    }

    /// Makes a session look idle for `by` (tests of the idle limit).
    #[cfg(test)]
    pub fn age(&self, token: &str, by: Duration) {
        if let Some(s) = self.lock().get_mut(&auth::token_hash(token)) {
            s.last = s.last.checked_sub(by).unwrap_or(s.last);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, WebSession>> {
        self.by_hash.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|part| {
        let (k, v) = part.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// The `Set-Cookie` value of a session.
pub fn set_cookie(token: &str, public: bool, secure: bool) -> String {
    let mut c = format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
    if !public {
        c.push_str(&format!("; Max-Age={}", PRIVATE_IDLE.as_secs()));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

pub fn clear_cookie(secure: bool) -> String {
    let mut c = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    if secure {
        c.push_str("; Secure");
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_sessions_end_after_thirty_idle_minutes() {
        let s = Sessions::default();
        let public = s.open("a@x.fr", true, Lang::Fr);
        let private = s.open("a@x.fr", false, Lang::Fr);
        s.age(&public, Duration::from_secs(29 * 60));
        assert!(s.get(&public).is_some(), "29 minutes idle is still in");
        s.age(&public, Duration::from_secs(30 * 60));
        assert!(s.get(&public).is_none());
        s.age(&private, Duration::from_secs(31 * 60));
        assert!(s.get(&private).is_some());
        s.close_user("a@x.fr");
        assert!(s.get(&private).is_none());
    }

    #[test]
    fn cookies_are_http_only_and_strict_and_public_ones_die_with_the_browser() {
        let c = set_cookie("t", true, false);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict"));
        assert!(!c.contains("Max-Age") && !c.contains("Secure"));
        assert!(set_cookie("t", false, true).contains("Max-Age=43200; Secure"));
        assert_eq!(cookie("a=1; carnet_session=abc; b=2", COOKIE), Some("abc"));
        assert_eq!(cookie("xcarnet_session=abc", COOKIE), None);
    }
}
