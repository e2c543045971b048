//! Who may run what: the allowlist and row-level security for restricted callers, and the
//! admin's SQL on the policy tables.
//!
//! Owns [`Guard`], which every plan of a client passes through on its way to a backend —
//! the engine's for HTTP, REST, WebSocket and exports, the pgwire connection's for the
//! wire — so every frontend enforces the same rules at the same point, on the text the
//! backend will run. The policy tables live in the metadata database ([`PolicyStore`]),
//! never in the user's. Must not know any frontend.

mod admin;
mod catalog;
mod store;

use std::collections::BTreeSet;
use std::sync::Arc;

use starbase_protocol::sql::rls::{Context, Relations, RlsCache};
use starbase_protocol::sql::shape::{cte_names, names_any_word, statement_shape};
use starbase_protocol::{AccessRule, DbError, Dialect, Plan, SqlState};

pub use admin::{AllowlistEntry, PolicyRow};
pub use store::{POLICY_TABLES, PolicyStore, Snapshot};

use crate::auth::{Principal, Role};
use crate::meta::MetaDb;

/// Which restrictions are on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuardConfig {
    /// Client statements must match an allowlist entry.
    pub allowlist: bool,
    /// Client statements are rewritten by the row-level-security policies.
    pub rls: bool,
}

/// Transaction control passes the allowlist: it reads and changes nothing by itself.
const TRANSACTION_SHAPES: &[&str] = &[
    "begin",
    "begin transaction",
    "begin deferred",
    "begin immediate",
    "start transaction",
    "commit",
    "commit transaction",
    "end",
    "end transaction",
    "rollback",
    "rollback transaction",
    "abort",
];

/// The allowlist and row-level security, with their policy store.
#[derive(Debug)]
pub struct Guard {
    config: GuardConfig,
    store: PolicyStore,
    rewrites: RlsCache,
    catalogs: catalog::Catalogs,
}

impl Guard {
    /// Opens the policy tables in `meta`.
    ///
    /// # Errors
    /// Errors of the metadata database.
    pub async fn open(config: GuardConfig, meta: MetaDb) -> Result<Self, DbError> {
        Ok(Self {
            config,
            store: PolicyStore::open(meta).await?,
            rewrites: RlsCache::default(),
            catalogs: catalog::Catalogs::default(),
        })
    }

    /// The policy tables.
    #[must_use]
    pub fn store(&self) -> &PolicyStore {
        &self.store
    }

    /// Whether `principal`'s statements are checked at all (the admin's never are).
    #[must_use]
    pub fn restricts(&self, principal: &Principal) -> bool {
        principal.role == Role::Client && (self.config.allowlist || self.config.rls)
    }

    /// Checks every statement of `plan` for `principal` against the allowlist of `source`,
    /// and rewrites it by the row-level-security policies. `dialect` is the one the
    /// statements are written in, the backend's.
    ///
    /// On an external source (PostgreSQL, MySQL) no authorizer watches the statement, so the
    /// relations it reads (CTEs aside) are returned: the caller must check they are base
    /// tables — a view would read past the rewrite — with [`Guard::check_relations`].
    ///
    /// # Errors
    /// `42501` for a statement the allowlist does not hold (recorded as a rejection) or
    /// that row-level security refuses.
    pub async fn apply(
        &self,
        principal: &Principal,
        source: &str,
        dialect: Dialect,
        plan: &mut Plan,
    ) -> Result<BTreeSet<String>, DbError> {
        if !self.restricts(principal) {
            return Ok(BTreeSet::new());
        }
        let snapshot = self.store.snapshot();
        if self.config.allowlist {
            for step in &plan.steps {
                let allowed = statement_shape(&step.sql, dialect).is_ok_and(|shape| {
                    TRANSACTION_SHAPES.contains(&shape.as_str())
                        || snapshot.allows(source, dialect, &shape)
                });
                if !allowed {
                    self.store.record_rejection(&step.sql, source).await;
                    return Err(DbError::new(
                        SqlState::INSUFFICIENT_PRIVILEGE,
                        "query not allowed: the statement matches no allowlist entry",
                    ));
                }
            }
        }
        if self.config.rls && !snapshot.policies.is_empty() {
            return self.filter(principal, dialect, &snapshot, plan);
        }
        Ok(BTreeSet::new())
    }

    /// Refuses a statement on external source `source` that reads a relation the source's
    /// catalog does not list as a base table (a view, a function, a table created since the
    /// last look — the catalog is read again once before refusing that).
    ///
    /// # Errors
    /// `42501` naming the relation; the catalog query's errors.
    pub async fn check_relations<F, Fut>(
        &self,
        source: &str,
        relations: &BTreeSet<String>,
        fetch: F,
    ) -> Result<(), DbError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<BTreeSet<String>, DbError>>,
    {
        self.catalogs.check(source, relations, fetch).await
    }

    /// Rewrites every statement by the policies; on SQLite each also carries the access
    /// rule its authorizer enforces.
    fn filter(
        &self,
        principal: &Principal,
        dialect: Dialect,
        snapshot: &Snapshot,
        plan: &mut Plan,
    ) -> Result<BTreeSet<String>, DbError> {
        let ctx = Context {
            subject: principal.subject(),
            claims: principal.claims.as_deref(),
        };
        let relations = Relations::empty();
        let mut read = BTreeSet::new();
        for step in &mut plan.steps {
            let rewritten =
                self.rewrites
                    .rewrite(&step.sql, dialect, &snapshot.policies, &relations, &ctx)?;
            if dialect == Dialect::Sqlite {
                let filtered: BTreeSet<String> = rewritten
                    .tables
                    .intersection(&snapshot.protected)
                    .cloned()
                    .collect();
                // The marker keeps the restricted text apart from anything an admin runs in
                // SQLite's statement cache, where the authorizer is only asked on prepare.
                step.sql = format!(
                    "{} /* rls {:x} */",
                    rewritten.sql,
                    snapshot.policies.version()
                )
                .into();
                let ctes = cte_names(&rewritten.sql, dialect).map_err(|_| {
                    DbError::new(
                        SqlState::INSUFFICIENT_PRIVILEGE,
                        "row-level security could not read the rewritten statement",
                    )
                })?;
                step.access = Some(Arc::new(AccessRule {
                    protected: Arc::clone(&snapshot.protected),
                    filtered,
                    ctes,
                }));
            } else {
                let ctes = cte_names(&rewritten.sql, dialect).map_err(|_| {
                    DbError::new(
                        SqlState::INSUFFICIENT_PRIVILEGE,
                        "row-level security could not read the rewritten statement",
                    )
                })?;
                read.extend(rewritten.tables.difference(&ctes).cloned());
                step.sql = rewritten.sql.into();
            }
        }
        Ok(read)
    }
}

/// Whether `sql` names one of the policy tables (as a word, quoted or not).
#[must_use]
pub fn names_policy_table(sql: &str) -> bool {
    names_any_word(sql, &POLICY_TABLES)
}

/// Which database an admin's plan belongs to.
///
/// # Errors
/// `0A000` when it mixes the policy tables with other statements.
pub fn admin_plan_is_for_policies(plan: &Plan) -> Result<bool, DbError> {
    let named = plan
        .steps
        .iter()
        .filter(|s| names_policy_table(&s.sql))
        .count();
    match named {
        0 => Ok(false),
        n if n == plan.steps.len() => Ok(true),
        _ => Err(DbError::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            "statements on the policy tables (tmp_allowlist_queries, tmp_rls_policies) \
             cannot share a transaction with other statements",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_tables_are_found_as_words_only() {
        assert!(names_policy_table("SELECT * FROM tmp_rls_policies"));
        assert!(names_policy_table(
            "insert into \"TMP_ALLOWLIST_QUERIES\" values (1)"
        ));
        assert!(names_policy_table("DELETE FROM `tmp_allowlist_rejections`"));
        assert!(!names_policy_table("SELECT 'tmp_rls_policies'"));
        assert!(!names_policy_table("SELECT * FROM tmp_rls_policies_backup"));
        assert!(!names_policy_table("SELECT 1"));
    }
}
