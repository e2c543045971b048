//! PostgreSQL → SQLite translations, each prepared on SQLite.
use super::*;

/// (PostgreSQL text, the SQLite text it must become).
#[rustfmt::skip]
const CASES: &[(&str, &str)] = &[
    ("SELECT id::int4, name::text, '1.5'::numeric, score::float8 FROM users",
     "SELECT CAST(id AS INTEGER), CAST(name AS TEXT), CAST('1.5' AS NUMERIC), CAST(score AS REAL) FROM users"),
    ("SELECT CAST(id AS bigint), CAST(name AS varchar(10)) FROM users",
     "SELECT CAST(id AS INTEGER), CAST(name AS TEXT) FROM users"),
    ("SELECT created::date, created::timestamptz, '2024-01-01'::timestamp, name::uuid, name::jsonb FROM users",
     "SELECT date(CASE WHEN created LIKE '%+00' THEN created || ':00' ELSE created END), created, '2024-01-01', name, name FROM users"),
    ("SELECT 'pg_class'::regclass, 'int4'::regtype, 'array_in'::regproc, 'array_in(cstring,oid,integer)'::regprocedure, 'public'::regnamespace",
     "SELECT starbase_regclass('pg_class'), starbase_regtype('int4'), starbase_regproc('array_in'), starbase_regproc('array_in(cstring,oid,integer)'), starbase_regnamespace('public')"),
    ("SELECT c.oid::regclass, c.oid::oid FROM pg_class c WHERE c.oid::regclass = 1",
     "SELECT (SELECT relname FROM pg_class WHERE oid = c.oid) AS oid, c.oid FROM pg_class c WHERE c.oid = 1"),
    ("SELECT 't'::bool, 'off'::boolean",
     "SELECT true, false"),
    ("SELECT '\\x0001ff'::bytea, E'\\\\x89504e47'::bytea, CAST('ab\\000' AS bytea), bytea 'x'",
     "SELECT X'0001FF', X'89504E47', X'616200', X'78'"),
    ("SELECT now(), CURRENT_TIMESTAMP, transaction_timestamp(), statement_timestamp(), clock_timestamp(), LOCALTIMESTAMP",
     "SELECT strftime('%Y-%m-%d %H:%M:%f+00', 'now'), strftime('%Y-%m-%d %H:%M:%f+00', 'now'), strftime('%Y-%m-%d %H:%M:%f+00', 'now'), strftime('%Y-%m-%d %H:%M:%f+00', 'now'), strftime('%Y-%m-%d %H:%M:%f+00', 'now'), strftime('%Y-%m-%d %H:%M:%f+00', 'now')"),
    ("SELECT CURRENT_DATE, CURRENT_TIME",
     "SELECT date('now'), strftime('%H:%M:%f+00', 'now')"),
    ("SELECT * FROM users WHERE name ILIKE '%a%' AND email NOT ILIKE 'x%'",
     "SELECT * FROM users WHERE name LIKE '%a%' AND email NOT LIKE 'x%'"),
    ("SELECT * FROM users WHERE name ~ '^a' AND name ~* 'b' AND name !~ 'c' AND name !~* 'd'",
     "SELECT * FROM users WHERE (regexp('^a', name)) AND (regexp('(?i)' || 'b', name)) AND (NOT regexp('c', name)) AND (NOT regexp('(?i)' || 'd', name))"),
    ("SELECT c.oid FROM pg_catalog.pg_class c WHERE c.relname OPERATOR(pg_catalog.~) '^(users)$' COLLATE pg_catalog.default",
     "SELECT c.oid FROM pg_class c WHERE (regexp('^(users)$', c.relname))"),
    ("SELECT E'a\\nb''c', $$it's$$, $tag$x$tag$",
     "SELECT 'a\nb''c', 'it''s', 'x'"),
    ("SELECT * FROM users WHERE name IS DISTINCT FROM email OR age IS NOT DISTINCT FROM 3",
     "SELECT * FROM users WHERE (name IS NOT email) OR (age IS 3)"),
    ("SELECT position('a' IN name), substring(name FROM 2 FOR 3), substring(name FROM 2) FROM users",
     "SELECT instr(name, 'a'), substr(name, 2, 3), substr(name, 2) FROM users"),
    ("SELECT EXTRACT(year FROM TIMESTAMP '2024-05-06 10:11:12.5'), EXTRACT(month FROM TIMESTAMP '2024-05-06 10:11:12.5'), EXTRACT(day FROM TIMESTAMP '2024-05-06 10:11:12.5'), EXTRACT(hour FROM TIMESTAMP '2024-05-06 10:11:12.5'), EXTRACT(minute FROM TIMESTAMP '2024-05-06 10:11:12.5'), EXTRACT(second FROM TIMESTAMP '2024-05-06 10:11:12.5'), EXTRACT(epoch FROM TIMESTAMP '2024-05-06 10:11:12.5'), EXTRACT(dow FROM TIMESTAMP '2024-05-06 10:11:12.5'), EXTRACT(doy FROM TIMESTAMP '2024-05-06 10:11:12.5'), EXTRACT(isodow FROM TIMESTAMP '2024-05-06 10:11:12.5'), EXTRACT(week FROM TIMESTAMP '2024-05-06 10:11:12.5')",
     "SELECT CAST(strftime('%Y', '2024-05-06 10:11:12.5') AS INTEGER), CAST(strftime('%m', '2024-05-06 10:11:12.5') AS INTEGER), CAST(strftime('%d', '2024-05-06 10:11:12.5') AS INTEGER), CAST(strftime('%H', '2024-05-06 10:11:12.5') AS INTEGER), CAST(strftime('%M', '2024-05-06 10:11:12.5') AS INTEGER), CAST(strftime('%f', '2024-05-06 10:11:12.5') AS REAL), CAST(strftime('%s', '2024-05-06 10:11:12.5') AS INTEGER), CAST(strftime('%w', '2024-05-06 10:11:12.5') AS INTEGER), CAST(strftime('%j', '2024-05-06 10:11:12.5') AS INTEGER), CAST(strftime('%u', '2024-05-06 10:11:12.5') AS INTEGER), CAST(strftime('%V', '2024-05-06 10:11:12.5') AS INTEGER)"),
    ("SELECT EXTRACT(year FROM created) FROM users",
     "SELECT CAST(strftime('%Y', CASE WHEN created LIKE '%+00' THEN created || ':00' ELSE created END) AS INTEGER) FROM users"),
    ("SELECT EXTRACT(year FROM TIMESTAMP '2024-05-06 10:11:12')",
     "SELECT CAST(strftime('%Y', '2024-05-06 10:11:12') AS INTEGER)"),
    ("SELECT EXTRACT(year FROM now())",
     "SELECT CAST(strftime('%Y', 'now') AS INTEGER)"),
    ("SELECT * FROM users WHERE id = ANY(ARRAY[1, 2, 3]) AND age <> ALL(ARRAY[4, 5])",
     "SELECT * FROM users WHERE id IN (1, 2, 3) AND age NOT IN (4, 5)"),
    ("SELECT a.attname FROM pg_catalog.pg_attribute a, pg_catalog.pg_index i WHERE a.attnum = ANY(i.indkey) AND a.attnum <> ALL (i.indkey)",
     "SELECT a.attname FROM pg_attribute a, pg_index i WHERE a.attnum IN (SELECT value FROM json_each(starbase_array_json(i.indkey)) AS x) AND a.attnum NOT IN (SELECT value FROM json_each(starbase_array_json(i.indkey)) AS x)"),
    ("SELECT i.indkey[0], (c.conkey)[1] FROM pg_index i, pg_constraint c",
     "SELECT starbase_array_get(i.indkey, 0), starbase_array_get((c.conkey), 1) FROM pg_index i, pg_constraint c"),
    ("SELECT array_to_string(array(select rolname from pg_catalog.pg_roles order by 1), ',')",
     "SELECT array_to_string((SELECT array_agg(_sb_elem) FROM (SELECT rolname AS _sb_elem FROM pg_roles ORDER BY 1) AS _sb_elems), ',')"),
    ("SELECT c.conname, unnest(pg_catalog.pg_index.indkey) AS attnum, generate_subscripts(pg_catalog.pg_index.indkey, 1) AS ord, unnest(c.conkey) FROM pg_catalog.pg_constraint c JOIN pg_catalog.pg_index ON c.conindid = pg_catalog.pg_index.indexrelid",
     "SELECT c.conname, _sb_unnest0.value AS attnum, _sb_unnest0.key + array_lower(pg_index.indkey, 1) AS ord, _sb_unnest1.value AS unnest FROM pg_constraint c JOIN pg_index ON c.conindid = pg_index.indexrelid, json_each(starbase_array_json(pg_index.indkey)) AS _sb_unnest0, json_each(starbase_array_json(c.conkey)) AS _sb_unnest1"),
    ("SELECT name::text[], '{1,2}'::int2[] FROM users",
     "SELECT name, '{1,2}' FROM users"),
    ("SELECT s, s.r FROM pg_catalog.generate_series(1, 3) AS s(r) WHERE r > 1",
     "SELECT s.value, s.value FROM generate_series(1, 3) AS s WHERE s.value > 1"),
    ("SELECT g FROM generate_series(0, 2) g, pg_index i WHERE i.indkey[g] = 1",
     "SELECT g.value FROM generate_series(0, 2) g, pg_index i WHERE starbase_array_get(i.indkey, g.value) = 1"),
    ("SELECT x, unnest FROM pg_constraint c, unnest(c.conkey) AS t(x), unnest(c.conkey)",
     "SELECT t.value, unnest.value FROM pg_constraint c, json_each(starbase_array_json(c.conkey)) AS t, json_each(starbase_array_json(c.conkey)) AS unnest"),
    ("SELECT d.datname, pg_database.oid FROM pg_catalog.pg_database d, pg_database",
     "SELECT d.datname, pg_database.oid FROM (SELECT oid, 'main' AS datname, datdba, encoding, datlocprovider, datistemplate, datallowconn, datconnlimit, datlastsysoid, datfrozenxid, datminmxid, dattablespace, datcollate, datctype, daticulocale, daticurules, datcollversion, datacl FROM temp.pg_database) AS d, (SELECT oid, 'main' AS datname, datdba, encoding, datlocprovider, datistemplate, datallowconn, datconnlimit, datlastsysoid, datfrozenxid, datminmxid, dattablespace, datcollate, datctype, daticulocale, daticurules, datcollversion, datacl FROM temp.pg_database) AS pg_database"),
    ("SELECT * FROM users WHERE id = ANY(SELECT user_id FROM orders)",
     "SELECT * FROM users WHERE id IN (SELECT user_id FROM orders)"),
    ("SELECT name COLLATE \"C\", email COLLATE \"default\" FROM users ORDER BY name COLLATE pg_catalog.default",
     "SELECT name, email FROM users ORDER BY name"),
    ("SELECT relname FROM pg_catalog.pg_class JOIN pg_catalog.pg_namespace n ON n.oid = relnamespace",
     "SELECT relname FROM pg_class JOIN pg_namespace n ON n.oid = relnamespace"),
    ("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
     "SELECT table_name FROM information_schema_tables WHERE table_schema = 'public'"),
    ("SELECT * FROM public.users",
     "SELECT * FROM users"),
    ("SELECT pg_catalog.pg_table_is_visible(c.oid), pg_catalog.format_type(1, 2) FROM pg_class c",
     "SELECT pg_table_is_visible(c.oid), format_type(1, 2) FROM pg_class c"),
    ("SELECT current_database(), current_catalog, current_schema, current_schema()",
     "SELECT 'main', 'main', 'public', 'public'"),
    ("SELECT nspname FROM pg_namespace WHERE nspname = ANY(current_schemas(false))",
     "SELECT nspname FROM pg_namespace WHERE nspname IN ('public')"),
    ("SELECT nspname FROM pg_namespace WHERE nspname = ANY (current_schemas(true))",
     "SELECT nspname FROM pg_namespace WHERE nspname IN ('pg_catalog', 'public')"),
    ("SELECT current_user, session_user, user, current_role",
     "SELECT 'alice', 'alice', 'alice', 'alice'"),
    ("SELECT current_setting('timezone'), current_setting('nope', true), current_setting('search_path')",
     "SELECT 'UTC', NULL, '\"$user\", public'"),
    ("SELECT pg_backend_pid(), version()",
     "SELECT 4242, 'PostgreSQL 16.4 on x86_64-pc-linux-gnu, compiled by Starbase 0.1.0 (embedded SQLite)'"),
    ("SELECT pg_catalog.version()",
     "SELECT 'PostgreSQL 16.4 on x86_64-pc-linux-gnu, compiled by Starbase 0.1.0 (embedded SQLite)'"),
    ("SELECT * FROM users WHERE id = 1 FOR UPDATE",
     "SELECT * FROM users WHERE id = 1"),
    ("SELECT * FROM users FOR SHARE NOWAIT",
     "SELECT * FROM users"),
    ("SELECT * FROM users FOR UPDATE SKIP LOCKED",
     "SELECT * FROM users"),
    ("CREATE TABLE t1 (id SERIAL PRIMARY KEY, name TEXT NOT NULL)",
     "CREATE TABLE t1 (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"),
    ("CREATE TABLE t2 (id BIGSERIAL, name TEXT, PRIMARY KEY (id))",
     "CREATE TABLE t2 (id INTEGER, name TEXT, PRIMARY KEY (id))"),
    ("CREATE TABLE t3 (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v TEXT)",
     "CREATE TABLE t3 (id INTEGER PRIMARY KEY, v TEXT)"),
    ("CREATE TABLE t4 (id INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY)",
     "CREATE TABLE t4 (id INTEGER PRIMARY KEY)"),
    ("CREATE TABLE IF NOT EXISTS t5 (id SMALLSERIAL PRIMARY KEY, at TIMESTAMPTZ DEFAULT now(), d DATE DEFAULT CURRENT_DATE)",
     "CREATE TABLE IF NOT EXISTS t5 (id INTEGER PRIMARY KEY, at TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP, d DATE DEFAULT CURRENT_DATE)"),
    ("CREATE TABLE t6 (id INT PRIMARY KEY, label VARCHAR(20) DEFAULT 'x'::character varying, n NUMERIC(10,2) DEFAULT 0, u UUID, j JSONB, b BOOLEAN DEFAULT true, ts TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP)",
     "CREATE TABLE t6 (id INT PRIMARY KEY, label VARCHAR(20) DEFAULT (CAST('x' AS TEXT)), n NUMERIC(10,2) DEFAULT 0, u UUID, j JSONB, b BOOLEAN DEFAULT true, ts TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP)"),
    ("CREATE TABLE public.t7 (id INTEGER PRIMARY KEY, uid INTEGER REFERENCES users(id) ON DELETE CASCADE, c INT CHECK (c > 0), e TEXT UNIQUE)",
     "CREATE TABLE t7 (id INTEGER PRIMARY KEY, uid INTEGER REFERENCES users (id) ON DELETE CASCADE, c INT CHECK (c > 0), e TEXT UNIQUE)"),
    ("DROP TABLE IF EXISTS users RESTRICT",
     "DROP TABLE IF EXISTS users"),
    ("INSERT INTO users (name) VALUES (E'x\\ty') RETURNING id",
     "INSERT INTO users (name) VALUES ('x\ty') RETURNING id"),
    ("INSERT INTO users (id, name) VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name || now() WHERE users.id > 0",
     "INSERT INTO users (id, name) VALUES (1, 'a') ON CONFLICT(id) DO UPDATE SET name = EXCLUDED.name || strftime('%Y-%m-%d %H:%M:%f+00', 'now') WHERE users.id > 0"),
    ("SELECT count(*) FROM users WHERE name ~~ 'a%' AND name !~~* 'b%'",
     "SELECT count(*) FROM users WHERE (name LIKE 'a%') AND (name NOT LIKE 'b%')"),
    ("DELETE FROM orders USING users WHERE orders.user_id = users.id AND users.name = 'x'",
     "DELETE FROM orders WHERE EXISTS (SELECT 1 FROM users WHERE orders.user_id = users.id AND users.name = 'x')"),
    ("CREATE INDEX CONCURRENTLY IF NOT EXISTS users_name ON users USING btree (name text_pattern_ops)",
     "CREATE INDEX IF NOT EXISTS users_name ON users(name)"),
    ("CREATE UNIQUE INDEX users_email ON public.users (email)",
     "CREATE UNIQUE INDEX users_email ON users(email)"),
    ("TRUNCATE TABLE users RESTART IDENTITY",
     "DELETE FROM users"),
    ("TRUNCATE public.orders",
     "DELETE FROM orders"),
    ("SELECT * FROM users ORDER BY id FETCH FIRST 5 ROWS ONLY",
     "SELECT * FROM users ORDER BY id LIMIT 5"),
    ("SELECT * FROM users OFFSET 10 ROWS FETCH NEXT ROW ONLY",
     "SELECT * FROM users LIMIT 1 OFFSET 10"),
    ("SELECT * FROM users ORDER BY id OFFSET 3",
     "SELECT * FROM users ORDER BY id LIMIT -1 OFFSET 3"),
    ("SELECT * FROM users WHERE id IN (SELECT user_id FROM orders FOR UPDATE)",
     "SELECT * FROM users WHERE id IN (SELECT user_id FROM orders)"),
    ("ALTER TABLE users ADD COLUMN seen TIMESTAMPTZ DEFAULT now()",
     "ALTER TABLE users ADD COLUMN seen TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP"),
    ("ALTER TABLE users ADD COLUMN tag TEXT DEFAULT 'x'::text",
     "ALTER TABLE users ADD COLUMN tag TEXT DEFAULT (CAST('x' AS TEXT))"),
    ("INSERT INTO orders (id, note) SELECT id, name FROM users ON CONFLICT (id) DO NOTHING",
     "INSERT INTO orders (id, note) SELECT id, name FROM users WHERE true ON CONFLICT(id) DO NOTHING"),
    ("INSERT INTO users (id, name, age) VALUES (DEFAULT, 'a', default) RETURNING id",
     "INSERT INTO users (name) VALUES ('a') RETURNING id"),
    ("INSERT INTO users (id) VALUES (DEFAULT)",
     "INSERT INTO users DEFAULT VALUES"),
    ("CREATE UNLOGGED TABLE u1 (a INT)",
     "CREATE TABLE u1 (a INT)"),
    ("TABLE users",
     "SELECT * FROM users"),
    ("TABLE public.users ORDER BY id LIMIT 1",
     "SELECT * FROM users ORDER BY id LIMIT 1"),
    ("SELECT pg_catalog.pg_class.relname, information_schema.tables.table_name FROM pg_catalog.pg_class, information_schema.tables",
     "SELECT pg_class.relname, information_schema_tables.table_name FROM pg_class, information_schema_tables"),
    ("SELECT oid FROM pg_class WHERE oid = $1::regclass",
     "SELECT oid FROM pg_class WHERE oid = starbase_regclass($1)"),
    ("CREATE TABLE public.d (id integer NOT NULL, n pg_catalog.int4, s text COLLATE pg_catalog.\"default\", c character varying(20) COLLATE \"C\")",
     "CREATE TABLE d (id INTEGER NOT NULL, n int4, s TEXT, c CHARACTER VARYING(20))"),
    ("SELECT nspname FROM pg_namespace WHERE nspname <> ALL (current_schemas(false))",
     "SELECT nspname FROM pg_namespace WHERE nspname NOT IN ('public')"),
    ("SELECT 'int4'::pg_catalog.regtype, c.oid::pg_catalog.regclass::pg_catalog.text FROM pg_class c",
     "SELECT starbase_regtype('int4'), CAST(c.oid AS TEXT) FROM pg_class c"),
    ("SELECT greatest(age, 1), least(age, 2, 3), char_length(name), strpos(name, 'a'), left(name, 2), btrim(name) FROM users",
     "SELECT max(age, 1), min(age, 2, 3), length(name), instr(name, 'a'), substr(name, 1, 2), trim(name) FROM users"),
    ("SELECT now() - interval '7 days', now() + INTERVAL '1 day 2 hours'",
     "SELECT strftime('%Y-%m-%d %H:%M:%f+00', 'now', '-7 days'), strftime('%Y-%m-%d %H:%M:%f+00', 'now', '+1 days', '+2 hours')"),
    ("SELECT id FROM users WHERE created > now() - INTERVAL '3' DAY",
     "SELECT id FROM users WHERE created > strftime('%Y-%m-%d %H:%M:%f+00', 'now', '-3 days')"),
    ("SELECT (created AT TIME ZONE 'UTC')::date, now() AT TIME ZONE 'utc' FROM users",
     "SELECT date((strftime('%Y-%m-%d %H:%M:%f', CASE WHEN created LIKE '%+00' THEN created || ':00' ELSE created END))), strftime('%Y-%m-%d %H:%M:%f', 'now') FROM users"),
    ("SELECT json_agg(name ORDER BY id) FILTER (WHERE active), jsonb_build_object('a', 1), json_build_array(1, 2), jsonb_object_agg(name, age), jsonb_array_length('[1]') FROM users",
     "SELECT json_group_array(name ORDER BY id) FILTER (WHERE active), json_object('a', 1), json_array(1, 2), json_group_object(name, age), json_array_length('[1]') FROM users"),
];

#[test]
fn translations_match_and_prepare_on_sqlite() {
    let conn = sqlite();
    for (sql, expected) in CASES {
        let t = query(sql);
        assert_eq!(t.sql, *expected, "{sql}");
        assert_prepares(&conn, &t.sql);
    }
}

#[test]
fn untouched_statements_keep_the_clients_text() {
    let conn = sqlite();
    for sql in [
        "SELECT id,name FROM users WHERE id = $1",
        "select  *  from users where name like 'a%'  order by 1 limit 2 offset 1",
        "INSERT INTO users (name) VALUES ('a') RETURNING id",
        "INSERT INTO users (id, name) VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET name = excluded.name WHERE users.id > 0",
        "INSERT INTO users DEFAULT VALUES",
        "UPDATE users SET active = true WHERE active = false",
        "CREATE TABLE IF NOT EXISTS z (id INTEGER PRIMARY KEY, v VARCHAR(20) NOT NULL DEFAULT 'x', n NUMERIC(10,2) CHECK (n > 0), u UUID UNIQUE, j JSONB, at TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP, r INTEGER REFERENCES users(id))",
        "WITH x AS (SELECT 1 AS a) SELECT a FROM x",
        "SELECT count(*) FILTER (WHERE active) FROM users",
    ] {
        let t = query(sql);
        assert_eq!(t.sql, sql);
        assert_prepares(&conn, &t.sql);
    }
}

#[test]
fn extract_reads_what_now_stores() {
    let conn = sqlite();
    let insert =
        query("INSERT INTO users (id, created) VALUES (1, now()), (2, '2024-05-06 10:11:12')");
    conn.execute_batch(&insert.sql).unwrap();
    let select = query("SELECT EXTRACT(year FROM created) FROM users ORDER BY id");
    let mut stmt = conn.prepare(&select.sql).unwrap();
    let years: Vec<Option<i64>> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        matches!(years.as_slice(), [Some(y), Some(2024)] if *y >= 2024),
        "{years:?}"
    );
}

#[test]
fn random_and_uuids_behave_as_in_postgresql() {
    let conn = sqlite();
    let t = query("SELECT random(), gen_random_uuid()");
    let (r, uuid): (f64, String) = conn
        .query_row(&t.sql, [], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap();
    assert!((0.0..1.0).contains(&r), "{r}");
    let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12], "{uuid}");
    assert_eq!(uuid.as_bytes()[14], b'4', "{uuid}");
    assert!(
        matches!(uuid.as_bytes()[19], b'8' | b'9' | b'a' | b'b'),
        "{uuid}"
    );
    assert_eq!(uuid, uuid.to_lowercase());
    let ddl = query("CREATE TABLE things (id UUID PRIMARY KEY DEFAULT gen_random_uuid(), n INT)");
    conn.execute_batch(&ddl.sql).unwrap();
    conn.execute_batch("INSERT INTO things (n) VALUES (1)")
        .unwrap();
    let id: String = conn
        .query_row("SELECT id FROM things", [], |r| r.get(0))
        .unwrap();
    assert_eq!(id.len(), 36);
    assert_eq!(
        query("SELECT gen_random_uuid()").columns,
        vec![crate::pgtype::PgType::Uuid]
    );
}

#[test]
fn date_trunc_truncates() {
    let conn = sqlite();
    for (unit, expected) in [
        ("year", "2024-01-01 00:00:00"),
        ("month", "2024-05-01 00:00:00"),
        ("day", "2024-05-08 00:00:00"),
        ("hour", "2024-05-08 10:00:00"),
        ("minute", "2024-05-08 10:11:00"),
        ("second", "2024-05-08 10:11:12"),
        ("week", "2024-05-06 00:00:00"),
    ] {
        let t = query(&format!(
            "SELECT date_trunc('{unit}', t) FROM (SELECT '2024-05-08 10:11:12.345+00' AS t)"
        ));
        let got: String = conn.query_row(&t.sql, [], |r| r.get(0)).unwrap();
        assert_eq!(got, expected, "{unit}: {}", t.sql);
    }
}

#[test]
fn interval_arithmetic_computes_dates() {
    let conn = sqlite();
    for (pg, expected) in [
        (
            "TIMESTAMP '2024-05-08 10:00:00' + interval '1 week'",
            "2024-05-15 10:00:00.000+00",
        ),
        (
            "TIMESTAMP '2024-05-08 10:00:00' - interval '1 mon 1 hour'",
            "2024-04-08 09:00:00.000+00",
        ),
        ("t + interval '30 minutes'", "2024-05-08 10:41:12.345+00"),
        ("interval '1 year' + t", "2025-05-08 10:11:12.345+00"),
    ] {
        let t = query(&format!(
            "SELECT {pg} FROM (SELECT '2024-05-08 10:11:12.345+00' AS t)"
        ));
        let got: String = conn.query_row(&t.sql, [], |r| r.get(0)).unwrap();
        assert_eq!(got, expected, "{pg}: {}", t.sql);
    }
}
