//! Asynchronous dumps (`POST /export/dump`): jobs run to completion in every format, the
//! download (whole and by range) restores identical tables with the real `sqlite3` shell,
//! progress only grows and ends at 100, writers keep committing during a dump without
//! changing it, too many dumps get 429, callbacks arrive signed.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{ADMIN, TestGateway};

pub const SCHEMA: &str = "
CREATE TABLE artist (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, born REAL, photo BLOB, big INTEGER);
CREATE TABLE tag (owner TEXT, label TEXT, weight REAL, PRIMARY KEY (owner, label)) WITHOUT ROWID;
CREATE TABLE \"odd \"\"name\"\"\" (\"col,1\" TEXT, \"x\" INTEGER);
CREATE INDEX artist_by_name ON artist(name);
CREATE VIEW artist_names AS SELECT name FROM artist;
CREATE TABLE audit (n INTEGER);
CREATE TRIGGER artist_audit AFTER INSERT ON artist BEGIN INSERT INTO audit VALUES (new.id); END;
";

/// `rows` artists with NULLs, BLOBs, unicode, quotes and 64-bit extremes, and some tags.
pub fn data(rows: u64) -> String {
    format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})
         INSERT INTO artist (name, born, photo, big)
         SELECT CASE i % 4 WHEN 0 THEN 'ünïcødé ☃ ' || i WHEN 1 THEN 'Bob''s \"band\", ' || i
                WHEN 2 THEN 'new' || char(10) || 'line ' || i ELSE '' END,
                CASE WHEN i % 5 = 0 THEN NULL ELSE i / 7.0 END,
                CASE WHEN i % 3 = 0 THEN randomblob(i % 17) ELSE NULL END,
                CASE i % 3 WHEN 0 THEN 9223372036854775807 WHEN 1 THEN -9223372036854775808 ELSE i END
         FROM n;
         DELETE FROM artist WHERE id % 97 = 0;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
         INSERT INTO tag SELECT 'o' || (i % 7), 'l' || i, i * 0.5 FROM n;
         INSERT INTO \"odd \"\"name\"\"\" VALUES ('a', -9223372036854775808), (NULL, 0);"
    )
}

/// One text per table: every row in key order, each value `quote()`d.
pub const CHECKSUMS: &[(&str, &str)] = &[
    (
        "artist",
        "SELECT count(*) || ':' || coalesce(group_concat(r, char(10)), '') FROM (SELECT \
         quote(id)||','||quote(name)||','||quote(born)||','||quote(photo)||','||quote(big) AS r \
         FROM artist ORDER BY id)",
    ),
    (
        "tag",
        "SELECT count(*) || ':' || coalesce(group_concat(r, char(10)), '') FROM (SELECT \
         quote(owner)||','||quote(label)||','||quote(weight) AS r FROM tag ORDER BY owner, label)",
    ),
    (
        "odd",
        "SELECT count(*) || ':' || coalesce(group_concat(r, char(10)), '') FROM (SELECT \
         quote(\"col,1\")||','||quote(x) AS r FROM \"odd \"\"name\"\"\" ORDER BY rowid)",
    ),
    (
        "objects",
        "SELECT group_concat(type || ' ' || name, ',') FROM (SELECT type, name FROM sqlite_schema \
         WHERE name NOT LIKE 'sqlite_%' ORDER BY name)",
    ),
    (
        "sequence",
        "SELECT coalesce(group_concat(name || '=' || seq), '') FROM sqlite_sequence",
    ),
];

/// The checksums of a database file, computed by the `sqlite3` shell.
pub fn sqlite3_checksums(db: &Path) -> Vec<String> {
    CHECKSUMS
        .iter()
        .map(|(_, sql)| {
            let out = std::process::Command::new("sqlite3")
                .arg(db)
                .arg(sql)
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            let text = String::from_utf8(out.stdout).unwrap();
            text.strip_suffix('\n').unwrap_or(&text).to_owned()
        })
        .collect()
}

/// Loads `script` into a new database file with the `sqlite3` shell.
pub fn sqlite3_load(dir: &Path, script: &[u8]) -> std::path::PathBuf {
    let db = dir.join("restored.sqlite");
    let _ = std::fs::remove_file(&db);
    let sql = dir.join("dump.sql");
    std::fs::write(&sql, script).unwrap();
    let out = std::process::Command::new("sqlite3")
        .arg(&db)
        .arg(format!(".read {}", sql.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    db
}

pub async fn start_dump(client: &reqwest::Client, base: &str, body: Value) -> String {
    let response = client
        .post(format!("{base}/export/dump"))
        .bearer_auth(ADMIN)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "accepted");
    assert_eq!(body["message"], "Dump process started");
    body["progressKey"].as_str().unwrap().to_owned()
}

pub async fn status(client: &reqwest::Client, base: &str, key: &str) -> Value {
    let response = client
        .get(format!("{base}/export/dump/status/{key}"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.unwrap()
}

/// Polls the status until the job ends; returns the final status and every percentage seen.
pub async fn wait_done(client: &reqwest::Client, base: &str, key: &str) -> (Value, Vec<u64>) {
    let mut seen = Vec::new();
    loop {
        let s = status(client, base, key).await;
        seen.push(s["progress"]["percentComplete"].as_u64().unwrap());
        match s["status"].as_str().unwrap() {
            "completed" | "failed" => return (s, seen),
            "pending" | "processing" => {}
            other => panic!("unexpected status {other}: {s}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls the status until the job has a total; that status. The job must not end first.
pub async fn first_total(client: &reqwest::Client, base: &str, key: &str) -> Value {
    loop {
        let s = status(client, base, key).await;
        assert!(
            s["status"] == "pending" || s["status"] == "processing",
            "the dump ended before its total was seen: {s}"
        );
        if s["progress"]["totalRows"].as_u64().unwrap() > 0 {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub async fn download(
    client: &reqwest::Client,
    base: &str,
    file: &str,
    range: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut request = client
        .get(format!("{base}/export/dump/download/{file}"))
        .bearer_auth(ADMIN);
    if let Some(range) = range {
        request = request.header("Range", range);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap().to_vec())
}

fn slow(config: &mut starbase::config::Config, store: &Path) {
    config.dump.url = Some(store.to_str().unwrap().to_owned());
    config.dump.chunk_size = 100;
    config.dump.part_bytes = Some(8 * 1024);
    config.dump.max_execution_time = Duration::ZERO;
    config.dump.breathing_interval = Duration::from_millis(10);
}

#[tokio::test]
async fn sql_dump_completes_restores_identical_tables_and_serves_ranges() {
    let store = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let gw = TestGateway::start_with(|c| {
        c.data_dir = data_dir.path().to_path_buf();
        c.dump.url = Some(store.path().to_str().unwrap().to_owned());
        c.dump.chunk_size = 200;
        c.dump.part_bytes = Some(16 * 1024);
    })
    .await;
    gw.query(SCHEMA, json!([])).await;
    gw.query(&data(3000), json!([])).await;
    let database = data_dir.path().join("starbase.sqlite");
    let expected = sqlite3_checksums(&database);
    let base = gw.url("");
    let key = start_dump(&gw.client, &base, json!({"format": "sql"})).await;
    assert!(regex_like_key(&key), "key {key} is dump_YYYYMMDD-HHMMSS-…");
    let (done, seen) = wait_done(&gw.client, &base, &key).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "progress went back: {seen:?}"
    );
    assert_eq!(*seen.last().unwrap(), 100);
    assert_eq!(
        done["progress"]["processedRows"],
        done["progress"]["totalRows"]
    );
    let total = done["progress"]["totalRows"].as_u64().unwrap();
    // artist, audit (one row per insert), tag, odd.
    assert_eq!(total, 3000 - 3000 / 97 + 3000 + 300 + 2);

    let (code, headers, script) = download(&gw.client, &base, &format!("{key}.sql"), None).await;
    assert_eq!(code, 200);
    assert_eq!(headers["accept-ranges"], "bytes");
    assert_eq!(headers["content-length"], script.len().to_string().as_str());
    let dir = tempfile::tempdir().unwrap();
    let restored = sqlite3_load(dir.path(), &script);
    assert!(
        sqlite3_checksums(&restored) == expected,
        "restored tables differ"
    );

    // Ranges: a middle slice, an open end, a suffix, and one past the end.
    let (code, headers, slice) = download(
        &gw.client,
        &base,
        &format!("{key}.sql"),
        Some("bytes=100-4099"),
    )
    .await;
    assert_eq!(code, 206);
    assert_eq!(slice, script[100..4100]);
    assert_eq!(
        headers["content-range"],
        format!("bytes 100-4099/{}", script.len()).as_str()
    );
    let (code, _, tail) =
        download(&gw.client, &base, &format!("{key}.sql"), Some("bytes=-10")).await;
    assert_eq!((code, tail.as_slice()), (206, &script[script.len() - 10..]));
    let from = script.len() - 5000;
    let (_, _, rest) = download(
        &gw.client,
        &base,
        &format!("{key}.sql"),
        Some(&format!("bytes={from}-")),
    )
    .await;
    assert_eq!(rest, script[from..]);
    let (code, _, _) = download(
        &gw.client,
        &base,
        &format!("{key}.sql"),
        Some(&format!("bytes={}-", script.len())),
    )
    .await;
    assert_eq!(code, 416);

    // The manifest lists every part with its size and checksum, and the parts are the files.
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(store.path().join(&key).join("manifest.json")).unwrap(),
    )
    .unwrap();
    let parts = manifest["parts"].as_array().unwrap();
    assert!(parts.len() > 5, "{manifest}");
    let mut joined = Vec::new();
    for part in parts {
        let bytes = std::fs::read(store.path().join(part["path"].as_str().unwrap())).unwrap();
        assert_eq!(bytes.len() as u64, part["bytes"].as_u64().unwrap());
        assert_eq!(sha256_hex(&bytes), part["sha256"].as_str().unwrap());
        joined.extend_from_slice(&bytes);
    }
    assert_eq!(joined, script);
    assert_eq!(manifest["totalRows"], total);
    let artist = manifest["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "artist")
        .unwrap();
    assert_eq!(artist["rows"], 3000 - 3000 / 97);
    // Each data part loads on its own into a database holding the schema.
    let first_data = parts.iter().find(|p| p["kind"] == "table").unwrap();
    assert!(
        first_data["path"]
            .as_str()
            .unwrap()
            .ends_with("/part-00001.sql")
    );

    // Wrong extension, unknown key.
    let (code, _, _) = download(&gw.client, &base, &format!("{key}.csv"), None).await;
    assert_eq!(code, 404);
    let (code, _, _) = download(&gw.client, &base, "dump_nope.sql", None).await;
    assert_eq!(code, 404);
    let response = gw
        .client
        .get(gw.url("/export/dump/status/dump_20000101-000000-000000000000"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
}

fn regex_like_key(key: &str) -> bool {
    let b = key.as_bytes();
    key.len() == "dump_20260101-120000-0123456789ab".len()
        && key.starts_with("dump_")
        && b[5..13].iter().all(u8::is_ascii_digit)
        && b[13] == b'-'
        && b[14..20].iter().all(u8::is_ascii_digit)
        && b[20] == b'-'
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn csv_and_json_dumps_equal_the_table_exports() {
    let store = tempfile::tempdir().unwrap();
    let gw = TestGateway::start_with(|c| {
        c.dump.url = Some(store.path().to_str().unwrap().to_owned());
        c.dump.chunk_size = 64;
        c.dump.part_bytes = Some(4 * 1024);
    })
    .await;
    gw.query(SCHEMA, json!([])).await;
    gw.query(&data(1500), json!([])).await;
    let base = gw.url("");
    for table in ["artist", "tag"] {
        let sync_csv = gw
            .client
            .get(gw.url(&format!("/export/csv/{table}")))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let key = start_dump(
            &gw.client,
            &base,
            json!({"format": "csv", "tables": [table]}),
        )
        .await;
        let (done, _) = wait_done(&gw.client, &base, &key).await;
        assert_eq!(done["status"], "completed", "{done}");
        let (code, _, csv) = download(&gw.client, &base, &format!("{key}.csv"), None).await;
        assert_eq!(code, 200);
        assert_eq!(
            String::from_utf8_lossy(&csv),
            String::from_utf8_lossy(&sync_csv)
        );
    }
    // A CSV dump of several tables is downloaded one table at a time.
    let key = start_dump(&gw.client, &base, json!({"format": "csv"})).await;
    wait_done(&gw.client, &base, &key).await;
    let (code, _, body) = download(&gw.client, &base, &format!("{key}.csv"), None).await;
    assert_eq!(code, 400, "{}", String::from_utf8_lossy(&body));
    let (code, _, tag) = download(&gw.client, &base, &format!("{key}.csv?table=tag"), None).await;
    assert_eq!(code, 200);
    assert!(tag.starts_with(b"owner,label,weight\r\n"));

    let key = start_dump(&gw.client, &base, json!({"format": "json"})).await;
    let (done, _) = wait_done(&gw.client, &base, &key).await;
    assert_eq!(done["status"], "completed", "{done}");
    let (_, _, body) = download(&gw.client, &base, &format!("{key}.json"), None).await;
    let dumped: Value = serde_json::from_slice(&body).unwrap();
    for table in ["artist", "tag", "audit", "odd \"name\""] {
        let path = format!(
            "/export/json/{}",
            table.replace(' ', "%20").replace('"', "%22")
        );
        let sync: Value = gw
            .client
            .get(gw.url(&path))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut got = dumped[table].as_array().unwrap().clone();
        let mut want = sync.as_array().unwrap().clone();
        let order = |v: &Value| v.to_string();
        got.sort_by_key(order);
        want.sort_by_key(order);
        assert_eq!(got, want, "{table}");
    }
}

#[tokio::test]
async fn writers_commit_during_a_dump_and_the_dump_is_its_snapshot() {
    let store = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let gw = TestGateway::start_with(|c| {
        c.data_dir = data_dir.path().to_path_buf();
        slow(c, store.path());
    })
    .await;
    gw.query(SCHEMA, json!([])).await;
    gw.query(&data(4000), json!([])).await;
    let database = data_dir.path().join("starbase.sqlite");
    let before = sqlite3_checksums(&database);
    let base = gw.url("");
    let key = start_dump(&gw.client, &base, json!({"format": "sql"})).await;
    loop {
        let s = status(&gw.client, &base, &key).await;
        if s["progress"]["processedRows"].as_u64().unwrap() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Writes commit at once while the dump runs (and point reads answer).
    for i in 0..20 {
        gw.query(
            "INSERT INTO artist (name) VALUES ($1)",
            json!([format!("late {i}")]),
        )
        .await;
        gw.query("UPDATE artist SET name = 'changed' WHERE id = 1", json!([]))
            .await;
        gw.query("SELECT * FROM artist WHERE id = 2", json!([]))
            .await;
    }
    let running = status(&gw.client, &base, &key).await;
    assert_eq!(
        running["status"], "processing",
        "the dump was still running: {running}"
    );
    let (done, _) = wait_done(&gw.client, &base, &key).await;
    assert_eq!(done["status"], "completed", "{done}");
    let (_, _, script) = download(&gw.client, &base, &format!("{key}.sql"), None).await;
    let dir = tempfile::tempdir().unwrap();
    let restored = sqlite3_load(dir.path(), &script);
    let restored = sqlite3_checksums(&restored);
    assert!(
        restored == before,
        "the dump is not the snapshot taken at its start"
    );
    assert!(
        sqlite3_checksums(&database) != before,
        "the writes committed"
    );
}

#[tokio::test]
async fn too_many_dumps_get_429_with_retry_after() {
    let store = tempfile::tempdir().unwrap();
    let gw = TestGateway::start_with(|c| {
        slow(c, store.path());
        c.dump.max_concurrent = 1;
    })
    .await;
    gw.query(SCHEMA, json!([])).await;
    gw.query(&data(3000), json!([])).await;
    let base = gw.url("");
    let first = start_dump(&gw.client, &base, json!({"format": "json"})).await;
    let response = gw
        .client
        .post(gw.url("/export/dump"))
        .bearer_auth(ADMIN)
        .json(&json!({"format": "csv", "tables": ["tag"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert!(
        response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "53300", "{body}");
    let (done, _) = wait_done(&gw.client, &base, &first).await;
    assert_eq!(done["status"], "completed");
    // Once it is done, the next one is accepted; two started in the same second differ.
    let a = start_dump(
        &gw.client,
        &base,
        json!({"format": "csv", "tables": ["tag"]}),
    )
    .await;
    wait_done(&gw.client, &base, &a).await;
    let b = start_dump(
        &gw.client,
        &base,
        json!({"format": "csv", "tables": ["tag"]}),
    )
    .await;
    assert_ne!(a, b);
    wait_done(&gw.client, &base, &b).await;
}

#[tokio::test]
async fn bad_requests_are_refused_precisely() {
    let gw = TestGateway::start().await;
    gw.query(SCHEMA, json!([])).await;
    let cases = [
        (json!({"format": "xml"}), 400, "22023"),
        (
            json!({"format": "sql", "callbackUrl": "not a url"}),
            400,
            "22023",
        ),
        (
            json!({"format": "sql", "callbackUrl": "http://127.0.0.1:9/x"}),
            400,
            "22023",
        ),
        (json!({"format": "sql", "chunkSize": 0}), 400, "22023"),
        (json!({"format": "sql", "tables": []}), 400, "22023"),
    ];
    for (body, status, code) in cases {
        let (got, answer) = gw.post("/export/dump", body.clone()).await;
        assert_eq!(
            (got, answer["code"].as_str().unwrap()),
            (status, code),
            "{body}: {answer}"
        );
    }
    // An unknown table fails the job with the reason.
    let key = start_dump(
        &gw.client,
        &gw.url(""),
        json!({"format": "csv", "tables": ["nope"]}),
    )
    .await;
    let (done, _) = wait_done(&gw.client, &gw.url(""), &key).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(done["code"], "42P01", "{done}");
    assert!(done["error"].as_str().unwrap().contains("nope"), "{done}");
    let (code, _, _) = download(&gw.client, &gw.url(""), &format!("{key}.csv"), None).await;
    assert_eq!(code, 409);
}

/// Runs `starbase dump …` against `gw`.
async fn cli(gw: &TestGateway, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_starbase"))
        .arg("dump")
        .args(["--server", &gw.url(""), "--token", ADMIN])
        .args(args)
        .env_remove("STARBASE_ADMIN_TOKEN")
        .output()
        .await
        .unwrap()
}

#[tokio::test]
async fn cli_dump_downloads_a_loadable_file_and_fails_loudly() {
    let data_dir = tempfile::tempdir().unwrap();
    let gw = TestGateway::start_with(|c| c.data_dir = data_dir.path().to_path_buf()).await;
    gw.query(SCHEMA, json!([])).await;
    gw.query(&data(500), json!([])).await;
    let expected = sqlite3_checksums(&data_dir.path().join("starbase.sqlite"));
    let out_dir = tempfile::tempdir().unwrap();
    let file = out_dir.path().join("backup.sql");
    let out = cli(&gw, &["--format", "sql", "--to", file.to_str().unwrap()]).await;
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let key = stdout.lines().next().unwrap().to_owned();
    assert!(regex_like_key(&key), "{stdout}");
    let restored = sqlite3_load(out_dir.path(), &std::fs::read(&file).unwrap());
    assert!(
        sqlite3_checksums(&restored) == expected,
        "restored tables differ"
    );

    let out = cli(&gw, &["status", &key]).await;
    assert!(out.status.success(), "{out:?}");
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["status"], "completed");

    // A failing dump exits non-zero with the reason.
    let out = cli(&gw, &["--format", "csv", "--table", "nope"]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nope"),
        "{out:?}"
    );
    let out = cli(&gw, &["status", "dump_nope"]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}
