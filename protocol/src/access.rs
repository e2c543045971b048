//! Access rules: which tables one statement may touch, for backends that can check it.
//!
//! The row-level-security rewrite decides what a client statement may read and filters it;
//! an `AccessRule` records the outcome (the protected tables, and those of them the rewrite
//! saw and filtered) so a backend that can watch what a statement really touches (SQLite's
//! authorizer) enforces it a second time, independently of the rewrite. Pure data: must not
//! know SQL parsing or any backend.

use std::collections::BTreeSet;
use std::sync::Arc;

/// Catalog `PRAGMA`s a restricted statement may still run: they read schema, never rows.
pub const READ_ONLY_PRAGMAS: &[&str] = &[
    "table_info",
    "table_xinfo",
    "table_list",
    "index_list",
    "index_info",
    "index_xinfo",
    "foreign_key_list",
];

/// What one statement of a restricted caller may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRule {
    /// Every table that has a policy (lowercase, without schema), shared by all rules built
    /// from one policy set.
    pub protected: Arc<BTreeSet<String>>,
    /// The protected tables this statement reaches through the rewrite's filters.
    pub filtered: BTreeSet<String>,
    /// The statement's common table expressions (lowercase): reads inside them were
    /// rewritten like the rest of the statement, though SQLite reports them as coming from
    /// the CTE, as for a view.
    pub ctes: BTreeSet<String>,
}

impl AccessRule {
    /// Whether a direct access to `table` is allowed. `via` is the view or trigger the
    /// access comes from, if any: a view or trigger reads past the rewrite, so it may never
    /// reach a protected table.
    #[must_use]
    pub fn permits_table(&self, table: &str, via: Option<&str>) -> bool {
        let table = table.to_ascii_lowercase();
        if !self.protected.contains(&table) {
            return true;
        }
        let direct = via.is_none_or(|name| self.ctes.contains(&name.to_ascii_lowercase()));
        direct && self.filtered.contains(&table)
    }

    /// Whether `PRAGMA name` may run.
    #[must_use]
    pub fn permits_pragma(name: &str) -> bool {
        READ_ONLY_PRAGMAS
            .iter()
            .any(|p| p.eq_ignore_ascii_case(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protected_tables_only_through_the_filter_and_never_through_views() {
        let rule = AccessRule {
            protected: Arc::new(["todos".to_owned(), "secrets".to_owned()].into()),
            filtered: ["todos".to_owned()].into(),
            ctes: ["mine".to_owned()].into(),
        };
        assert!(rule.permits_table("other", None));
        assert!(rule.permits_table("other", Some("v")));
        assert!(rule.permits_table("TODOS", None));
        assert!(!rule.permits_table("todos", Some("todo_view")));
        assert!(rule.permits_table("todos", Some("MINE")));
        assert!(!rule.permits_table("secrets", None));
        assert!(AccessRule::permits_pragma("TABLE_INFO"));
        assert!(!AccessRule::permits_pragma("writable_schema"));
    }
}
