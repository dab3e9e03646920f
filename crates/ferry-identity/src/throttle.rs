//! Slowing down password guessing, as Cognito does: after five failed
//! sign-ins a name is locked for a time that doubles with each further
//! failure (1 s, 2 s, 4 s, … up to 15 minutes), and a client address that
//! fails too often in a short window is refused for a while.
//!
//! Names that are not users are tracked exactly like users, so the lockout
//! reveals nothing about who exists.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Failures allowed before a name is locked.
const FREE_FAILURES: u32 = 5;
/// The longest lockout, in seconds.
const MAX_LOCK_SECONDS: i64 = 15 * 60;
/// Failed sign-ins one address may make per window.
const ADDRESS_FAILURES_PER_WINDOW: u32 = 50;
/// The address window, in seconds.
const ADDRESS_WINDOW_SECONDS: i64 = 5 * 60;
/// Entries kept before the oldest are forgotten, to bound memory.
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Clone, Copy, Default)]
struct NameState {
    failures: u32,
    locked_until: i64,
    last_failure: i64,
}

#[derive(Debug, Clone, Copy, Default)]
struct AddressState {
    window_start: i64,
    failures: u32,
}

/// Why a sign-in attempt was refused before checking the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The name is locked after too many failures.
    NameLocked,
    /// The client address failed too often recently.
    AddressThrottled,
}

/// Failure counts per name and per client address.
#[derive(Debug, Default)]
pub struct Throttle {
    names: Mutex<HashMap<String, NameState>>,
    addresses: Mutex<HashMap<IpAddr, AddressState>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Throttle {
    /// Whether an attempt for `name` from `address` may go ahead at `now`.
    pub fn check(&self, name: &str, address: Option<IpAddr>, now: i64) -> Result<(), Refusal> {
        if let Some(address) = address {
            let addresses = lock(&self.addresses);
            if let Some(state) = addresses.get(&address)
                && now - state.window_start < ADDRESS_WINDOW_SECONDS
                && state.failures >= ADDRESS_FAILURES_PER_WINDOW
            {
                return Err(Refusal::AddressThrottled);
            }
        }
        match lock(&self.names).get(name) {
            Some(state) if state.locked_until > now => Err(Refusal::NameLocked),
            _ => Ok(()),
        }
    }

    /// Records a failed attempt.
    pub fn failed(&self, name: &str, address: Option<IpAddr>, now: i64) {
        {
            let mut names = lock(&self.names);
            if names.len() >= MAX_ENTRIES {
                // Forget names whose lock has long passed.
                names.retain(|_, s| now - s.last_failure < MAX_LOCK_SECONDS);
            }
            let state = names.entry(name.to_owned()).or_default();
            state.failures += 1;
            state.last_failure = now;
            if state.failures >= FREE_FAILURES {
                let doublings = (state.failures - FREE_FAILURES).min(20);
                state.locked_until = now + (1i64 << doublings).min(MAX_LOCK_SECONDS);
            }
        }
        if let Some(address) = address {
            let mut addresses = lock(&self.addresses);
            if addresses.len() >= MAX_ENTRIES {
                addresses.retain(|_, s| now - s.window_start < ADDRESS_WINDOW_SECONDS);
            }
            let state = addresses.entry(address).or_default();
            if now - state.window_start >= ADDRESS_WINDOW_SECONDS {
                *state = AddressState {
                    window_start: now,
                    failures: 0,
                };
            }
            state.failures += 1;
        }
    }

    /// Records a successful sign-in: the name's count starts over.
    pub fn succeeded(&self, name: &str) {
        lock(&self.names).remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_then_a_doubling_lock() {
        let throttle = Throttle::default();
        for _ in 0..4 {
            throttle.failed("alice", None, 100);
            assert_eq!(throttle.check("alice", None, 100), Ok(()));
        }
        throttle.failed("alice", None, 100);
        assert_eq!(throttle.check("alice", None, 100), Err(Refusal::NameLocked));
        assert_eq!(throttle.check("alice", None, 101), Ok(()), "1 s lock");
        throttle.failed("alice", None, 101);
        assert_eq!(
            throttle.check("alice", None, 102),
            Err(Refusal::NameLocked),
            "2 s lock"
        );
        assert_eq!(throttle.check("alice", None, 103), Ok(()));
        for _ in 0..30 {
            throttle.failed("alice", None, 200);
        }
        assert_eq!(
            throttle.check("alice", None, 200 + MAX_LOCK_SECONDS - 1),
            Err(Refusal::NameLocked)
        );
        assert_eq!(
            throttle.check("alice", None, 200 + MAX_LOCK_SECONDS),
            Ok(()),
            "capped"
        );
        throttle.succeeded("alice");
        throttle.failed("alice", None, 300);
        assert_eq!(
            throttle.check("alice", None, 300),
            Ok(()),
            "a success starts over"
        );
    }

    #[test]
    fn an_address_that_fails_too_often_is_refused_for_a_while() {
        let throttle = Throttle::default();
        let address: IpAddr = "127.0.0.2".parse().unwrap();
        for i in 0..ADDRESS_FAILURES_PER_WINDOW {
            throttle.failed(&format!("user{i}"), Some(address), 10);
        }
        assert_eq!(
            throttle.check("someone", Some(address), 11),
            Err(Refusal::AddressThrottled)
        );
        assert_eq!(
            throttle.check("someone", Some("127.0.0.3".parse().unwrap()), 11),
            Ok(())
        );
        assert_eq!(
            throttle.check("someone", Some(address), 10 + ADDRESS_WINDOW_SECONDS),
            Ok(())
        );
    }
}
