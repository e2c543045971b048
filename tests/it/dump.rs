//! `GET /export/dump`: a SQL script that `sqlite3` loads and that restores identical tables.

use serde_json::{Value, json};

use crate::common::{ADMIN, TestGateway};

const SCHEMA: &str = "
CREATE TABLE artist (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, born REAL, photo BLOB);
CREATE TABLE album (id INTEGER PRIMARY KEY, artist_id INTEGER REFERENCES artist(id), title TEXT,
  title_len INTEGER GENERATED ALWAYS AS (length(title)) VIRTUAL);
CREATE TABLE \"odd \"\"name\"\"\" (\"col,1\" TEXT, \"x\" INTEGER);
CREATE INDEX album_by_artist ON album(artist_id);
CREATE VIEW artist_albums AS SELECT a.name, b.title FROM artist a JOIN album b ON b.artist_id = a.id;
CREATE TABLE audit (n INTEGER);
CREATE TRIGGER album_audit AFTER INSERT ON album BEGIN INSERT INTO audit VALUES (new.id); END;
";

const DATA: &str = "
INSERT INTO artist (name, born, photo) VALUES ('Alice', 1970.5, x'00ff10'), ('Bob''s \"band\"', NULL, NULL),
  ('new\nline, comma', -0.1, x''), ('ünïcødé ☃', 1e300, NULL);
DELETE FROM artist WHERE id = 4;
INSERT INTO album (id, artist_id, title) VALUES (1, 1, 'First'), (2, 1, ''), (9223372036854775807, 2, NULL);
INSERT INTO \"odd \"\"name\"\"\" VALUES ('a', -9223372036854775808), (NULL, 0);
";

async fn dump(gw: &TestGateway) -> String {
    let response = gw
        .client
        .get(gw.url("/export/dump"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"database_dump.sql\""
    );
    response.text().await.unwrap()
}

async fn table(gw: &TestGateway, name: &str) -> Value {
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    gw.query(&format!("SELECT * FROM {quoted} ORDER BY rowid"), json!([]))
        .await
}

#[tokio::test]
async fn dump_restores_identical_tables_and_sqlite3_loads_it() {
    let original = TestGateway::start().await;
    original.query(SCHEMA, json!([])).await;
    original.query(DATA, json!([])).await;
    let script = dump(&original).await;
    assert!(
        script.starts_with("PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n"),
        "{script}"
    );
    assert!(script.ends_with("COMMIT;\n"), "{script}");
    assert!(script.contains("CREATE INDEX album_by_artist"), "{script}");
    assert!(script.contains("CREATE VIEW artist_albums"), "{script}");
    assert!(script.contains("CREATE TRIGGER album_audit"), "{script}");
    assert!(
        !script.contains("title_len\")"),
        "generated columns are not inserted: {script}"
    );

    // Restore into a fresh gateway: same rows, same AUTOINCREMENT counter, trigger not re-fired.
    let restored = TestGateway::start().await;
    let (status, body) = restored.post("/query", json!({"sql": script})).await;
    assert_eq!(status, 200, "{body}");
    for name in ["artist", "album", "odd \"name\"", "audit"] {
        assert_eq!(
            table(&restored, name).await,
            table(&original, name).await,
            "{name}"
        );
    }
    let next_id = "INSERT INTO artist (name) VALUES ('next') RETURNING id";
    assert_eq!(restored.query(next_id, json!([])).await, json!([{"id": 5}]));
    assert_eq!(original.query(next_id, json!([])).await, json!([{"id": 5}]));
    assert_eq!(dump(&restored).await, dump(&original).await);

    // The real sqlite3 shell loads it too.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dump.sql");
    std::fs::write(&file, &script).unwrap();
    let output = std::process::Command::new("sqlite3")
        .args(["-bail", dir.path().join("copy.db").to_str().unwrap()])
        .arg(format!(".read {}", file.display()))
        .output()
        .expect("sqlite3 must be installed (apt-get install sqlite3)");
    assert!(output.status.success(), "{output:?}");
    let count = std::process::Command::new("sqlite3")
        .arg(dir.path().join("copy.db"))
        .arg("SELECT count(*) FROM album; SELECT seq FROM sqlite_sequence WHERE name = 'artist';")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(count.stdout).unwrap(), "3\n4\n");
    original.stop().await;
    restored.stop().await;
}

#[tokio::test]
async fn empty_database_dumps_to_an_empty_transaction() {
    let gw = TestGateway::start().await;
    assert_eq!(
        dump(&gw).await,
        "PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCOMMIT;\n"
    );
    gw.stop().await;
}

async fn import_dump(
    gw: &TestGateway,
    file_name: &str,
    script: Vec<u8>,
    chunk: usize,
) -> (u16, Value) {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        script.chunks(chunk).map(|c| Ok(c.to_vec())).collect();
    let part =
        reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
            .file_name(file_name.to_owned());
    let form = reqwest::multipart::Form::new().part("sqlFile", part);
    let response = gw
        .client
        .post(gw.url("/import/dump"))
        .bearer_auth(ADMIN)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn import_dump_restores_an_export_streamed_in_small_chunks() {
    let original = TestGateway::start().await;
    original.query(SCHEMA, json!([])).await;
    original.query(DATA, json!([])).await;
    original
        .query(
            "CREATE TABLE notes (t TEXT); INSERT INTO notes VALUES ('semi; colon -- not a comment /* nor this */'), ('☃☃☃');",
            json!([]),
        )
        .await;
    let script = dump(&original).await;
    let restored = TestGateway::start().await;
    // 7-byte chunks split statements, strings and multi-byte characters.
    let (status, body) = import_dump(&restored, "backup.sql", script.clone().into_bytes(), 7).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["result"]["message"]
            .as_str()
            .unwrap()
            .starts_with("SQL dump import completed.")
    );
    for name in ["artist", "album", "odd \"name\"", "audit", "notes"] {
        assert_eq!(
            table(&restored, name).await,
            table(&original, name).await,
            "{name}"
        );
    }
    assert_eq!(dump(&restored).await, script);
    original.stop().await;
    restored.stop().await;
}

#[tokio::test]
async fn failed_dump_import_names_the_statement_and_commits_nothing() {
    let gw = TestGateway::start().await;
    // StarbaseDB's dumps start with a binary header line; it is skipped.
    let script = "SQLite format 3\0\nCREATE TABLE a (id INTEGER PRIMARY KEY);\nINSERT INTO a VALUES (1);\nINSERT INTO a VALUES (1);\nINSERT INTO a VALUES (2);\n";
    let (status, body) = import_dump(&gw, "d.sql", script.as_bytes().to_vec(), 5).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("23505")),
        "{body}"
    );
    assert!(
        body["detail"].as_str().unwrap().contains("statement 3"),
        "{body}"
    );
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("INSERT INTO a VALUES (1);"),
        "{body}"
    );
    let (status, body) = gw.post("/query", json!({"sql": "SELECT * FROM a"})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("42P01")),
        "the CREATE was rolled back too"
    );

    let (status, body) = import_dump(&gw, "d.txt", b"SELECT 1;".to_vec(), 100).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("22023")),
        "{body}"
    );
    let (status, body) = import_dump(
        &gw,
        "d.sql",
        b"CREATE TABLE ok (x);\nSELEC nonsense;".to_vec(),
        100,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("42601")),
        "{body}"
    );
    let response = gw
        .client
        .post(gw.url("/import/dump"))
        .bearer_auth(ADMIN)
        .header("content-type", "application/sql")
        .body("SELECT 1;")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);
    assert_eq!(
        gw.query("SELECT count(*) AS n FROM sqlite_schema", json!([]))
            .await,
        json!([{"n": 0}])
    );
    gw.stop().await;
}
