//! Token buckets in a bounded map: the state behind one rate limit.
//!
//! Owns `Buckets`: at most `capacity` buckets, least recently used evicted first, so a
//! client with many addresses or tokens cannot grow memory without bound (an evicted key
//! starts again with a full bucket, which is never stricter than before). Keys are opaque
//! 64-bit hashes. Must not know what is being counted.

use std::num::NonZeroUsize;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use lru::LruCache;
use tokio::time::Instant;

use crate::config::RateLimit;

/// One key's bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// The buckets of one limit.
#[derive(Debug)]
pub(super) struct Buckets {
    limit: RateLimit,
    map: Mutex<LruCache<u64, Bucket>>,
}

impl Buckets {
    /// Buckets refilling at `limit`, at most `capacity` of them.
    pub(super) fn new(limit: RateLimit, capacity: NonZeroUsize) -> Self {
        Self {
            limit,
            map: Mutex::new(LruCache::new(capacity)),
        }
    }

    /// Refills `key`'s bucket for the time passed and runs `f` on it.
    fn with<T>(&self, key: u64, now: Instant, f: impl FnOnce(&mut Bucket, f64) -> T) -> T {
        let burst = f64::from(self.limit.burst);
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = map.get_or_insert_mut(key, || Bucket {
            tokens: burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.limit.per_second).min(burst);
        bucket.updated = now;
        f(bucket, self.limit.per_second)
    }

    /// Takes one token from `key`'s bucket, or says how long until one is there.
    pub(super) fn take(&self, key: u64) -> Result<(), Duration> {
        self.take_at(key, Instant::now())
    }

    /// [`Self::take`] as of `now`.
    fn take_at(&self, key: u64, now: Instant) -> Result<(), Duration> {
        self.with(key, now, |bucket, rate| {
            if bucket.tokens >= 1.0 {
                bucket.tokens -= 1.0;
                Ok(())
            } else {
                Err(wait(bucket.tokens, rate))
            }
        })
    }

    /// Whether `key`'s bucket has a token, without taking it.
    pub(super) fn peek(&self, key: u64) -> Result<(), Duration> {
        self.with(key, Instant::now(), |bucket, rate| {
            if bucket.tokens >= 1.0 {
                Ok(())
            } else {
                Err(wait(bucket.tokens, rate))
            }
        })
    }

    /// Takes one token if there is one (a failed login uses up a try either way).
    pub(super) fn drain_one(&self, key: u64) {
        self.with(key, Instant::now(), |bucket: &mut Bucket, _| {
            bucket.tokens = (bucket.tokens - 1.0).max(0.0);
        });
    }

    /// Number of buckets held.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// Time until a bucket holding `tokens` has one again.
fn wait(tokens: f64, rate: f64) -> Duration {
    Duration::try_from_secs_f64((1.0 - tokens) / rate).unwrap_or(Duration::from_secs(3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buckets(per_second: f64, burst: u32, cap: usize) -> Buckets {
        Buckets::new(
            RateLimit { per_second, burst },
            NonZeroUsize::new(cap).unwrap(),
        )
    }

    #[test]
    fn burst_then_refill() {
        let b = buckets(2.0, 3, 10);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(b.take_at(1, t0).is_ok());
        }
        let wait = b.take_at(1, t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        assert!(b.take_at(2, t0).is_ok(), "other keys have their own bucket");
        let t1 = t0 + Duration::from_millis(500);
        assert!(b.take_at(1, t1).is_ok());
        assert!(b.take_at(1, t1).is_err());
        let t2 = t1 + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(b.take_at(1, t2).is_ok(), "refills up to the burst only");
        }
        assert!(b.take_at(1, t2).is_err());
    }

    #[test]
    fn peek_and_drain() {
        let b = buckets(1.0, 2, 10);
        assert!(b.peek(7).is_ok());
        b.drain_one(7);
        b.drain_one(7);
        b.drain_one(7);
        assert!(b.peek(7).is_err());
        assert!(b.take(7).is_err());
    }

    #[test]
    fn memory_is_bounded() {
        let b = buckets(1.0, 1, 100);
        for key in 0..10_000 {
            let _ = b.take(key);
        }
        assert_eq!(b.len(), 100);
        // The most recent keys are still limited.
        assert!(b.take(9_999).is_err());
    }
}
