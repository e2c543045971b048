#![allow(clippy::unwrap_used)]
//! Unit tests of the rewriter's output shapes and rules (the adversarial corpus, executed
//! against SQLite, lives in `protocol/tests/rls_corpus.rs`).

use std::sync::Arc;

use super::*;
use crate::sqlstate::SqlState;

mod rules;

pub(super) fn pol(action: &str, table: &str, column: &str, value: &str) -> Policy {
    Policy::from_row(action, None, table, column, value, "string", None).unwrap()
}

pub(super) fn all_actions(table: &str, column: &str, value: &str) -> Vec<Policy> {
    ["SELECT", "INSERT", "UPDATE", "DELETE"]
        .iter()
        .map(|a| pol(a, table, column, value))
        .collect()
}

pub(super) fn todos() -> PolicySet {
    PolicySet::new(all_actions("todos", "user_id", "context.id()"), vec![])
}

pub(super) const U1: Context<'static> = Context {
    subject: Some("u1"),
    claims: None,
};

pub(super) fn rw_with(sql: &str, dialect: Dialect, set: &PolicySet) -> Result<Rewritten, DbError> {
    rewrite(sql, dialect, set, &Relations::empty(), &U1)
}

pub(super) fn ok_in(sql: &str, dialect: Dialect) -> String {
    rw_with(sql, dialect, &todos())
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .sql
}

pub(super) fn ok(sql: &str) -> String {
    ok_in(sql, Dialect::Sqlite)
}

pub(super) fn denied_in(sql: &str, dialect: Dialect, set: &PolicySet) -> String {
    match rw_with(sql, dialect, set) {
        Ok(r) => panic!("{sql} was allowed as {}", r.sql),
        Err(e) => {
            assert_eq!(e.code, SqlState::INSUFFICIENT_PRIVILEGE, "{sql}: {e}");
            e.message
        }
    }
}

pub(super) fn denied_sqlite(sql: &str) -> String {
    denied_in(sql, Dialect::Sqlite, &todos())
}

#[test]
fn select_becomes_a_filtered_derived_table_keeping_the_visible_name() {
    assert_eq!(
        ok("SELECT * FROM todos WHERE done = 1 OR 1=1"),
        r#"SELECT * FROM (SELECT * FROM todos WHERE todos."user_id" = 'u1') AS todos WHERE done = 1 OR 1 = 1"#
    );
    assert_eq!(
        ok("SELECT t.id FROM main.todos AS t"),
        r#"SELECT t.id FROM (SELECT * FROM main.todos WHERE todos."user_id" = 'u1') AS t"#
    );
}

#[test]
fn update_and_delete_parenthesise_the_existing_where() {
    assert_eq!(
        ok("UPDATE todos SET title = ?1 WHERE id = ?2 OR 1=1"),
        r#"UPDATE todos SET title = ?1 WHERE (id = ?2 OR 1 = 1) AND (todos."user_id" = 'u1')"#
    );
    assert_eq!(
        ok("DELETE FROM todos AS t RETURNING *"),
        r#"DELETE FROM todos AS t WHERE (t."user_id" = 'u1') AND (t."user_id" = 'u1') RETURNING *"#
    );
}

#[test]
fn parameters_survive_with_their_numbering() {
    let out = ok("INSERT INTO todos (user_id, title) VALUES (?, ?)");
    assert_eq!(out.matches('?').count(), 2, "{out}");
    assert!(
        out.contains("VALUES (CASE WHEN CAST((?) AS TEXT) IS NULL THEN 'u1' ELSE 'u1' END, ?)"),
        "{out}"
    );
    for sql in [
        "SELECT * FROM todos WHERE id = ?7 AND title = :t AND x = @n",
        "SELECT * FROM todos WHERE id = $1",
    ] {
        let out = ok(sql);
        for p in ["?7", ":t", "@n", "$1"] {
            assert_eq!(sql.contains(p), out.contains(p), "{p} in {out}");
        }
    }
    let pg = ok_in(
        "SELECT * FROM todos WHERE id = $2 AND x = $1",
        Dialect::Postgres,
    );
    assert!(pg.contains("id = $2 AND x = $1"), "{pg}");
}

#[test]
fn subject_is_quoted_never_spliced() {
    let set = todos();
    let ctx = Context {
        subject: Some("x' OR '1'='1"),
        claims: None,
    };
    let out = rewrite(
        "SELECT * FROM todos",
        Dialect::Sqlite,
        &set,
        &Relations::empty(),
        &ctx,
    )
    .unwrap()
    .sql;
    assert!(out.contains(r#""user_id" = 'x'' OR ''1''=''1'"#), "{out}");
    let ctx = Context {
        subject: Some(r"x\' OR 1=1 -- "),
        claims: None,
    };
    let my = rewrite(
        "SELECT * FROM todos",
        Dialect::MySql,
        &set,
        &Relations::empty(),
        &ctx,
    )
    .unwrap()
    .sql;
    assert!(my.contains(r"`user_id` = 'x\\'' OR 1=1 -- '"), "{my}");
    let none = rewrite(
        "SELECT * FROM todos",
        Dialect::Sqlite,
        &set,
        &Relations::empty(),
        &Context::default(),
    )
    .unwrap()
    .sql;
    assert!(none.contains(r#""user_id" = NULL"#), "{none}");
}

#[test]
fn postgres_and_mysql_output_reparses() {
    let pg = ok_in(
        r#"WITH t AS (SELECT * FROM public.todos) SELECT "T".* FROM t AS "T" JOIN todos ON true"#,
        Dialect::Postgres,
    );
    assert!(
        pg.contains(r#"FROM public.todos WHERE todos."user_id" = 'u1'"#),
        "{pg}"
    );
    let my = ok_in(
        r"SELECT * FROM todos WHERE title = 'a\\b\'c'",
        Dialect::MySql,
    );
    assert!(my.contains(r"title = 'a\\b''c'"), "{my}");
    assert!(my.contains("todos.`user_id` = 'u1'"), "{my}");
    let my_insert = ok_in(
        "INSERT INTO todos (title) SELECT title FROM todos",
        Dialect::MySql,
    );
    assert!(
        my_insert.contains("WITH _rls_src (_rls_c1) AS (SELECT title FROM"),
        "{my_insert}"
    );
    assert!(
        my_insert.ends_with("SELECT _rls_c1, 'u1' FROM _rls_src"),
        "{my_insert}"
    );
}

#[test]
fn restricted_writes_need_their_own_policy() {
    let select_only = PolicySet::new(
        vec![pol("SELECT", "notes", "user_id", "context.id()")],
        vec![],
    );
    for (sql, action) in [
        ("INSERT INTO notes (body) VALUES ('x')", "INSERT"),
        ("UPDATE notes SET body = 'x'", "UPDATE"),
        ("DELETE FROM notes", "DELETE"),
    ] {
        let msg = denied_in(sql, Dialect::Sqlite, &select_only);
        assert_eq!(
            msg,
            format!("permission denied: no policy allows {action} on restricted table \"notes\"")
        );
    }
    let invalid = PolicySet::new(vec![], vec![(None, "Secrets".into())]);
    assert!(
        denied_in("SELECT * FROM secrets", Dialect::Sqlite, &invalid).contains("invalid policy")
    );
}

#[test]
fn several_policies_are_anded() {
    let set = PolicySet::new(
        vec![
            pol("SELECT", "todos", "user_id", "context.id()"),
            Policy::from_row("SELECT", None, "todos", "prio", "3", "number", Some("<=")).unwrap(),
        ],
        vec![],
    );
    let out = rw_with("SELECT * FROM todos", Dialect::Sqlite, &set)
        .unwrap()
        .sql;
    assert!(
        out.contains(r#"WHERE todos."user_id" = 'u1' AND todos."prio" <= 3"#),
        "{out}"
    );
}

#[test]
fn non_equality_insert_policies_check_literals_at_render_time() {
    let set = PolicySet::new(
        vec![
            Policy::from_row(
                "INSERT",
                None,
                "docs",
                "path",
                "team-a/%",
                "string",
                Some("like"),
            )
            .unwrap(),
        ],
        vec![],
    );
    assert!(
        rw_with(
            "INSERT INTO docs (path) VALUES ('team-a/x')",
            Dialect::Sqlite,
            &set
        )
        .is_ok()
    );
    let msg = denied_in(
        "INSERT INTO docs (path) VALUES ('team-b/x')",
        Dialect::Sqlite,
        &set,
    );
    assert_eq!(
        msg,
        "new row violates row-level security policy for table \"docs\""
    );
    assert!(
        denied_in("INSERT INTO docs (path) VALUES (?)", Dialect::Sqlite, &set).contains("literal")
    );
    assert!(
        denied_in("INSERT INTO docs (other) VALUES (1)", Dialect::Sqlite, &set)
            .contains("violates")
    );
    let sel = rw_with(
        "INSERT INTO docs (path) SELECT p FROM src",
        Dialect::Sqlite,
        &set,
    )
    .unwrap()
    .sql;
    assert!(
        sel.ends_with("FROM _rls_src WHERE (_rls_c1) LIKE 'team-a/%'"),
        "{sel}"
    );
}

#[test]
fn schema_qualified_policies() {
    let set = PolicySet::new(
        vec![
            Policy::from_row(
                "SELECT",
                Some("main"),
                "todos",
                "user_id",
                "context.id()",
                "string",
                None,
            )
            .unwrap(),
        ],
        vec![],
    );
    for sql in [
        "SELECT * FROM todos",
        "SELECT * FROM MAIN.todos",
        "SELECT * FROM \"main\".\"todos\"",
    ] {
        assert!(
            rw_with(sql, Dialect::Sqlite, &set).unwrap().changed,
            "{sql}"
        );
    }
    for sql in ["SELECT * FROM aux.todos", "SELECT * FROM temp.todos"] {
        assert!(denied_in(sql, Dialect::Sqlite, &set).contains("no policy allows SELECT"));
    }
    let pg = PolicySet::new(
        vec![
            Policy::from_row(
                "SELECT",
                Some("public"),
                "todos",
                "user_id",
                "context.id()",
                "string",
                None,
            )
            .unwrap(),
        ],
        vec![],
    );
    assert!(
        rw_with("SELECT * FROM todos", Dialect::Postgres, &pg)
            .unwrap()
            .changed
    );
    denied_in("SELECT * FROM other.todos", Dialect::Postgres, &pg);
    let my = PolicySet::new(
        vec![
            Policy::from_row(
                "SELECT",
                Some("app"),
                "todos",
                "user_id",
                "context.id()",
                "string",
                None,
            )
            .unwrap(),
        ],
        vec![],
    );
    assert!(
        rw_with("SELECT * FROM todos", Dialect::MySql, &my)
            .unwrap()
            .changed
    );
    assert!(
        rw_with("SELECT * FROM app.todos", Dialect::MySql, &my)
            .unwrap()
            .changed
    );
}

#[test]
fn cte_names_shadow_tables_only_where_certain() {
    // The body of a non-recursive CTE named like the table reads the table: filtered.
    let out = ok("WITH todos AS (SELECT * FROM todos) SELECT * FROM todos");
    assert_eq!(out.matches("WHERE todos.\"user_id\"").count(), 1, "{out}");
    // A recursive self-reference is the CTE.
    let rec = ok(
        "WITH RECURSIVE todos(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM todos WHERE n < 3) SELECT n FROM todos",
    );
    assert!(!rec.contains("user_id"), "{rec}");
    // PostgreSQL: a quoted CTE name differing in case is another relation.
    let pg = ok_in(
        r#"WITH "Todos" AS (SELECT 1) SELECT * FROM todos, "Todos""#,
        Dialect::Postgres,
    );
    assert_eq!(pg.matches("user_id").count(), 1, "{pg}");
    let pg = ok_in(
        "WITH TODOS AS (SELECT 1) SELECT * FROM todos",
        Dialect::Postgres,
    );
    assert!(!pg.contains("user_id"), "{pg}");
    // MySQL: only an exact match is certainly the CTE.
    let my = ok_in(
        "WITH TODOS AS (SELECT 1) SELECT * FROM todos",
        Dialect::MySql,
    );
    assert!(my.contains("user_id"), "{my}");
    // A forward reference is not certainly the CTE: treated as the table.
    let fwd = ok("WITH a AS (SELECT * FROM todos), todos AS (SELECT 1) SELECT * FROM a");
    assert!(fwd.contains("user_id"), "{fwd}");
}

#[test]
fn sqlite_agrees_with_cte_scoping() {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    conn.execute_batch(
        "CREATE TABLE todos (id INTEGER, user_id TEXT);
         INSERT INTO todos VALUES (1, 'u1'), (2, 'u2');",
    )
    .unwrap();
    // SQLite resolves a non-recursive CTE's self-reference to the CTE ("circular
    // reference"), PostgreSQL and MySQL to the table: filtering it as the table is safe for
    // both (SQLite refuses to run it, the others read only the caller's rows).
    let sql = ok("WITH todos AS (SELECT * FROM todos) SELECT count(*) FROM todos");
    let err = conn
        .query_row(&sql, [], |r| r.get::<_, i64>(0))
        .unwrap_err();
    assert!(
        err.to_string().contains("circular reference"),
        "{sql}: {err}"
    );
    let sql = ok("WITH t AS (SELECT * FROM todos) SELECT count(*) FROM t, todos");
    let n: i64 = conn.query_row(&sql, [], |r| r.get(0)).unwrap();
    assert_eq!(n, 1, "{sql}");
}
