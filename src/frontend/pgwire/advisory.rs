//! PostgreSQL's advisory locks (`pg_advisory_lock` and friends) for pgwire sessions,
//! gateway-wide.
//!
//! Owns `AdvisoryLocks`: session-level locks are re-entrant per connection and held until
//! unlocked or the connection ends; transaction-level ones end with the transaction. A
//! waiting `pg_advisory_lock` sleeps on a notification (never on an async worker's thread)
//! and is cancellable with the connection's query. Must not know the wire or SQL.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use tokio::sync::Notify;

/// Who holds a key, and how often.
#[derive(Debug, Clone, Copy)]
struct Holder {
    conn: u64,
    count: u32,
}

/// The gateway's advisory lock table.
#[derive(Debug, Default)]
pub struct AdvisoryLocks {
    held: Mutex<HashMap<i64, Holder>>,
    released: Notify,
}

impl AdvisoryLocks {
    /// Takes `key` for `conn` if it is free or already `conn`'s; true when taken.
    pub fn try_lock(&self, conn: u64, key: i64) -> bool {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        match held.get_mut(&key) {
            Some(h) if h.conn == conn => {
                h.count += 1;
                true
            }
            Some(_) => false,
            None => {
                held.insert(key, Holder { conn, count: 1 });
                true
            }
        }
    }

    /// Waits until `key` can be taken for `conn`, then takes it.
    pub async fn lock(&self, conn: u64, key: i64) {
        loop {
            let released = self.released.notified();
            if self.try_lock(conn, key) {
                return;
            }
            released.await;
        }
    }

    /// Releases one hold of `key` by `conn`; false when `conn` did not hold it.
    pub fn unlock(&self, conn: u64, key: i64) -> bool {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(h) = held.get_mut(&key).filter(|h| h.conn == conn) else {
            return false;
        };
        h.count -= 1;
        if h.count == 0 {
            held.remove(&key);
            self.released.notify_waiters();
        }
        true
    }

    /// Releases every lock `conn` holds (unlock_all, or the connection ended).
    pub fn unlock_all(&self, conn: u64) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let before = held.len();
        held.retain(|_, h| h.conn != conn);
        if held.len() != before {
            self.released.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn locks_are_reentrant_exclusive_and_wake_waiters() {
        let locks = std::sync::Arc::new(AdvisoryLocks::default());
        assert!(locks.try_lock(1, 7));
        assert!(locks.try_lock(1, 7));
        assert!(!locks.try_lock(2, 7));
        assert!(!locks.unlock(2, 7));
        let waiter = {
            let locks = std::sync::Arc::clone(&locks);
            tokio::spawn(async move { locks.lock(2, 7).await })
        };
        assert!(locks.unlock(1, 7));
        locks.unlock_all(1);
        tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
            .await
            .unwrap()
            .unwrap();
        assert!(!locks.try_lock(1, 7));
        locks.unlock_all(2);
        assert!(locks.try_lock(1, 7));
    }
}
