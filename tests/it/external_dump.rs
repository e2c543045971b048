//! `GET /export/dump` and `POST /import/dump` on PostgreSQL and MySQL sources: the dump in
//! the server's dialect restores identical tables (through our import and through the real
//! `psql`/`mariadb` client), streams, and bad scripts are refused with the statement named.
//! Each test has databases of its own.

use serde_json::{Value, json};
use starbase::config::SourceKind;

use crate::common::external::{ExternalDb, post_on, query_on};
use crate::common::{ADMIN, TestGateway};

crate::common::external::on_both!(
    dump_round_trips_through_import_and_the_real_client,
    bad_scripts_name_the_statement_and_commit_what_the_server_allows,
);

/// Statements creating the test schema (dialect of `kind`).
fn schema(kind: SourceKind) -> Vec<String> {
    let pg = [
        "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')",
        "CREATE TABLE parent (id serial PRIMARY KEY, name text NOT NULL UNIQUE, m mood DEFAULT 'ok')",
        "CREATE TABLE child (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
           parent_id int REFERENCES parent(id), b bytea, t text, big bigint, num numeric(30,10), \
           ts timestamp, tstz timestamptz, d date, j json, jb jsonb, arr int[], u uuid, \
           flag boolean, f float8, CHECK (big IS NULL OR big <> 13))",
        "CREATE TABLE nokey (a text, b int)",
        "CREATE TABLE pairs (a int, b text, c text, PRIMARY KEY (a, b))",
        "CREATE INDEX child_t ON child (t)",
        "CREATE VIEW parent_names AS SELECT id, name FROM parent",
        "CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.t := NEW.t || '!'; RETURN NEW; END $$",
        "CREATE TRIGGER child_bump BEFORE INSERT ON child FOR EACH ROW EXECUTE FUNCTION bump()",
        // COPY edge cases: an empty block, rows without columns, a key COPY does not carry.
        "CREATE TABLE empty (id int PRIMARY KEY, v text)",
        "CREATE TABLE nocols ()",
        "CREATE TABLE genkey (a int, g int GENERATED ALWAYS AS (a * 2) STORED PRIMARY KEY)",
    ];
    let my = [
        "CREATE TABLE parent (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL UNIQUE, \
           m ENUM('sad', 'ok', 'happy') DEFAULT 'ok')",
        "CREATE TABLE child (id BIGINT AUTO_INCREMENT PRIMARY KEY, parent_id INT, b BLOB, t TEXT, \
           big BIGINT, num DECIMAL(30,10), ts DATETIME(6), d DATE, j JSON, flag BOOLEAN, f DOUBLE, \
           FOREIGN KEY (parent_id) REFERENCES parent(id), CHECK (big IS NULL OR big <> 13))",
        "CREATE TABLE nokey (a TEXT, b INT)",
        "CREATE TABLE pairs (a INT, b VARCHAR(20), c TEXT, PRIMARY KEY (a, b))",
        "CREATE INDEX child_t ON child (t(20))",
        "CREATE VIEW parent_names AS SELECT id, name FROM parent",
        "CREATE TRIGGER child_bump BEFORE INSERT ON child FOR EACH ROW SET NEW.t = CONCAT(NEW.t, '!')",
    ];
    match kind {
        SourceKind::Postgres => pg.iter().map(|s| (*s).to_owned()).collect(),
        SourceKind::MySql => my.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// The awkward values (inserted after the trigger exists, so `t` gets its `!`).
fn data(kind: SourceKind) -> Vec<String> {
    let mut out = vec![
        "INSERT INTO parent (name, m) VALUES ('a', 'happy'), ('b''s \"quoted\", name', NULL)"
            .to_owned(),
    ];
    out.push(match kind {
        SourceKind::Postgres => "INSERT INTO child (parent_id, b, t, big, num, ts, tstz, d, j, jb, arr, u, flag, f) VALUES \
            (1, '\\x00ff0a27', E'new\\nline,\\ttab\\r comma \\\\ back ''q'' \\\\N', 9223372036854775807, 12345678901234567890.0123456789, \
             '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.5+02', '2024-02-29', '{\"a\": [1, 2]}', '{\"b\": null}', \
             '{1,NULL,3}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', true, 0.1), \
            (2, '', '', -9223372036854775808, 'NaN', 'infinity', '-infinity', '0001-01-01 BC', 'null', '[]', '{}', NULL, false, 'Infinity'), \
            (NULL, NULL, 'ünïcødé ☃ 😀', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1e300)"
            .to_owned(),
        SourceKind::MySql => "INSERT INTO child (parent_id, b, t, big, num, ts, d, j, flag, f) VALUES \
            (1, 0x00FF0A275C1A, 'new\\nline, comma \\\\ back ''q'' \\0', 9223372036854775807, 12345678901234567890.0123456789, \
             '2024-01-02 03:04:05.123456', '2024-02-29', '{\"a\": [1, 2]}', true, 0.1), \
            (2, '', '', -9223372036854775808, -0.5, NULL, NULL, 'null', false, -1e-300), \
            (NULL, NULL, 'ünïcødé ☃ 😀', NULL, NULL, NULL, NULL, NULL, NULL, 1e300)"
            .to_owned(),
    });
    if kind == SourceKind::Postgres {
        out.push("INSERT INTO nocols DEFAULT VALUES".to_owned());
        out.push("INSERT INTO nocols DEFAULT VALUES".to_owned());
        out.push("INSERT INTO genkey VALUES (1), (2), (-3)".to_owned());
    }
    out.push(
        "INSERT INTO nokey VALUES ('x', 1), ('x', 1), (NULL, NULL), ('', 0), ('\\.', 2)".to_owned(),
    );
    // More than one keyset page, a composite key, and more than the response buffer.
    out.push(match kind {
        SourceKind::Postgres => "INSERT INTO pairs SELECT n / 2, 'k' || (n % 2), repeat('x', 2000) || n \
             FROM generate_series(1, 3000) n"
            .to_owned(),
        SourceKind::MySql => "INSERT INTO pairs WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < 59), \
             m(n) AS (SELECT a.n * 60 + b.n + 1 FROM s a, s b) \
             SELECT n DIV 2, CONCAT('k', n % 2), CONCAT(REPEAT('x', 2000), n) FROM m WHERE n <= 3000"
            .to_owned(),
    });
    out.push(match kind {
        SourceKind::Postgres => {
            "INSERT INTO nokey SELECT 'r' || n, n FROM generate_series(1, 1200) n".to_owned()
        }
        SourceKind::MySql => "INSERT INTO nokey WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < 59), \
             m(n) AS (SELECT a.n * 60 + b.n + 1 FROM s a, s b) \
             SELECT CONCAT('r', n), n FROM m WHERE n <= 1200"
            .to_owned(),
    });
    out
}

const TABLES: &[&str] = &["parent", "child", "nokey", "pairs"];
/// PostgreSQL only.
const PG_TABLES: &[&str] = &["empty", "nocols", "genkey"];

/// A content checksum of every table, the DDL the server reports, and the next generated id.
async fn fingerprint(gw: &TestGateway, source: &str, kind: SourceKind) -> Vec<Value> {
    let mut out = Vec::new();
    let pg_only = if kind == SourceKind::Postgres {
        PG_TABLES
    } else {
        &[]
    };
    for table in TABLES.iter().chain(pg_only) {
        let sql = match kind {
            SourceKind::Postgres => format!(
                "SELECT count(*)::int8 AS n, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS sum FROM {table} t"
            ),
            SourceKind::MySql => format!("CHECKSUM TABLE {table}"),
        };
        let mut rows = query_on(gw, source, &sql, json!([])).await;
        if let Some(row) = rows.get_mut(0).and_then(Value::as_object_mut) {
            row.remove("Table");
        }
        out.push(json!({ *table: rows }));
        if kind == SourceKind::MySql {
            let create =
                query_on(gw, source, &format!("SHOW CREATE TABLE {table}"), json!([])).await;
            out.push(create[0]["Create Table"].clone());
        }
    }
    let catalog = match kind {
        SourceKind::Postgres => vec![
            "SELECT table_name, column_name, data_type, is_nullable, column_default, is_identity \
             FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2",
            "SELECT conrelid::regclass::text AS t, conname, pg_get_constraintdef(oid) AS def \
             FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2",
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
            "SELECT viewname, definition FROM pg_views WHERE schemaname = 'public' ORDER BY 1",
            "SELECT tgname, pg_get_triggerdef(oid) AS def FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1",
            "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1",
        ],
        SourceKind::MySql => vec![
            "SELECT TABLE_NAME, REPLACE(VIEW_DEFINITION, DATABASE(), '') AS def FROM information_schema.VIEWS \
             WHERE TABLE_SCHEMA = DATABASE()",
            "SELECT TRIGGER_NAME, ACTION_STATEMENT FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()",
        ],
    };
    for sql in catalog {
        out.push(query_on(gw, source, sql, json!([])).await);
    }
    out
}

/// `GET /export/dump` of `source`: the script, and how many body chunks carried it.
async fn export(gw: &TestGateway, source: &str) -> (String, usize) {
    use futures::StreamExt;
    let response = gw
        .client
        .get(gw.url("/export/dump"))
        .bearer_auth(ADMIN)
        .header("X-Starbase-Source", source)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/sql; charset=utf-8"
    );
    let mut stream = response.bytes_stream();
    let mut bytes = Vec::new();
    let mut chunks = 0;
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.unwrap());
        chunks += 1;
    }
    (String::from_utf8(bytes).unwrap(), chunks)
}

/// `POST /import/dump` of `script` into `source`.
async fn import(gw: &TestGateway, source: &str, script: &str, file: &str) -> (u16, Value) {
    let part =
        reqwest::multipart::Part::bytes(script.as_bytes().to_vec()).file_name(file.to_owned());
    let form = reqwest::multipart::Form::new().part("sqlFile", part);
    let response = gw
        .client
        .post(gw.url("/import/dump"))
        .bearer_auth(ADMIN)
        .header("X-Starbase-Source", source)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Loads `script` into database `name` with the server's own command-line client.
async fn load_with_client(kind: SourceKind, name: &str, script: &str) {
    use tokio::io::AsyncWriteExt;
    let mut command = match kind {
        SourceKind::Postgres => {
            let mut c = tokio::process::Command::new("psql");
            c.args([
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                name,
            ]);
            c
        }
        SourceKind::MySql => {
            let mut c = tokio::process::Command::new("mariadb");
            c.args([
                "-h",
                "127.0.0.1",
                "-u",
                "root",
                "--default-character-set=utf8mb4",
                name,
            ]);
            c
        }
    };
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the server's command-line client is installed");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(script.as_bytes()).await.unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `pg_dump` / `mysqldump` of database `name`.
async fn peer_dump(kind: SourceKind, name: &str) -> String {
    let mut command = match kind {
        SourceKind::Postgres => {
            let mut c = tokio::process::Command::new("pg_dump");
            c.args(["-h", "127.0.0.1", "-U", "postgres", name]);
            c
        }
        SourceKind::MySql => {
            let mut c = tokio::process::Command::new("mysqldump");
            c.args([
                "-h",
                "127.0.0.1",
                "-u",
                "root",
                "--default-character-set=utf8mb4",
            ]);
            // Binary columns as hex: the import reads UTF-8 text.
            c.args(["--hex-blob", "--routines", "--triggers", name]);
            c
        }
    };
    let output = command
        .output()
        .await
        .expect("the server's dump tool is installed");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

async fn dump_round_trips_through_import_and_the_real_client(kind: SourceKind) {
    let Some(original) = ExternalDb::start_database(kind).await else {
        return;
    };
    let restored = ExternalDb::start_database(kind).await.unwrap();
    let by_client = ExternalDb::start_database(kind).await.unwrap();
    let from_peer = ExternalDb::start_database(kind).await.unwrap();
    let sources = vec![
        original.source("original"),
        restored.source("restored"),
        by_client.source("client"),
        from_peer.source("peer"),
    ];
    let gw = TestGateway::start_with(|c| c.sources = sources).await;
    for sql in schema(kind).iter().chain(&data(kind)) {
        query_on(&gw, "original", sql, json!([])).await;
    }
    let want = fingerprint(&gw, "original", kind).await;
    let (script, chunks) = export(&gw, "original").await;
    // ~6 MB of rows: the body streamed in many chunks, not as one buffer.
    assert!(script.len() > 6_000_000, "{}", script.len());
    assert!(chunks > 10, "{chunks} chunks");
    match kind {
        SourceKind::Postgres => {
            assert!(script.contains("\nBEGIN;\n") && script.ends_with("COMMIT;\n"));
            // Rows as pg_dump writes them: one COPY block per table, in COPY text format.
            assert!(!script.contains("INSERT INTO"));
            let header = "\nCOPY \"public\".\"child\" (\"id\", \"parent_id\", \"b\", \"t\", ";
            assert_eq!(script.matches(header).count(), 1, "one block per table");
            assert_eq!(script.matches("\nCOPY \"public\".\"pairs\" (").count(), 1);
            assert!(
                script.contains("\t\\\\x00ff0a27\t"),
                "bytea as \\x… in COPY text"
            );
            assert!(script.contains("new\\nline,\\ttab\\r comma \\\\ back"));
            assert!(
                script.contains("\nCOPY \"public\".\"empty\" (\"id\", \"v\") FROM stdin;\n\\.\n")
            );
            assert!(script.contains("\nCOPY \"public\".\"nocols\" FROM stdin;\n\n\n\\.\n"));
            assert!(script.contains("\nCOPY \"public\".\"genkey\" (\"a\") FROM stdin;\n"));
            // Triggers and foreign keys after the data.
            let data_at = script.find(header).unwrap();
            assert!(script.find("CREATE TRIGGER").unwrap() > data_at);
            assert!(script.find("FOREIGN KEY").unwrap() > data_at);
        }
        SourceKind::MySql => {
            assert!(script.contains("FOREIGN_KEY_CHECKS=0"));
            assert!(script.contains("0x00FF0A275C1A"), "BLOBs as hex");
            assert!(script.contains("DELIMITER ;;"));
        }
    }
    let (status, body) = import(&gw, "restored", &script, "dump.sql").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(fingerprint(&gw, "restored", kind).await, want);
    load_with_client(kind, &by_client.namespace, &script).await;
    assert_eq!(fingerprint(&gw, "client", kind).await, want);
    // The server's own dump tool's output (pg_dump with COPY data, mysqldump) imports too.
    let peer = peer_dump(kind, &original.namespace).await;
    let (status, body) = import(&gw, "peer", &peer, "peer.sql").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(fingerprint(&gw, "peer", kind).await, want);
    // The restored sequences continue where the original's stood.
    let next = |source: &'static str| {
        let gw = &gw;
        async move {
            query_on(
                gw,
                source,
                "INSERT INTO parent (name) VALUES ('next')",
                json!([]),
            )
            .await;
            query_on(gw, source, "SELECT max(id) AS id FROM parent", json!([])).await
        }
    };
    assert_eq!(next("restored").await, next("original").await);
    gw.stop().await;
    for db in [original, restored, by_client, from_peer] {
        db.finish().await;
    }
}

async fn bad_scripts_name_the_statement_and_commit_what_the_server_allows(kind: SourceKind) {
    let Some(db) = ExternalDb::start_database(kind).await else {
        return;
    };
    let gw = TestGateway::start_with(|c| c.sources = vec![db.source("external")]).await;
    let script = "CREATE TABLE kept (a int);\nINSERT INTO kept VALUES (1);\n\
                  -- a comment; with a semicolon\nINSERT INTO missing VALUES (2);\nINSERT INTO kept VALUES (3);\n";
    let (status, body) = import(&gw, "external", script, "bad.sql").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("42P01")),
        "{body}"
    );
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("statement 3 failed"), "{detail}");
    assert!(detail.contains("INSERT INTO missing"), "{detail}");
    let tables = match kind {
        SourceKind::Postgres => {
            "SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'kept' \
             AND table_schema = current_schema()"
        }
        SourceKind::MySql => {
            "SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'kept' \
             AND table_schema = DATABASE()"
        }
    };
    let (_, kept) = post_on(&gw, "external", "/query", json!({"sql": tables})).await;
    match kind {
        SourceKind::Postgres => {
            assert!(detail.contains("nothing was committed"), "{detail}");
            assert_eq!(kept["result"][0]["n"], 0, "{kept}");
        }
        SourceKind::MySql => {
            // The DDL committed implicitly; the row after it was rolled back.
            assert!(
                detail.contains("statements 1 to 1 stay committed"),
                "{detail}"
            );
            assert_eq!(kept["result"][0]["n"], 1, "{kept}");
            let rows = query_on(&gw, "external", "SELECT count(*) AS n FROM kept", json!([])).await;
            assert_eq!(rows[0]["n"], 0);
        }
    }
    let (status, body) = import(&gw, "external", "SELECT 'unterminated;\n", "bad.sql").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("42601")),
        "{body}"
    );
    let (status, body) = import(&gw, "external", "SELECT 1;", "dump.txt").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("22023")),
        "{body}"
    );
    if kind == SourceKind::Postgres {
        let (status, body) = import(&gw, "external", "\\connect other\nSELECT 1;", "x.sql").await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("0A000")),
            "{body}"
        );
        // COPY data as pg_dump writes it, with a bad row: nothing stays.
        let copy = "CREATE TABLE c (a int, b text);\nCOPY c (a, b) FROM stdin;\n1\tx\\ty\nnot a number\tz\n\\.\n";
        let (status, body) = import(&gw, "external", copy, "x.sql").await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("22P02")),
            "{body}"
        );
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("statement 2 failed"),
            "{body}"
        );
        let good = "CREATE TABLE c (a int, b text);\nCOPY c (a, b) FROM stdin;\n1\tx\\ty\n2\t\\N\n\\.\nSELECT 1;\n";
        let (status, body) = import(&gw, "external", good, "x.sql").await;
        assert_eq!(status, 200, "{body}");
        let rows = query_on(&gw, "external", "SELECT a, b FROM c ORDER BY a", json!([])).await;
        assert_eq!(rows, json!([{"a": 1, "b": "x\ty"}, {"a": 2, "b": null}]));
    }
    gw.stop().await;
    db.finish().await;
}
