//! Parameter and result column type inference.
use super::*;
use crate::pgtype::PgType;
use crate::pgtype::PgType::*;

#[test]
fn parameter_types() {
    let cases: &[(&str, &[PgType])] = &[
        ("SELECT * FROM users WHERE id = $1", &[Int8]),
        ("SELECT * FROM users WHERE $1 = name", &[Text]),
        (
            "SELECT * FROM users WHERE age > $1 AND score <= $2",
            &[Int4, Float8],
        ),
        (
            "SELECT * FROM users WHERE email IN ($1, $2)",
            &[Varchar, Varchar],
        ),
        (
            "SELECT * FROM users WHERE created BETWEEN $1 AND $2",
            &[Timestamptz, Timestamptz],
        ),
        (
            "SELECT * FROM users WHERE name LIKE $1 OR email ILIKE $2",
            &[Text, Text],
        ),
        ("SELECT * FROM users LIMIT $1 OFFSET $2", &[Int8, Int8]),
        (
            "SELECT * FROM users OFFSET $1 ROWS FETCH FIRST $2 ROWS ONLY",
            &[Int8, Int8],
        ),
        (
            "INSERT INTO users (name, age) VALUES ($1, $2)",
            &[Text, Int4],
        ),
        (
            "INSERT INTO users (name, age) VALUES ($1, $2), ($3, $4)",
            &[Text, Int4, Text, Int4],
        ),
        (
            "INSERT INTO orders VALUES ($1, $2, $3, $4, $5)",
            &[Int8, Int8, Numeric, Text, Int2],
        ),
        ("UPDATE users SET age = $1 WHERE name = $2", &[Int4, Text]),
        ("UPDATE users SET (age, name) = ($1, $2)", &[Int4, Text]),
        (
            "INSERT INTO users (name, score) SELECT $1, $2",
            &[Text, Float8],
        ),
        (
            "INSERT INTO users (id, name) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET active = $3",
            &[Int8, Text, Bool],
        ),
        ("SELECT $1::int4, CAST($2 AS text)", &[Int4, Text]),
        ("SELECT age + $1 FROM users", &[Int4]),
        ("SELECT * FROM users AS u WHERE u.score = $1", &[Float8]),
        (
            "SELECT o.total FROM users u JOIN orders o ON o.user_id = u.id WHERE o.qty = $1 AND u.active = $2",
            &[Int2, Bool],
        ),
        (
            "SELECT * FROM users WHERE id IN (SELECT user_id FROM orders WHERE total > $1)",
            &[Numeric],
        ),
        (
            "WITH big AS (SELECT user_id, total FROM orders) SELECT * FROM big WHERE total = $1",
            &[Numeric],
        ),
        (
            "SELECT * FROM (SELECT age AS a FROM users) s WHERE s.a = $1",
            &[Int4],
        ),
        ("DELETE FROM orders WHERE note = $1", &[Text]),
        (
            "SELECT * FROM pg_catalog.pg_type WHERE oid = $1",
            &[Unknown],
        ),
        ("SELECT $2", &[Unknown, Unknown]),
        ("SELECT * FROM ORDERS WHERE ID = $1", &[Int8]),
        ("SELECT * FROM users WHERE name = $1 AND $1 = 'x'", &[Text]),
    ];
    for (sql, expected) in cases {
        assert_eq!(query(sql).params, *expected, "{sql}");
    }
    // SQLite's grammar only: typed from its AST, run as written.
    let t = query("SELECT `name`, count(*) FROM users WHERE `age` = $1 GROUP BY 1");
    assert_eq!(
        t.sql,
        "SELECT `name`, count(*) FROM users WHERE `age` = $1 GROUP BY 1"
    );
    assert_eq!((t.params, t.columns), (vec![Int4], vec![Unknown, Int8]));
    // Untranslatable by the parser: a lexical scan still counts the parameters.
    let t = query("SELECT '$9', \"$8\", $3 /* $7 */ -- $6\n FROM users WHERE INDEXED BY x");
    assert_eq!(t.params, vec![Unknown; 3]);
}

#[test]
fn parameter_types_without_schema() {
    let out = no_schema("SELECT * FROM users WHERE id = $1 LIMIT $2").unwrap();
    let [PgStatement::Query(t)] = out.as_slice() else {
        panic!("{out:?}");
    };
    assert_eq!(t.params, vec![Unknown, Int8]);
}

#[test]
fn result_column_types() {
    let cases: &[(&str, &[PgType])] = &[
        ("SELECT count(*), count(id) FROM users", &[Int8, Int8]),
        (
            "SELECT c.oid::regclass, 'pg_class'::regclass, array_agg(name) FROM pg_class c, users",
            &[Text, Oid, TextArray],
        ),
        (
            "SELECT sum(age), sum(score), avg(age), total(age) FROM users",
            &[Int8, Float8, Float8, Float8],
        ),
        (
            "SELECT min(name), max(created) FROM users",
            &[Text, Timestamptz],
        ),
        (
            "SELECT 1, 3000000000, 1.5, 'a', true, NULL",
            &[Int4, Int8, Numeric, Text, Bool, Unknown],
        ),
        (
            "SELECT id = 1, name IS NULL, NOT active, EXISTS (SELECT 1), id IN (1), name LIKE 'a', age BETWEEN 1 AND 2, id > 1 AND id < 3 FROM users",
            &[Bool, Bool, Bool, Bool, Bool, Bool, Bool, Bool],
        ),
        (
            "SELECT created::timestamp(3) with time zone, 1::numeric(10, 2), 'a'::character varying(3)",
            &[Timestamptz, Numeric, Varchar],
        ),
        (
            "SELECT id::int4, CAST(name AS varchar), '1'::numeric FROM users",
            &[Int4, Varchar, Numeric],
        ),
        (
            "SELECT name || 'x', lower(name), upper(name), substr(name, 1), trim(name), replace(name, 'a', 'b'), concat(name, 1) FROM users",
            &[Text; 7],
        ),
        (
            "SELECT length(name), char_length(name), octet_length(name) FROM users",
            &[Int4, Int4, Int4],
        ),
        (
            "SELECT age + 1, age * id, score + 1, age / 2.5 FROM users",
            &[Int8, Int8, Float8, Numeric],
        ),
        (
            "SELECT coalesce(NULL, age, 1), nullif(name, 'x'), CASE WHEN id = 1 THEN score ELSE 0 END FROM users",
            &[Int4, Text, Float8],
        ),
        (
            "SELECT current_database(), current_user, version(), pg_backend_pid()",
            &[Text, Text, Text, Int4],
        ),
        (
            "SELECT id, name, u.email FROM users u",
            &[Unknown, Unknown, Unknown],
        ),
        (
            "SELECT x.n FROM (SELECT count(*) AS n FROM users) x",
            &[Int8],
        ),
        (
            "WITH c AS (SELECT 1 AS one, name FROM users) SELECT one, name FROM c",
            &[Int4, Unknown],
        ),
        ("SELECT 1 UNION SELECT 2", &[Int4]),
        ("VALUES (1, 'a')", &[Int4, Text]),
        (
            "INSERT INTO users (name) VALUES ('a') RETURNING id, age + 1",
            &[Unknown, Int8],
        ),
        ("UPDATE users SET age = 1 RETURNING count(*)", &[Int8]),
        ("SELECT * FROM users", &[]),
        ("SELECT u.*, 1 FROM users u", &[]),
        ("INSERT INTO users (name) VALUES ('a') RETURNING *", &[]),
        ("INSERT INTO users (name) VALUES ('a')", &[]),
        ("SELECT (SELECT max(age) FROM users)", &[Int4]),
        (
            "SELECT json_agg(name), jsonb_build_object('a', 1), jsonb_array_length('[]'), gen_random_uuid() FROM users",
            &[Json, Jsonb, Int4, Uuid],
        ),
    ];
    for (sql, expected) in cases {
        assert_eq!(query(sql).columns, *expected, "{sql}");
    }
}
