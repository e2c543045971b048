//! The base tables of each external source, as row-level security needs them.
//!
//! On PostgreSQL and MySQL nothing watches what a statement really reads, so a restricted
//! statement may only name relations the source lists as base tables: a view (or anything
//! else) would read past the rewrite. The list is cached per source and read again whenever
//! a statement names a relation it lacks, so a table created since is found and a view
//! created since is still refused (a refused statement costs one catalog query, about what
//! running it would have cost). Must not know how the list is fetched.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use starbase_protocol::{DbError, SqlState};

/// Base tables by source name.
#[derive(Debug, Default)]
pub(super) struct Catalogs {
    by_source: Mutex<HashMap<String, Arc<BTreeSet<String>>>>,
}

impl Catalogs {
    fn cached(&self, source: &str) -> Option<Arc<BTreeSet<String>>> {
        let map = self
            .by_source
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        map.get(source).cloned()
    }

    /// Refuses the first of `relations` that is not a base table of `source`.
    pub(super) async fn check<F, Fut>(
        &self,
        source: &str,
        relations: &BTreeSet<String>,
        fetch: F,
    ) -> Result<(), DbError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<BTreeSet<String>, DbError>>,
    {
        if relations.is_empty() {
            return Ok(());
        }
        let missing =
            |tables: &BTreeSet<String>| relations.iter().find(|r| !tables.contains(*r)).cloned();
        let mut tables = self.cached(source).unwrap_or_default();
        if missing(&tables).is_some() {
            tables = Arc::new(fetch().await?);
            self.by_source
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(source.to_owned(), Arc::clone(&tables));
        }
        match missing(&tables) {
            None => Ok(()),
            Some(name) => Err(DbError::new(
                SqlState::INSUFFICIENT_PRIVILEGE,
                format!(
                    "permission denied: \"{name}\" is not a table of this source; under \
                     row-level security only tables can be read"
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn unknown_names_are_looked_up_again_then_refused() {
        let catalogs = Catalogs::default();
        let fetches = AtomicUsize::new(0);
        let tables: BTreeSet<String> = ["todos".to_owned()].into();
        let fetch = || {
            fetches.fetch_add(1, Ordering::Relaxed);
            let tables = tables.clone();
            async move { Ok(tables) }
        };
        let want = |names: &[&str]| names.iter().map(|s| (*s).to_owned()).collect();
        catalogs
            .check("pg", &want(&["todos"]), fetch)
            .await
            .unwrap();
        catalogs
            .check("pg", &want(&["todos"]), fetch)
            .await
            .unwrap();
        assert_eq!(fetches.load(Ordering::Relaxed), 1);
        let err = catalogs
            .check("pg", &want(&["todo_view"]), fetch)
            .await
            .unwrap_err();
        assert_eq!(err.code, SqlState::INSUFFICIENT_PRIVILEGE);
        assert!(err.message.contains("todo_view"), "{}", err.message);
        // An unknown name is looked up again before it is refused.
        assert_eq!(fetches.load(Ordering::Relaxed), 2);
        assert!(catalogs.check("pg", &BTreeSet::new(), fetch).await.is_ok());
    }
}
