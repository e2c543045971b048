//! Queries real clients send (shared/spec/pgwire-compat.md §4): each must translate, and
//! SQLite must find no syntax error in the result (missing catalog objects are fine here:
//! another module provides them).
use super::*;

const CLIENT_QUERIES: &[&str] = &[
    // psql \dt
    "SELECT n.nspname as \"Schema\", c.relname as \"Name\",
      CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
        WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table'
        WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as \"Type\",
      pg_catalog.pg_get_userbyid(c.relowner) as \"Owner\"
    FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r','p','') AND n.nspname <> 'pg_catalog' AND n.nspname !~ '^pg_toast'
      AND n.nspname <> 'information_schema' AND pg_catalog.pg_table_is_visible(c.oid)
    ORDER BY 1,2",
    // psql \d step 1
    "SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c
      LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relname OPERATOR(pg_catalog.~) '^(t)$' COLLATE pg_catalog.default
      AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 2, 3",
    // DBeaver
    "SELECT db.oid,db.* FROM pg_catalog.pg_database db WHERE 1 = 1 AND datallowconn AND NOT datistemplate OR db.datname =$1 ORDER BY db.datname",
    "SELECT current_schema(),session_user",
    "SELECT n.oid,n.*,d.description FROM pg_catalog.pg_namespace n
      LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=n.oid AND d.objsubid=0 AND d.classoid='pg_namespace'::regclass ORDER BY nspname",
    "select * from pg_catalog.pg_settings where name=$1",
    "SELECT * FROM pg_catalog.pg_enum WHERE 1<>1 LIMIT 1",
    "SELECT t.oid,t.*,c.relkind,format_type(nullif(t.typbasetype, 0), t.typtypmod) as base_type_name, d.description
      FROM pg_catalog.pg_type t LEFT OUTER JOIN pg_catalog.pg_type et ON et.oid=t.typelem
      LEFT OUTER JOIN pg_catalog.pg_class c ON c.oid=t.typrelid LEFT OUTER JOIN pg_catalog.pg_description d ON t.oid=d.objoid
      WHERE t.typname IS NOT NULL AND (c.relkind IS NULL OR c.relkind = 'c') AND (et.typcategory IS NULL OR et.typcategory <> 'C')",
    // tokio-postgres
    "SELECT t.typname, t.typtype, t.typelem, r.rngsubtype, t.typbasetype, n.nspname, t.typrelid
    FROM pg_catalog.pg_type t
    LEFT OUTER JOIN pg_catalog.pg_range r ON r.rngtypid = t.oid
    INNER JOIN pg_catalog.pg_namespace n ON t.typnamespace = n.oid
    WHERE t.oid = $1",
    // sqlx
    "SELECT typname, typtype, typcategory, typrelid, typelem, typbasetype FROM pg_catalog.pg_type WHERE oid = $1",
    // SQLAlchemy
    "select pg_catalog.version()",
    "select current_schema()",
    // Django
    "SELECT a.attname AS column_name,
      NOT (a.attnotnull OR ((t.typtype = 'd') AND t.typnotnull)) AS is_nullable,
      pg_get_expr(ad.adbin, ad.adrelid) AS column_default
    FROM pg_attribute AS a LEFT JOIN pg_attrdef AS ad ON (a.attrelid = ad.adrelid) AND (a.attnum = ad.adnum)
    JOIN pg_type AS t ON a.atttypid = t.oid JOIN pg_class AS c ON a.attrelid = c.oid
    JOIN pg_namespace AS n ON c.relnamespace = n.oid
    WHERE ((c.relkind IN ('f','m','p','r','v')) AND (c.relname = 'users'))
      AND (n.nspname NOT IN ('pg_catalog','pg_toast')) AND pg_table_is_visible(c.oid)",
    // Rails
    "SELECT t.oid, t.typname, t.typelem, t.typdelim, t.typinput, r.rngsubtype, t.typtype, t.typbasetype
    FROM pg_type AS t LEFT JOIN pg_range AS r ON oid = rngtypid
    WHERE t.typname IN ('int2','int4','int8','oid','float4','float8','text','varchar','numeric')
       OR t.typtype IN ('r','e','d')
       OR t.typinput = 'array_in(cstring,oid,integer)'::REGPROCEDURE
       OR t.typelem != 0",
    // Prisma-style
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY (ARRAY['public'])",
    "SELECT table_name, column_name, is_nullable FROM information_schema.columns WHERE table_schema = 'public' ORDER BY ordinal_position",
    // Grafana
    "SELECT current_setting('server_version')",
    // pgJDBC
    "SELECT typinput='pg_catalog.array_in'::regproc as is_array, typtype, typname, pg_type.oid FROM pg_catalog.pg_type WHERE pg_type.oid = $1",
    // psql \d t: columns, indexes, foreign keys
    "SELECT a.attname,
      pg_catalog.format_type(a.atttypid, a.atttypmod),
      (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)
       FROM pg_catalog.pg_attrdef d
       WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),
      a.attnotnull,
      (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t
       WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation,
      a.attidentity,
      a.attgenerated
    FROM pg_catalog.pg_attribute a
    WHERE a.attrelid = '16384' AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY a.attnum",
    "SELECT c2.relname, i.indisprimary, i.indisunique, i.indisclustered, i.indisvalid, pg_catalog.pg_get_indexdef(i.indexrelid, 0, true),
      pg_catalog.pg_get_constraintdef(con.oid, true), contype, condeferrable, condeferred, i.indisreplident, c2.reltablespace
    FROM pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_index i
      LEFT JOIN pg_catalog.pg_constraint con ON (conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN ('p','u','x'))
    WHERE c.oid = '16384' AND c.oid = i.indrelid AND i.indexrelid = c2.oid
    ORDER BY i.indisprimary DESC, c2.relname",
    "SELECT true as sametable, conname,
      pg_catalog.pg_get_constraintdef(r.oid, true) as condef,
      conrelid::pg_catalog.regclass AS ontable
    FROM pg_catalog.pg_constraint r
    WHERE r.conrelid = '16384' AND r.contype = 'f'
         AND conparentid = 0
    ORDER BY conname",
    "SELECT pubname
         , NULL
         , NULL
    FROM pg_catalog.pg_publication p
         JOIN pg_catalog.pg_publication_namespace pn ON p.oid = pn.pnpubid
         JOIN pg_catalog.pg_class pc ON pc.relnamespace = pn.pnnspid
    WHERE pc.oid ='16384' and pg_catalog.pg_relation_is_publishable('16384')
    ORDER BY 1",
    // psql \l
    "SELECT d.datname as \"Name\",
           pg_catalog.pg_get_userbyid(d.datdba) as \"Owner\",
           pg_catalog.pg_encoding_to_char(d.encoding) as \"Encoding\",
           d.datcollate as \"Collate\",
           d.datctype as \"Ctype\"
    FROM pg_catalog.pg_database d
    ORDER BY 1",
    // psql \dn
    "SELECT n.nspname AS \"Name\",
      pg_catalog.pg_get_userbyid(n.nspowner) AS \"Owner\"
    FROM pg_catalog.pg_namespace n
    WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
    ORDER BY 1",
    // pgAdmin/Grafana-style
    "SELECT CASE WHEN current_setting('server_version_num')::int >= 100000 THEN 'ok' ELSE 'old' END",
    "SELECT quote_ident(table_name) FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
    // Everyday application SQL
    "INSERT INTO users (name, created) VALUES ($1, now()) RETURNING id, created",
    "UPDATE users SET name = $1, created = CURRENT_TIMESTAMP WHERE id = $2 RETURNING *",
    "SELECT u.name, count(o.id) FROM users u LEFT JOIN orders o ON o.user_id = u.id WHERE u.name ILIKE $1 GROUP BY u.name HAVING count(o.id) > 0 ORDER BY 2 DESC LIMIT $2 OFFSET $3",
    "WITH recent AS (SELECT * FROM orders WHERE note ~* 'rush') SELECT * FROM recent FOR UPDATE",
    "INSERT INTO users DEFAULT VALUES RETURNING id",
    "INSERT INTO users (id, name) VALUES (1, 'a') ON CONFLICT DO NOTHING",
    "SELECT id FROM users WHERE created::date = CURRENT_DATE AND active IS TRUE",
    "DELETE FROM orders USING users WHERE orders.user_id = users.id AND users.name = $1",
];

#[test]
fn client_queries_translate_to_valid_sqlite_syntax() {
    let conn = sqlite();
    for sql in CLIENT_QUERIES {
        let t = query(sql);
        if let Err(e) = conn.prepare(&t.sql) {
            let msg = e.to_string();
            assert!(
                msg.contains("no such table")
                    || msg.contains("no such column")
                    || msg.contains("no such function"),
                "{sql}\n=> {}\n=> {msg}",
                t.sql
            );
        }
    }
}

/// Every rewritten expression in every statement position SQLite parses differently.
#[test]
fn rewritten_expressions_are_valid_sqlite_in_every_position() {
    const EXPRS: &[&str] = &[
        "name::text",
        "'1'::int8",
        "created::date",
        "'users'::regclass",
        "now()",
        "CURRENT_TIME",
        "name ILIKE 'a%'",
        "name !~* 'x'",
        "name OPERATOR(pg_catalog.~) 'x'",
        "E'\\t'",
        "$$q$$",
        "name IS DISTINCT FROM email",
        "position('a' IN name)",
        "substring(name FROM 1 FOR 2)",
        "EXTRACT(epoch FROM created)",
        "id = ANY(ARRAY[1, 2])",
        "name COLLATE \"C\"",
        "current_user",
        "current_setting('timezone')",
        "version()",
        "pg_catalog.lower(name)",
        "'yes'::boolean",
        "DATE '2024-01-01'",
        "greatest(id, 1)",
        "random()",
        "gen_random_uuid()",
        "char_length(name)",
        "EXTRACT(year FROM created)",
        "name::regclass::oid",
        "$1::text",
        "now() - interval '1 day'",
        "created + INTERVAL '2' HOUR",
        "date_trunc('month', created)",
    ];
    let templates = [
        "SELECT {e} FROM users",
        "SELECT id FROM users WHERE ({e}) IS NOT NULL",
        "SELECT id FROM users ORDER BY {e}",
        "SELECT count(*) FROM users GROUP BY {e} HAVING count({e}) > 0",
        "SELECT u.id FROM users u JOIN orders o ON ({e}) IS NOT NULL",
        "WITH c AS (SELECT {e} AS v FROM users) SELECT v FROM c",
        "SELECT (SELECT {e} FROM users LIMIT 1)",
        "UPDATE users SET note = {e} WHERE ({e}) IS NULL RETURNING {e}",
        "INSERT INTO orders (note) VALUES ({e}) RETURNING {e}",
        "INSERT INTO orders (id, note) SELECT id, {e} FROM users ON CONFLICT (id) DO UPDATE SET note = {e}",
        "DELETE FROM orders WHERE ({e}) IS NULL",
        "CREATE VIEW v AS SELECT {e} AS v FROM users",
    ];
    let conn = sqlite();
    conn.execute_batch("ALTER TABLE users ADD COLUMN note TEXT")
        .unwrap();
    let schema = schema();
    for template in templates {
        for e in EXPRS {
            let sql = template.replace("{e}", e);
            let out = translate(&sql, &ctx(), &schema).unwrap();
            let [PgStatement::Query(t)] = out.as_slice() else {
                panic!("{sql}: {out:?}");
            };
            assert_ne!(t.sql, sql, "{sql}: nothing was rewritten");
            if let Err(err) = conn.prepare(&t.sql) {
                let msg = err.to_string();
                assert!(
                    !msg.contains("syntax error"),
                    "{sql}\n=> {}\n=> {msg}",
                    t.sql
                );
            }
        }
    }
}

/// A Prisma migration's tables and indexes run on SQLite.
#[test]
fn prisma_migration_creates_tables() {
    let script = r#"
-- CreateTable
CREATE TABLE "User" (
    "id" SERIAL NOT NULL,
    "email" TEXT NOT NULL,
    "name" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Post" (
    "id" BIGSERIAL NOT NULL,
    "title" VARCHAR(255) NOT NULL,
    "published" BOOLEAN NOT NULL DEFAULT false,
    "authorId" INTEGER NOT NULL REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    "meta" JSONB NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT "Post_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");
CREATE INDEX "Post_authorId_idx" ON "Post" USING BTREE ("authorId");
"#;
    let conn = sqlite();
    let out = run(script).unwrap();
    assert_eq!(out.len(), 4);
    for statement in out {
        let PgStatement::Query(t) = statement else {
            panic!("{statement:?}");
        };
        conn.execute_batch(&t.sql)
            .unwrap_or_else(|e| panic!("{}: {e}", t.sql));
    }
    conn.execute(
        "INSERT INTO \"User\" (email, \"updatedAt\") VALUES ('a', 'now')",
        [],
    )
    .unwrap();
    let id: i64 = conn
        .query_row("SELECT id FROM \"User\"", [], |r| r.get(0))
        .unwrap();
    assert_eq!(id, 1);
}
