#![allow(clippy::unwrap_used)]
//! Unit tests of the rewriter's output shapes (the adversarial corpus, executed against
//! SQLite, lives in `protocol/tests/rls_corpus.rs`).

use super::*;

fn pol(action: &str, table: &str, column: &str, value: &str) -> Policy {
    Policy::from_row(action, None, table, column, value, "string", None).unwrap()
}

fn todos_policies() -> PolicySet {
    PolicySet::new(
        vec![
            pol("SELECT", "todos", "user_id", "context.id()"),
            pol("INSERT", "todos", "user_id", "context.id()"),
            pol("UPDATE", "todos", "user_id", "context.id()"),
            pol("DELETE", "todos", "user_id", "context.id()"),
        ],
        vec![],
    )
}

fn rw(sql: &str, dialect: Dialect) -> Result<Rewritten, DbError> {
    let ctx = Context {
        subject: Some("u1"),
        claims: None,
    };
    rewrite(sql, dialect, &todos_policies(), &Relations::empty(), &ctx)
}

fn ok(sql: &str) -> String {
    rw(sql, Dialect::Sqlite)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .sql
}

fn err(sql: &str) -> DbError {
    match rw(sql, Dialect::Sqlite) {
        Ok(r) => panic!("{sql} was allowed as {}", r.sql),
        Err(e) => e,
    }
}

#[test]
fn explore() {
    for sql in [
        "SELECT * FROM todos",
        "SELECT * FROM todos t WHERE done = 1 OR 1=1",
        "WITH t AS (SELECT * FROM todos) SELECT * FROM t",
        "INSERT INTO todos (user_id, title) VALUES (?, ?)",
        "INSERT INTO todos (title) VALUES ('x'), ('y')",
        "INSERT INTO todos (title) SELECT title FROM todos",
        "UPDATE todos SET title = ?1 WHERE id = ?2 OR 1=1",
        "DELETE FROM todos WHERE id = :id RETURNING *",
        "SELECT (SELECT count(*) FROM \"ToDoS\") FROM main.todos AS x",
        "PRAGMA table_info(todos)",
        "BEGIN",
    ] {
        eprintln!("{sql}\n  => {:?}", rw(sql, Dialect::Sqlite).map(|r| r.sql));
    }
}
