//! The account-wide slow-down of password guessing.
//!
//! Per-address limits (in the HTTP frontend) stop one address from guessing; they do not stop
//! many addresses guessing one account. Locking the account would hand anyone who knows an
//! e-mail address a way to keep its owner out, so — as OWASP's authentication guidance
//! advises — the account is *slowed*, not locked:
//!
//! - An account may see [`ThrottleConfig::free_failures`] wrong passwords per
//!   [`ThrottleConfig::window`], from any number of addresses, at full speed.
//! - Past that, its login attempts take turns: each waits for the next free slot, one every
//!   [`ThrottleConfig::spacing`], so the account sees at most one guess per slot however many
//!   addresses send them. An attempt that would wait longer than
//!   [`ThrottleConfig::max_wait`] is answered at once with the time to come back, and checks
//!   no password.
//! - A client (an address, as the frontend names it) that signed in to the account within
//!   [`ThrottleConfig::trusted_for`] skips the queue: the owner at their usual place keeps
//!   signing in at once while strangers wait. This is OWASP's "device cookie" idea, keyed by
//!   what the frontend knows of the client.
//!
//! The state is in memory, per process (like the per-address limits): several web processes
//! each slow an account on their own, and a restart forgets.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::time::Timestamp;

/// The slow-down's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Wrong passwords an account may see per window before it is slowed. By default, 20.
    pub free_failures: u32,
    /// The window failures are counted in. By default, 15 minutes.
    pub window: Duration,
    /// Time between two attempts once slowed. By default, 1 second.
    pub spacing: Duration,
    /// Longest an attempt waits for its turn before it is refused. By default, 10 seconds.
    pub max_wait: Duration,
    /// How long a client that signed in skips the queue. By default, 30 days.
    pub trusted_for: Duration,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            free_failures: 20,
            window: Duration::from_secs(15 * 60),
            spacing: Duration::from_secs(1),
            max_wait: Duration::from_secs(10),
            trusted_for: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// What an attempt may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Check the password now.
    Now,
    /// Wait this long, then check the password.
    After(Duration),
    /// Do not check the password; come back after this long.
    Refused(Duration),
}

/// Clients remembered per account as having signed in.
const TRUSTED_PER_ACCOUNT: usize = 16;
/// Accounts tracked before idle ones are forgotten.
const TRACKED_ACCOUNTS: usize = 10_000;
/// Accounts tracked at most (about 10 MB), however many are busy.
const MAX_TRACKED_ACCOUNTS: usize = 100_000;

#[derive(Debug, Default)]
struct Account {
    window_start: Option<Timestamp>,
    failures: u32,
    /// The next free slot, once slowed.
    next_slot: Option<Timestamp>,
    /// Clients that signed in, and when.
    trusted: Vec<(String, Timestamp)>,
}

impl Account {
    fn failures_at(&self, now: Timestamp, window: Duration) -> u32 {
        match self.window_start {
            Some(start)
                if now
                    .signed_duration_since(start)
                    .to_std()
                    .unwrap_or_default()
                    < window =>
            {
                self.failures
            }
            _ => 0,
        }
    }

    fn trusts(&self, client: &str, now: Timestamp, trusted_for: Duration) -> bool {
        self.trusted.iter().any(|(c, at)| {
            c == client && now.signed_duration_since(*at).to_std().unwrap_or_default() < trusted_for
        })
    }

    fn idle(&self, now: Timestamp, config: &ThrottleConfig) -> bool {
        self.failures_at(now, config.window) == 0
            && self.next_slot.is_none_or(|slot| slot <= now)
            && !self.trusted.iter().any(|(_, at)| {
                now.signed_duration_since(*at).to_std().unwrap_or_default() < config.trusted_for
            })
    }
}

/// Login attempts per account: see the module's documentation.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    config: ThrottleConfig,
    accounts: Mutex<Accounts>,
}

/// The tracked accounts, and when idle ones were last forgotten.
#[derive(Debug, Default)]
struct Accounts {
    map: HashMap<String, Account>,
    pruned_at: Option<Timestamp>,
}

impl Accounts {
    /// Whether `account` may be tracked: forgets idle accounts once the map is large — at
    /// most once a second, so a flood of new addresses costs no scan per attempt — and
    /// refuses new ones past the hard cap (per-address limits still apply to every attempt).
    fn room_for(&mut self, account: &str, now: Timestamp, config: &ThrottleConfig) -> bool {
        if self.map.len() < TRACKED_ACCOUNTS || self.map.contains_key(account) {
            return true;
        }
        let due = self
            .pruned_at
            .is_none_or(|at| now.signed_duration_since(at) >= chrono::Duration::seconds(1));
        if due {
            self.map.retain(|_, a| !a.idle(now, config));
            self.pruned_at = Some(now);
        }
        self.map.len() < MAX_TRACKED_ACCOUNTS
    }
}

impl LoginThrottle {
    /// A throttle with these numbers.
    #[must_use]
    pub fn new(config: ThrottleConfig) -> Self {
        Self {
            config,
            accounts: Mutex::default(),
        }
    }

    /// Its numbers.
    pub fn config(&self) -> &ThrottleConfig {
        &self.config
    }

    fn accounts(&self) -> std::sync::MutexGuard<'_, Accounts> {
        self.accounts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether an attempt on `account` from `client` may check a password at `now`, and
    /// when; an admitted attempt past the free failures takes the next slot.
    pub fn admit(&self, account: &str, client: Option<&str>, now: Timestamp) -> Admission {
        let config = self.config;
        let mut accounts = self.accounts();
        let Some(entry) = accounts.map.get_mut(account) else {
            return Admission::Now;
        };
        if client.is_some_and(|c| entry.trusts(c, now, config.trusted_for))
            || entry.failures_at(now, config.window) < config.free_failures
        {
            return Admission::Now;
        }
        let slot = entry.next_slot.filter(|slot| *slot > now).unwrap_or(now);
        let wait = slot.signed_duration_since(now).to_std().unwrap_or_default();
        if wait > config.max_wait {
            return Admission::Refused(wait - config.max_wait);
        }
        let spacing = chrono::Duration::from_std(config.spacing).unwrap_or(chrono::Duration::MAX);
        entry.next_slot = slot.checked_add_signed(spacing);
        if wait.is_zero() {
            Admission::Now
        } else {
            Admission::After(wait)
        }
    }

    /// Counts a wrong password for `account`.
    pub fn failed(&self, account: &str, now: Timestamp) {
        let config = self.config;
        let mut accounts = self.accounts();
        if !accounts.room_for(account, now, &config) {
            return;
        }
        let entry = accounts.map.entry(account.to_owned()).or_default();
        if entry.failures_at(now, config.window) == 0 {
            entry.window_start = Some(now);
            entry.failures = 0;
        }
        entry.failures = entry.failures.saturating_add(1);
    }

    /// Remembers that `client` signed in to `account`. The failures stay counted: an attacker
    /// elsewhere gains nothing from the owner's success.
    pub fn succeeded(&self, account: &str, client: Option<&str>, now: Timestamp) {
        let Some(client) = client else { return };
        let config = self.config;
        let mut accounts = self.accounts();
        if !accounts.room_for(account, now, &config) {
            return;
        }
        let entry = accounts.map.entry(account.to_owned()).or_default();
        entry.trusted.retain(|(c, _)| c != client);
        entry.trusted.push((client.to_owned(), now));
        if entry.trusted.len() > TRUSTED_PER_ACCOUNT {
            entry.trusted.remove(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn throttle() -> LoginThrottle {
        LoginThrottle::new(ThrottleConfig {
            free_failures: 3,
            ..ThrottleConfig::default()
        })
    }

    #[test]
    fn an_account_is_slowed_after_its_free_failures_not_locked() {
        let t = throttle();
        for i in 0..3 {
            assert_eq!(
                t.admit("ann", Some(&format!("10.0.0.{i}")), at(0)),
                Admission::Now
            );
            t.failed("ann", at(0));
        }
        // Past them, attempts from anywhere take turns a second apart …
        assert_eq!(t.admit("ann", Some("10.0.1.1"), at(0)), Admission::Now);
        assert_eq!(
            t.admit("ann", Some("10.0.1.2"), at(0)),
            Admission::After(Duration::from_secs(1))
        );
        assert_eq!(
            t.admit("ann", Some("10.0.1.3"), at(0)),
            Admission::After(Duration::from_secs(2))
        );
        // … another account is not slowed …
        assert_eq!(t.admit("bob", Some("10.0.1.3"), at(0)), Admission::Now);
        // … and once the window has passed, neither is this one.
        assert_eq!(
            t.admit("ann", Some("10.0.1.4"), at(15 * 60)),
            Admission::Now
        );
    }

    #[test]
    fn a_flood_past_the_longest_wait_is_refused_with_the_time_to_come_back() {
        let t = throttle();
        for _ in 0..3 {
            t.failed("ann", at(0));
        }
        for n in 0..=10 {
            assert_ne!(
                t.admit("ann", None, at(0)),
                Admission::Refused(Duration::ZERO),
                "attempt {n}"
            );
        }
        assert_eq!(
            t.admit("ann", None, at(0)),
            Admission::Refused(Duration::from_secs(1))
        );
        // A refused attempt takes no slot: five seconds on, the queue is five shorter.
        assert_eq!(
            t.admit("ann", None, at(5)),
            Admission::After(Duration::from_secs(6))
        );
    }

    #[test]
    fn a_flood_of_distinct_accounts_is_bounded() {
        let t = throttle();
        for n in 0..MAX_TRACKED_ACCOUNTS + 10 {
            t.failed(&format!("guess{n}@example.com"), at(0));
        }
        assert_eq!(t.accounts().map.len(), MAX_TRACKED_ACCOUNTS);
        // Once the window has passed, the idle ones go and new ones are tracked again.
        t.failed("late@example.com", at(15 * 60));
        assert_eq!(t.accounts().map.len(), 1);
    }

    #[test]
    fn a_client_that_signed_in_skips_the_queue() {
        let t = throttle();
        t.succeeded("ann", Some("192.0.2.7"), at(0));
        for _ in 0..50 {
            t.failed("ann", at(1));
        }
        for _ in 0..20 {
            let _ = t.admit("ann", Some("198.51.100.1"), at(1));
        }
        assert!(matches!(
            t.admit("ann", Some("198.51.100.1"), at(1)),
            Admission::Refused(_)
        ));
        assert_eq!(t.admit("ann", Some("192.0.2.7"), at(1)), Admission::Now);
        // Trust lapses.
        assert!(matches!(
            t.admit("ann", Some("192.0.2.7"), at(31 * 24 * 3600)),
            Admission::Now
        ));
        assert!(t.accounts().map["ann"].trusts("192.0.2.7", at(10), t.config.trusted_for));
        assert!(!t.accounts().map["ann"].trusts(
            "192.0.2.7",
            at(31 * 24 * 3600),
            t.config.trusted_for
        ));
    }
}
