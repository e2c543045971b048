//! A bounded cache of rewrite templates keyed by statement text, dialect, policy-set
//! version and relations fingerprint, so a repeated statement shape costs one lookup plus
//! rendering the caller's values.
//!
//! Owns eviction (least recently used). Must not know about callers or policies' storage.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use super::policy::PolicySet;
use super::relations::Relations;
use super::template::{Rewritten, Template};
use super::values::Context;
use crate::error::DbError;
use crate::plan::Dialect;

/// Default number of cached statement shapes.
pub const DEFAULT_RLS_CACHE_ENTRIES: usize = 1024;

/// Longer statements are rewritten on every call instead of cached, so the cache's memory
/// stays bounded by entries × this size.
pub const MAX_CACHED_SQL_BYTES: usize = 16 * 1024;

type Outcome = Result<Arc<Template>, DbError>;

#[derive(Debug)]
struct Entry {
    sql: String,
    dialect: Dialect,
    version: u64,
    relations: u64,
    outcome: Outcome,
    used: u64,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<u64, Vec<Entry>>,
    len: usize,
    tick: u64,
}

/// Thread-safe LRU of rewrite templates (denials are cached too: a shape denied for a
/// policy set stays denied).
#[derive(Debug)]
pub struct RlsCache {
    inner: Mutex<Inner>,
    capacity: usize,
}

impl Default for RlsCache {
    fn default() -> Self {
        Self::new(DEFAULT_RLS_CACHE_ENTRIES)
    }
}

impl RlsCache {
    /// A cache holding at most `capacity` shapes (at least one).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            capacity: capacity.max(1),
        }
    }

    /// Number of cached shapes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner.lock().map_or(0, |i| i.len)
    }

    /// True when nothing is cached.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// [`super::rewrite`] through the cache.
    ///
    /// # Errors
    /// As [`super::rewrite`].
    pub fn rewrite(
        &self,
        sql: &str,
        dialect: Dialect,
        policies: &PolicySet,
        relations: &Relations,
        ctx: &Context<'_>,
    ) -> Result<Rewritten, DbError> {
        self.template(sql, dialect, policies, relations)?
            .render(ctx)
    }

    /// The template for a statement shape, built on a miss.
    ///
    /// # Errors
    /// As [`super::build_template`].
    pub fn template(
        &self,
        sql: &str,
        dialect: Dialect,
        policies: &PolicySet,
        relations: &Relations,
    ) -> Result<Arc<Template>, DbError> {
        let version = policies.version();
        let rel = relations.fingerprint();
        let key = {
            let mut h = DefaultHasher::new();
            (sql, dialect, version, rel).hash(&mut h);
            h.finish()
        };
        if let Ok(mut inner) = self.inner.lock() {
            inner.tick += 1;
            let tick = inner.tick;
            if let Some(e) = inner.map.get_mut(&key).and_then(|b| {
                b.iter_mut().find(|e| {
                    e.sql == sql
                        && e.dialect == dialect
                        && e.version == version
                        && e.relations == rel
                })
            }) {
                e.used = tick;
                return e.outcome.clone();
            }
        }
        let outcome = super::build_template(sql, dialect, policies, relations).map(Arc::new);
        if sql.len() > MAX_CACHED_SQL_BYTES {
            return outcome;
        }
        if let Ok(mut inner) = self.inner.lock() {
            if inner.len >= self.capacity {
                evict(&mut inner);
            }
            inner.tick += 1;
            let used = inner.tick;
            inner.map.entry(key).or_default().push(Entry {
                sql: sql.to_owned(),
                dialect,
                version,
                relations: rel,
                outcome: outcome.clone(),
                used,
            });
            inner.len += 1;
        }
        outcome
    }
}

/// Drops the least recently used entry (a scan: only on a miss with a full cache).
fn evict(inner: &mut Inner) {
    let oldest = inner
        .map
        .iter()
        .flat_map(|(k, b)| b.iter().enumerate().map(move |(i, e)| (e.used, *k, i)))
        .min();
    if let Some((_, key, i)) = oldest
        && let Some(bucket) = inner.map.get_mut(&key)
    {
        bucket.remove(i);
        if bucket.is_empty() {
            inner.map.remove(&key);
        }
        inner.len -= 1;
    }
}
