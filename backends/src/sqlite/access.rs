//! SQLite's authorizer as the second line of row-level security.
//!
//! Every connection gets one authorizer when it opens (installing one later would expire
//! every cached statement); it applies the catalog's rule (no dropping its views) first. It does nothing unless the statement being prepared on this
//! thread carries an `AccessRule` — set by [`Scope`] for the length of one step — and then
//! refuses what the rule does not allow: a protected table the rewrite did not filter, any
//! protected table reached through a view or trigger, schema changes, `ATTACH`, and
//! `PRAGMA`s that are not read-only catalog reads. Refusal makes the prepare fail with
//! `SQLITE_AUTH`, which maps to `42501`. Must not know how rules are made.

use std::cell::RefCell;
use std::sync::Arc;

use rusqlite::Connection;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use starbase_protocol::AccessRule;

thread_local! {
    /// The rule of the statement this thread is preparing or running, if any. SQLite calls
    /// the authorizer synchronously on the thread that prepares, so a thread-local reaches
    /// it whichever connection the thread holds.
    static RULE: RefCell<Option<Arc<AccessRule>>> = const { RefCell::new(None) };
}

/// Installs the authorizer on a newly opened connection.
pub(super) fn install(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.authorizer(Some(authorize))
}

/// Applies `rule` to what this thread prepares until the scope is dropped.
#[derive(Debug)]
pub(super) struct Scope {
    active: bool,
}

impl Scope {
    /// Enters `rule` (nothing when `None`).
    pub(super) fn enter(rule: Option<&Arc<AccessRule>>) -> Self {
        let Some(rule) = rule else {
            return Self { active: false };
        };
        RULE.with(|r| *r.borrow_mut() = Some(Arc::clone(rule)));
        Self { active: true }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        if self.active {
            RULE.with(|r| r.borrow_mut().take());
        }
    }
}

fn authorize(ctx: AuthContext<'_>) -> Authorization {
    // A connection has one authorizer: this one keeps the catalog's rule too.
    if super::catalog::guard_views(ctx) == Authorization::Deny {
        return Authorization::Deny;
    }
    RULE.with(|r| match r.borrow().as_deref() {
        None => Authorization::Allow,
        Some(rule) => decide(rule, &ctx),
    })
}

/// The authorizer's answer for one action of a restricted statement.
fn decide(rule: &AccessRule, ctx: &AuthContext<'_>) -> Authorization {
    let allow = |ok: bool| {
        if ok {
            Authorization::Allow
        } else {
            Authorization::Deny
        }
    };
    match ctx.action {
        AuthAction::Read { table_name, .. }
        | AuthAction::Insert { table_name }
        | AuthAction::Update { table_name, .. }
        | AuthAction::Delete { table_name } => allow(rule.permits_table(table_name, ctx.accessor)),
        AuthAction::Pragma { pragma_name, .. } => allow(AccessRule::permits_pragma(pragma_name)),
        AuthAction::Function { function_name } => allow(!is_dangerous_function(function_name)),
        AuthAction::Select
        | AuthAction::Recursive
        | AuthAction::Transaction { .. }
        | AuthAction::Savepoint { .. } => Authorization::Allow,
        // Schema changes, ATTACH/DETACH, ANALYZE, REINDEX, virtual tables and anything a
        // newer SQLite reports: a restricted statement does none of it.
        _ => Authorization::Deny,
    }
}

/// Functions that reach outside the database.
fn is_dangerous_function(name: &str) -> bool {
    [
        "load_extension",
        "readfile",
        "writefile",
        "edit",
        "fts3_tokenizer",
    ]
    .iter()
    .any(|f| f.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn conn() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        install(&mut conn).unwrap();
        conn.execute_batch(
            "CREATE TABLE todos (id INTEGER PRIMARY KEY, owner TEXT);
             CREATE TABLE other (id INTEGER PRIMARY KEY);
             CREATE VIEW todo_view AS SELECT * FROM todos;
             INSERT INTO todos VALUES (1, 'a'), (2, 'b');",
        )
        .unwrap();
        conn
    }

    fn rule(filtered: &[&str]) -> Arc<AccessRule> {
        Arc::new(AccessRule {
            protected: Arc::new(BTreeSet::from(["todos".to_owned()])),
            filtered: filtered.iter().map(|s| (*s).to_owned()).collect(),
            ctes: BTreeSet::from(["mine".to_owned()]),
        })
    }

    fn prepares(conn: &Connection, rule: &Arc<AccessRule>, sql: &str) -> Result<(), String> {
        let _scope = Scope::enter(Some(rule));
        conn.prepare(sql).map(drop).map_err(|e| e.to_string())
    }

    #[test]
    fn a_protected_table_is_reachable_only_through_the_rewrite() {
        let conn = conn();
        let filtered = rule(&["todos"]);
        let unseen = rule(&[]);
        let sql = "SELECT * FROM (SELECT * FROM todos WHERE owner = 'a') AS todos";
        assert_eq!(prepares(&conn, &filtered, sql), Ok(()));
        // The rewrite did not see `todos`: SQLite refuses it anyway.
        let err = prepares(&conn, &unseen, sql).unwrap_err();
        assert!(err.contains("prohibited"), "{err}");
        // Through a view, never.
        assert!(prepares(&conn, &filtered, "SELECT * FROM todo_view").is_err());
        assert_eq!(prepares(&conn, &unseen, "SELECT * FROM other"), Ok(()));
        // Inside a CTE of the statement the rewrite's filters hold; a CTE cannot launder a
        // view's read.
        let cte = "WITH mine AS (SELECT * FROM (SELECT * FROM todos WHERE owner = 'a') AS todos) \
                   SELECT * FROM mine";
        assert_eq!(prepares(&conn, &filtered, cte), Ok(()));
        let laundered = "WITH mine AS (SELECT * FROM todo_view) SELECT * FROM mine";
        assert!(prepares(&conn, &filtered, laundered).is_err());
        for sql in [
            "CREATE TABLE x (a)",
            "ATTACH ':memory:' AS aux",
            "PRAGMA writable_schema = 1",
            "DROP VIEW todo_view",
        ] {
            assert!(prepares(&conn, &filtered, sql).is_err(), "{sql}");
        }
        assert_eq!(
            prepares(&conn, &filtered, "PRAGMA table_info(todos)"),
            Ok(())
        );
    }

    #[test]
    fn without_a_rule_everything_prepares() {
        let conn = conn();
        conn.prepare("SELECT * FROM todo_view").unwrap();
        {
            let _scope = Scope::enter(Some(&rule(&[])));
            assert!(conn.prepare("SELECT * FROM todos").is_err());
        }
        conn.prepare("SELECT * FROM todos").unwrap();
    }
}
