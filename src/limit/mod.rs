//! Rate limits shared by every frontend: requests per credential, requests per client
//! address, and failed logins per client address.
//!
//! Owns `RateLimiter` and `RateLimited` (SQLSTATE `53400` configuration_limit_exceeded, with
//! the time after which a retry can succeed). Credentials are keyed by a keyed hash (random
//! per process), never stored; IPv6 addresses count by /64 (one host usually has the whole
//! prefix), IPv4-mapped ones as IPv4. Frontends decide what counts as a request (an HTTP
//! request, a WebSocket message, a pgwire query). Must not know any frontend's types.

mod bucket;

use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

use starbase_protocol::{DbError, SqlState};

use crate::config::RateLimits;
use bucket::Buckets;

/// Most keys tracked per limit (about 40 bytes each).
pub const MAX_TRACKED_KEYS: NonZeroUsize = NonZeroUsize::new(100_000).expect("nonzero");

/// Which limit was hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// Requests per credential.
    Token,
    /// Requests per client address.
    Address,
    /// Failed logins per client address.
    AuthFailures,
}

/// A request refused by a rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct RateLimited {
    /// The limit that was hit.
    pub kind: LimitKind,
    /// When a retry can succeed.
    pub retry_after: Duration,
}

impl RateLimited {
    /// Seconds to wait, rounded up (at least 1): the `Retry-After` value.
    #[must_use]
    pub fn retry_after_secs(&self) -> u64 {
        let whole = self.retry_after.as_secs();
        let up = u64::from(self.retry_after.subsec_nanos() > 0);
        (whole + up).max(1)
    }

    fn message(&self) -> String {
        let what = match self.kind {
            LimitKind::Token => "too many requests with this token",
            LimitKind::Address => "too many requests from this address",
            LimitKind::AuthFailures => "too many failed authentication attempts from this address",
        };
        format!("rate limit exceeded: {what}")
    }

    /// `53400` configuration_limit_exceeded, the hint saying when to retry.
    #[must_use]
    pub fn to_db_error(&self) -> DbError {
        DbError::new(SqlState::CONFIGURATION_LIMIT_EXCEEDED, self.message())
            .with_hint(format!("retry after {} s", self.retry_after_secs()))
    }
}

/// The configured limits; each one that is off costs nothing.
#[derive(Debug)]
pub struct RateLimiter {
    per_token: Option<Buckets>,
    per_addr: Option<Buckets>,
    auth_failures: Option<Buckets>,
    hasher: RandomState,
}

impl RateLimiter {
    /// The limits of `limits`.
    #[must_use]
    pub fn new(limits: &RateLimits) -> Self {
        let buckets =
            |l: Option<crate::config::RateLimit>| l.map(|l| Buckets::new(l, MAX_TRACKED_KEYS));
        Self {
            per_token: buckets(limits.per_token),
            per_addr: buckets(limits.per_addr),
            auth_failures: buckets(limits.auth_failures),
            hasher: RandomState::new(),
        }
    }

    /// No limits.
    #[must_use]
    pub fn disabled() -> Self {
        Self::new(&RateLimits::default())
    }

    fn addr_key(&self, addr: IpAddr) -> u64 {
        let addr = match addr {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    IpAddr::V6(prefix.into())
                }
            },
            v4 @ IpAddr::V4(_) => v4,
        };
        self.hasher.hash_one(addr)
    }

    /// Counts one request from `addr` (none known: not limited by address).
    ///
    /// # Errors
    /// [`RateLimited`] when the address is over its limit.
    pub fn check_addr(&self, addr: Option<IpAddr>) -> Result<(), RateLimited> {
        match (&self.per_addr, addr) {
            (Some(b), Some(addr)) => {
                b.take(self.addr_key(addr))
                    .map_err(|retry_after| RateLimited {
                        kind: LimitKind::Address,
                        retry_after,
                    })
            }
            _ => Ok(()),
        }
    }

    /// The key `token` is counted by: a keyed hash, so the token itself is never kept.
    #[must_use]
    pub fn credential_key(&self, token: &str) -> u64 {
        self.hasher.hash_one(token)
    }

    /// Counts one request made with `token` (the credential as presented).
    ///
    /// # Errors
    /// [`RateLimited`] when the credential is over its limit.
    pub fn check_token(&self, token: &str) -> Result<(), RateLimited> {
        self.check_credential(self.credential_key(token))
    }

    /// Counts one request made with the credential of this [`Self::credential_key`].
    ///
    /// # Errors
    /// [`RateLimited`] when the credential is over its limit.
    pub fn check_credential(&self, key: u64) -> Result<(), RateLimited> {
        match &self.per_token {
            Some(b) => b.take(key).map_err(|retry_after| RateLimited {
                kind: LimitKind::Token,
                retry_after,
            }),
            None => Ok(()),
        }
    }

    /// Counts one request: its address, then its credential.
    ///
    /// # Errors
    /// [`RateLimited`] when either is over its limit.
    pub fn check_request(&self, addr: Option<IpAddr>, token: &str) -> Result<(), RateLimited> {
        self.check_addr(addr)?;
        self.check_token(token)
    }

    /// Whether `addr` may try to authenticate (it has failed logins left); nothing is counted.
    ///
    /// # Errors
    /// [`RateLimited`] while the address has used up its failed logins.
    pub fn check_auth_allowed(&self, addr: Option<IpAddr>) -> Result<(), RateLimited> {
        match (&self.auth_failures, addr) {
            (Some(b), Some(addr)) => {
                b.peek(self.addr_key(addr))
                    .map_err(|retry_after| RateLimited {
                        kind: LimitKind::AuthFailures,
                        retry_after,
                    })
            }
            _ => Ok(()),
        }
    }

    /// Records a failed login from `addr`.
    pub fn record_auth_failure(&self, addr: Option<IpAddr>) {
        if let (Some(b), Some(addr)) = (&self.auth_failures, addr) {
            b.drain_one(self.addr_key(addr));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RateLimit;

    fn one_per_minute() -> Option<RateLimit> {
        Some(RateLimit {
            per_second: 1.0 / 60.0,
            burst: 1,
        })
    }

    #[test]
    fn tokens_and_addresses_have_separate_buckets() {
        let l = RateLimiter::new(&RateLimits {
            per_token: one_per_minute(),
            per_addr: one_per_minute(),
            auth_failures: one_per_minute(),
        });
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(l.check_request(Some(a), "t1").is_ok());
        let e = l.check_request(Some(a), "t2").unwrap_err();
        assert_eq!(e.kind, LimitKind::Address);
        assert_eq!(e.retry_after_secs(), 60);
        let c: IpAddr = "192.0.2.3".parse().unwrap();
        let e = l.check_request(Some(b), "t1").unwrap_err();
        assert_eq!(e.kind, LimitKind::Token);
        assert_eq!(e.to_db_error().code.as_str(), "53400");
        assert!(l.check_request(Some(c), "t3").is_ok());
    }

    #[test]
    fn ipv6_counts_by_prefix_and_mapped_v4_as_v4() {
        let l = RateLimiter::new(&RateLimits {
            per_addr: one_per_minute(),
            ..RateLimits::default()
        });
        assert!(
            l.check_addr(Some("2001:db8:1:2::1".parse().unwrap()))
                .is_ok()
        );
        assert!(
            l.check_addr(Some("2001:db8:1:2::ffff".parse().unwrap()))
                .is_err()
        );
        assert!(
            l.check_addr(Some("2001:db8:1:3::1".parse().unwrap()))
                .is_ok()
        );
        assert!(l.check_addr(Some("192.0.2.9".parse().unwrap())).is_ok());
        assert!(
            l.check_addr(Some("::ffff:192.0.2.9".parse().unwrap()))
                .is_err()
        );
        assert!(l.check_addr(None).is_ok());
    }

    #[test]
    fn failed_logins_block_the_address() {
        let l = RateLimiter::new(&RateLimits {
            auth_failures: Some(RateLimit {
                per_second: 1.0,
                burst: 2,
            }),
            ..RateLimits::default()
        });
        let a = Some("192.0.2.1".parse().unwrap());
        assert!(l.check_auth_allowed(a).is_ok());
        l.record_auth_failure(a);
        assert!(l.check_auth_allowed(a).is_ok());
        l.record_auth_failure(a);
        let e = l.check_auth_allowed(a).unwrap_err();
        assert_eq!(e.kind, LimitKind::AuthFailures);
        assert_eq!(e.retry_after_secs(), 1);
        assert!(
            l.check_auth_allowed(Some("192.0.2.2".parse().unwrap()))
                .is_ok()
        );
        assert!(RateLimiter::disabled().check_request(a, "x").is_ok());
    }
}
