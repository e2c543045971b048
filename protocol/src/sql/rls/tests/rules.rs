//! Unit tests of what is refused (statement kinds, upserts, views, policy columns), the
//! cache, policy-row validation and round-tripping of everyday statements.

use super::*;

#[test]
fn statement_kinds_outside_the_allowed_set_are_denied() {
    for sql in [
        "CREATE TABLE x (a)",
        "CREATE VIEW v AS SELECT * FROM todos",
        "DROP TABLE todos",
        "ALTER TABLE todos ADD COLUMN x",
        "ATTACH DATABASE 'f' AS f",
        "VACUUM",
        "EXPLAIN SELECT 1",
        "PRAGMA journal_mode = delete",
        "SELECT 1; SELECT 2",
        "",
        "SELECT * FROM todos INTO x",
        "not sql at all",
        "SELECT * FROM todos _rls_x",
        "SELECT 'a\0' UNION SELECT secret FROM todos",
        "WITH d AS (DELETE FROM todos RETURNING *) SELECT * FROM d",
    ] {
        denied_sqlite(sql);
    }
    for (sql, d) in [
        ("CREATE TABLE x (a int)", Dialect::Postgres),
        (
            "SELECT query_to_xml('select * from todos', true, true, '')",
            Dialect::Postgres,
        ),
        ("SELECT LOAD_FILE('/etc/passwd')", Dialect::MySql),
        ("LOCK TABLES todos READ", Dialect::MySql),
        ("SELECT most_common_vals FROM pg_stats", Dialect::Postgres),
        (
            "SELECT query FROM pg_catalog.pg_stat_activity",
            Dialect::Postgres,
        ),
        (
            "SELECT * FROM performance_schema.events_statements_history",
            Dialect::MySql,
        ),
        (
            "SELECT * FROM information_schema.PROCESSLIST",
            Dialect::MySql,
        ),
        ("SELECT * FROM t INTO OUTFILE '/tmp/x'", Dialect::MySql),
    ] {
        denied_in(sql, d, &todos());
    }
    for sql in [
        "BEGIN",
        "COMMIT",
        "ROLLBACK",
        "SAVEPOINT a",
        "RELEASE a",
        "PRAGMA table_info(todos)",
    ] {
        assert!(
            !rw_with(sql, Dialect::Sqlite, &todos()).unwrap().changed,
            "{sql}"
        );
    }
}

#[test]
fn views_reading_restricted_tables_are_denied_unless_restricted_themselves() {
    let rel = Relations::new(vec![
        ("v".into(), vec!["todos".into()]),
        ("w".into(), vec!["v".into()]),
    ]);
    let set = todos();
    for sql in [
        "SELECT * FROM v",
        "SELECT * FROM w",
        "SELECT (SELECT 1 FROM v)",
        "DELETE FROM tags WHERE id IN (SELECT id FROM w)",
    ] {
        let e = rewrite(sql, Dialect::Sqlite, &set, &rel, &U1).unwrap_err();
        assert!(e.message.contains("view"), "{sql}: {e}");
    }
    let mut with_view = all_actions("todos", "user_id", "context.id()");
    with_view.push(pol("SELECT", "v", "user_id", "context.id()"));
    let set = PolicySet::new(with_view, vec![]);
    let r = rewrite("SELECT * FROM v", Dialect::Sqlite, &set, &rel, &U1).unwrap();
    assert!(r.changed && r.tables.contains("todos") && r.tables.contains("v"));
}

#[test]
fn tables_lists_every_relation() {
    let r = rw_with(
        "INSERT INTO Tags (tag) SELECT secret FROM main.\"ToDoS\" JOIN other o ON 1",
        Dialect::Sqlite,
        &todos(),
    )
    .unwrap();
    let expected: std::collections::BTreeSet<String> = ["tags", "todos", "other"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(r.tables, expected);
    let plain = rw_with("SELECT * FROM other", Dialect::Sqlite, &todos()).unwrap();
    assert!(!plain.changed);
}

#[test]
fn upserts_on_restricted_tables_are_denied() {
    for (sql, d) in [
        (
            "INSERT OR REPLACE INTO todos (id) VALUES (1)",
            Dialect::Sqlite,
        ),
        (
            "INSERT INTO todos (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET title = 'x'",
            Dialect::Sqlite,
        ),
        (
            "INSERT INTO todos (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET title = 'x'",
            Dialect::Postgres,
        ),
        ("REPLACE INTO todos (id) VALUES (1)", Dialect::MySql),
        (
            "INSERT INTO todos (id) VALUES (1) ON DUPLICATE KEY UPDATE title = 'x'",
            Dialect::MySql,
        ),
        ("UPDATE OR REPLACE todos SET id = 2", Dialect::Sqlite),
    ] {
        assert!(denied_in(sql, d, &todos()).contains("not allowed"), "{sql}");
    }
    let upsert_elsewhere = ok(
        "INSERT INTO tags (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET tag = (SELECT max(secret) FROM todos)",
    );
    assert!(upsert_elsewhere.contains("user_id"), "{upsert_elsewhere}");
}

#[test]
fn update_of_the_policy_column_is_checked() {
    assert!(rw_with("UPDATE todos SET user_id = 'u1'", Dialect::Sqlite, &todos()).is_ok());
    for sql in [
        "UPDATE todos SET user_id = 'u2'",
        "UPDATE todos SET user_id = ?",
        "UPDATE todos SET user_id = user_id || ''",
        "UPDATE todos SET (user_id, title) = ('u1', 'x')",
        "UPDATE todos SET todos.user_id = 'u2'",
    ] {
        denied_sqlite(sql);
    }
}

#[test]
fn cache_serves_templates_and_rerenders_context() {
    let cache = RlsCache::new(2);
    let set = todos();
    let rel = Relations::empty();
    let sql = "SELECT * FROM todos WHERE id = ?";
    let a = cache
        .rewrite(sql, Dialect::Sqlite, &set, &rel, &U1)
        .unwrap();
    let u2 = Context {
        subject: Some("u2"),
        claims: None,
    };
    let b = cache
        .rewrite(sql, Dialect::Sqlite, &set, &rel, &u2)
        .unwrap();
    assert_eq!(cache.len(), 1);
    assert_eq!(a.sql.replace("'u1'", "'u2'"), b.sql);
    assert!(Arc::ptr_eq(
        &cache.template(sql, Dialect::Sqlite, &set, &rel).unwrap(),
        &cache.template(sql, Dialect::Sqlite, &set, &rel).unwrap()
    ));
    // Other policies: another entry, another result.
    let other = PolicySet::new(
        vec![pol("SELECT", "todos", "owner", "context.id()")],
        vec![],
    );
    assert_ne!(other.version(), set.version());
    let c = cache
        .rewrite(sql, Dialect::Sqlite, &other, &rel, &U1)
        .unwrap();
    assert!(c.sql.contains("owner"));
    // Very long statements are not kept.
    let long = format!(
        "SELECT * FROM todos WHERE title = '{}'",
        "x".repeat(MAX_CACHED_SQL_BYTES)
    );
    assert!(
        cache
            .rewrite(&long, Dialect::Sqlite, &set, &rel, &U1)
            .is_ok()
    );
    assert_eq!(cache.len(), 2);
    // Denials are cached too, and the cache stays bounded.
    assert!(
        cache
            .rewrite("DROP TABLE todos", Dialect::Sqlite, &set, &rel, &U1)
            .is_err()
    );
    assert!(
        cache
            .rewrite("DROP TABLE todos", Dialect::Sqlite, &set, &rel, &U1)
            .is_err()
    );
    assert_eq!(cache.len(), 2);
}

#[test]
fn policy_rows_are_validated() {
    let row = |op: Option<&str>, value: &str, ty: &str| {
        Policy::from_row("select", None, "t", "c", value, ty, op)
    };
    for op in ["=", "!=", "<>", "<", "<=", ">", ">=", "like", "NOT  LIKE"] {
        assert!(row(Some(op), "x", "string").is_ok(), "{op}");
    }
    for op in ["IN", "= 1 OR 1=1 --", "", "GLOB"] {
        assert!(row(Some(op), "x", "string").is_err(), "{op}");
    }
    assert_eq!(
        row(None, "context.id()", "string").unwrap().value,
        PolicyValue::ContextId
    );
    assert_eq!(
        row(None, "context.claim(\"org\")", "number").unwrap().value,
        PolicyValue::Claim("org".into())
    );
    assert_eq!(
        row(None, "context.claim('o')", "string").unwrap().value,
        PolicyValue::Claim("o".into())
    );
    assert!(row(None, "context.claim('o\")", "string").is_err());
    assert!(row(None, "5; DROP TABLE x", "number").is_err());
    assert!(row(None, "-1.5e3", "number").is_ok());
    assert!(row(None, "x", "blob").is_err());
    assert!(Policy::from_row("MERGE", None, "t", "c", "x", "string", None).is_err());
    assert!(PolicySet::new(vec![], vec![]).is_empty());
    let dotted = Policy::from_row(
        "SELECT",
        None,
        "main.todos",
        "todos.user_id",
        "x",
        "string",
        None,
    )
    .unwrap();
    assert_eq!(
        (
            dotted.schema.as_deref(),
            dotted.table.as_str(),
            dotted.column.as_str()
        ),
        (Some("main"), "todos", "user_id")
    );
    assert!(
        Policy::from_row(
            "SELECT",
            Some("main"),
            "aux.todos",
            "c",
            "x",
            "string",
            None
        )
        .is_err()
    );
    assert!(Policy::from_row("SELECT", None, "todos", "other.c", "x", "string", None).is_err());
}

#[test]
fn everyday_statements_survive_the_round_trip() {
    for sql in [
        "SELECT * FROM todos WHERE id = ? LIMIT ? OFFSET ?",
        "SELECT id, CAST(title AS TEXT) FROM todos WHERE title GLOB 'a*' OR title LIKE 'b%' ESCAPE '\\'",
        "SELECT title COLLATE NOCASE FROM todos ORDER BY title COLLATE NOCASE DESC NULLS LAST",
        "SELECT row_number() OVER (PARTITION BY user_id ORDER BY id) FROM todos",
        "SELECT x'00ff', 1e3, -2, 'it''s', \"title\" FROM todos",
        "SELECT data ->> '$.a', data -> 'b' FROM todos WHERE id BETWEEN 1 AND 5",
        "SELECT * FROM todos WHERE id IN (1, 2) AND title IS NOT NULL AND title <> ''",
        "SELECT CASE WHEN done THEN 'y' ELSE 'n' END, coalesce(title, '') || '!' FROM todos",
        "SELECT * FROM (VALUES (1, 2)) AS v",
        "SELECT DISTINCT user_id FROM todos GROUP BY user_id HAVING count(*) > 1",
        "INSERT OR IGNORE INTO todos (id, title) VALUES (1, 'x') RETURNING *",
        "INSERT INTO tags (id, tag) VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET tag = excluded.tag",
        "UPDATE todos SET done = NOT done, title = upper(title) WHERE id = ?1 RETURNING id",
        "DELETE FROM todos WHERE id IN (SELECT todo_id FROM tags WHERE tag = ?)",
        "SAVEPOINT s1",
        "ROLLBACK TO SAVEPOINT s1",
        "SELECT name FROM sqlite_schema WHERE type = 'table'",
    ] {
        ok(sql);
    }
    for sql in [
        "SELECT * FROM todos WHERE id = ANY($1) AND title ILIKE $2",
        "SELECT id::text, now() - interval '1 day' FROM todos",
        "SELECT DISTINCT ON (user_id) * FROM todos ORDER BY user_id, id DESC",
        "SELECT * FROM todos, LATERAL (SELECT * FROM tags WHERE tags.todo_id = todos.id) t",
        "SELECT * FROM generate_series(1, 3) g JOIN todos ON todos.id = g",
        "SELECT E'a\\nb', $$x$$ FROM todos",
        "INSERT INTO todos (title) VALUES ($1) RETURNING id",
        "SELECT * FROM todos FOR UPDATE",
    ] {
        ok_in(sql, Dialect::Postgres);
    }
    for sql in [
        "SELECT * FROM todos LIMIT 1, 2",
        "SELECT `title`, 'a\\'b', \"dq\" FROM todos WHERE title REGEXP '^a'",
        "INSERT IGNORE INTO todos (title) VALUES (?)",
        "UPDATE todos SET title = 'x' ORDER BY id LIMIT 1",
    ] {
        ok_in(sql, Dialect::MySql);
    }
}

#[test]
fn the_second_visit_counts_references_the_walker_would_miss() {
    // `verify` on a statement the walker never saw: every restricted reference is counted,
    // so a walker that skipped one would not match the count and the statement is refused.
    let set = todos();
    let d = build::sql_dialect(Dialect::Sqlite);
    let stmt = sqlparser::parser::Parser::parse_sql(
        d.as_ref(),
        "SELECT (SELECT 1 FROM todos), x FROM t, json_each((SELECT secret FROM main.TODOS))",
    )
    .unwrap()
    .remove(0);
    let found = verify::verify(&stmt, &set, &Relations::empty()).unwrap();
    assert_eq!(found.restricted_refs, 2);
    assert!(found.tables.contains("t") && found.tables.contains("todos"));
}

#[test]
fn multi_table_writes_of_restricted_tables_are_denied() {
    for sql in [
        "DELETE t FROM todos t JOIN tags g ON g.todo_id = t.id",
        "DELETE FROM tags, todos USING tags JOIN todos",
        "UPDATE todos t JOIN tags g ON g.todo_id = t.id SET t.title = 'x'",
        "UPDATE tags JOIN todos ON todos.id = tags.todo_id SET tags.tag = todos.secret",
    ] {
        denied_in(sql, Dialect::MySql, &todos());
    }
    let pg = ok_in(
        "DELETE FROM tags USING todos WHERE todos.id = tags.todo_id",
        Dialect::Postgres,
    );
    assert!(
        pg.contains(r#"USING (SELECT * FROM todos WHERE todos."user_id" = 'u1') AS todos"#),
        "{pg}"
    );
    let joined = ok_in(
        "UPDATE tags JOIN other ON other.id = tags.id SET tags.tag = (SELECT max(secret) FROM todos)",
        Dialect::MySql,
    );
    assert!(joined.contains("todos.`user_id` = 'u1'"), "{joined}");
}

#[test]
fn escaped_client_text_cannot_forge_a_slot() {
    for sql in [
        r"SELECT E'\x5frls\x5fslot\x5f0()' FROM todos",
        r"SELECT U&'\005frls\005fslot\005f0()' FROM todos",
    ] {
        let e = rw_with(sql, Dialect::Postgres, &todos());
        assert!(e.is_err(), "{sql} -> {e:?}");
    }
    // The E-string parses; only the marker count stops it.
    let msg = denied_in(
        r"SELECT E'\x5frls\x5fslot\x5f0()' FROM todos",
        Dialect::Postgres,
        &todos(),
    );
    assert!(msg.contains("reserved"), "{msg}");
    assert!(Policy::from_row("SELECT", None, "t", "c", "_rls_slot_0()", "string", None).is_err());
}

#[test]
fn returning_needs_the_select_policy_too() {
    let set = PolicySet::new(
        vec![
            pol("UPDATE", "todos", "team", "context.claim('team')"),
            pol("DELETE", "todos", "team", "context.claim('team')"),
        ],
        vec![],
    );
    assert!(rw_with("UPDATE todos SET title = 'x'", Dialect::Sqlite, &set).is_ok());
    for sql in [
        "UPDATE todos SET title = 'x' RETURNING *",
        "DELETE FROM todos RETURNING id",
    ] {
        assert!(denied_in(sql, Dialect::Sqlite, &set).contains("no policy allows SELECT"));
    }
    let out = ok("DELETE FROM todos WHERE id = 1 RETURNING id");
    assert!(
        out.ends_with(r#"WHERE (id = 1) AND ((todos."user_id" = 'u1') AND (todos."user_id" = 'u1')) RETURNING id"#),
        "{out}"
    );
}

#[test]
fn from_and_using_may_not_shadow_the_write_target() {
    for (sql, d) in [
        (
            "DELETE FROM todos USING tags AS todos WHERE todos.id = 1",
            Dialect::Postgres,
        ),
        ("DELETE FROM todos t USING tags t", Dialect::Postgres),
        ("UPDATE todos SET title = 'x' FROM todos", Dialect::Sqlite),
    ] {
        assert!(
            denied_in(sql, d, &todos()).contains("named like the target"),
            "{sql}"
        );
    }
    assert!(
        rw_with(
            "UPDATE todos SET title = g.tag FROM tags AS g WHERE g.todo_id = todos.id",
            Dialect::Sqlite,
            &todos()
        )
        .is_ok()
    );
}

#[test]
fn insert_returning_checks_the_select_policies() {
    let set = PolicySet::new(
        vec![
            pol("INSERT", "todos", "team", "context.claim('team')"),
            pol("SELECT", "todos", "user_id", "context.id()"),
        ],
        vec![],
    );
    let mut claims = serde_json::Map::new();
    claims.insert("team".into(), "t1".into());
    let ctx = Context {
        subject: Some("u1"),
        claims: Some(&claims),
    };
    let run = |sql: &str| rewrite(sql, Dialect::Sqlite, &set, &Relations::empty(), &ctx);
    assert!(run("INSERT INTO todos (title) VALUES ('x')").is_ok());
    assert!(run("INSERT INTO todos (user_id, title) VALUES ('u1', 'x') RETURNING *").is_ok());
    let other =
        run("INSERT INTO todos (user_id, title) VALUES ('u2', 'x') RETURNING *").unwrap_err();
    assert!(other.message.contains("violates"), "{other}");
    let unknown = run("INSERT INTO todos (user_id) VALUES (?) RETURNING *").unwrap_err();
    assert!(unknown.message.contains("RETURNING"), "{unknown}");
    assert!(ok("INSERT INTO todos (title) VALUES ('x') RETURNING id").contains("RETURNING id"));
}
