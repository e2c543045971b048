//! Asynchronous dumps of external sources (PostgreSQL in `REPEATABLE READ READ ONLY`,
//! MariaDB in `START TRANSACTION WITH CONSISTENT SNAPSHOT`): CSV and JSON dumps, paged by
//! primary key (and read in one pass for a table without one), equal the table exports;
//! SQL dumps in the source's dialect equal its streamed `GET /export/dump`, and a table
//! without a key is streamed into several parts rather than held as one.

use serde_json::{Value, json};
use starbase::config::SourceKind;

use crate::common::external::{ExternalDb, query_on};
use crate::common::{ADMIN, TestGateway};
use crate::dump_jobs::{download, wait_done};

crate::common::external::on_both!(csv_and_json_dumps_equal_the_table_exports,);

async fn get_on(gw: &TestGateway, path: &str) -> Vec<u8> {
    let response = gw
        .client
        .get(gw.url(path))
        .bearer_auth(ADMIN)
        .header("X-Starbase-Source", "external")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200, "{path}");
    response.bytes().await.unwrap().to_vec()
}

async fn start_on(gw: &TestGateway, body: Value) -> (u16, Value) {
    let response = gw
        .client
        .post(gw.url("/export/dump"))
        .bearer_auth(ADMIN)
        .header("X-Starbase-Source", "external")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn csv_and_json_dumps_equal_the_table_exports(kind: SourceKind) {
    let Some(db) = ExternalDb::start(kind).await else {
        return;
    };
    let sources = vec![db.source("external")];
    let store = tempfile::tempdir().unwrap();
    let store_url = store.path().to_str().unwrap().to_owned();
    let gw = TestGateway::start_with(|c| {
        c.sources = sources;
        c.dump.url = Some(store_url);
        c.dump.chunk_size = 7;
        c.dump.part_bytes = Some(2048);
    })
    .await;
    let text = match kind {
        SourceKind::Postgres => "TEXT",
        SourceKind::MySql => "VARCHAR(100)",
    };
    // Byte order: a key decoded wrongly compares differently with the rows after it.
    let key_text = match kind {
        SourceKind::Postgres => "TEXT COLLATE \"C\"",
        SourceKind::MySql => "VARCHAR(100)",
    };
    for sql in [
        format!("CREATE TABLE items (id BIGINT PRIMARY KEY, name {text}, price NUMERIC(10,2))"),
        format!("CREATE TABLE pairs (a INTEGER, b {text}, v INTEGER, PRIMARY KEY (a, b))"),
        format!("CREATE TABLE loose (note {text}, n INTEGER)"),
        format!("CREATE TABLE words (w {key_text} PRIMARY KEY, n INTEGER)"),
    ] {
        query_on(&gw, "external", &sql, json!([])).await;
    }
    let (mut items, mut pairs, mut loose, mut words) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // Keys a page ends on, then given back to the server as literals: every escape of the
    // COPY text format, quotes and what looks like NULL or the end of the data, each
    // leading a group of keys (so a key read back wrongly skips or repeats rows).
    let awkward = [
        "tab\there",
        "nl\nx",
        "back\\slash",
        "it's \"dq\"",
        "\\N",
        "cr\rx",
        "ünï ☃",
        "\\.",
    ];
    for i in 0..1200i64 {
        let name = match i % 4 {
            0 => Value::Null,
            1 => json!(format!("ünïcødé ☃ {i}")),
            2 => json!(format!("quote \" comma, {i}\nline")),
            _ => json!(""),
        };
        let id = if i == 1199 { i64::MAX } else { i * 1000 - 7 };
        items.extend([json!(id), name, json!(format!("{i}.25"))]);
        pairs.extend([json!(i % 5), json!(format!("k{i}")), json!(i)]);
        loose.extend([json!(format!("n{i}")), json!(i)]);
        words.extend([
            json!(format!(
                "{} {i:04}",
                awkward[usize::try_from(i % 8).unwrap()]
            )),
            json!(i),
        ]);
    }
    let values = |n: usize, width: usize| {
        (0..n)
            .map(|r| {
                let cols: Vec<String> =
                    (1..=width).map(|c| format!("${}", r * width + c)).collect();
                format!("({})", cols.join(", "))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (table, columns, width, params) in [
        ("items", "id, name, price", 3, items),
        ("pairs", "a, b, v", 3, pairs),
        ("loose", "note, n", 2, loose),
        ("words", "w, n", 2, words),
    ] {
        let sql = format!(
            "INSERT INTO {table} ({columns}) VALUES {}",
            values(1200, width)
        );
        query_on(&gw, "external", &sql, Value::Array(params)).await;
    }
    let base = gw.url("");
    for table in ["items", "pairs", "loose", "words"] {
        let (status, body) = start_on(&gw, json!({"format": "csv", "tables": [table]})).await;
        assert_eq!(status, 202, "{body}");
        let key = body["progressKey"].as_str().unwrap().to_owned();
        let (done, _) = wait_done(&gw.client, &base, &key).await;
        assert_eq!(done["status"], "completed", "{done}");
        assert_eq!(done["source"], "external");
        assert_eq!(done["progress"]["totalRows"], 1200);
        let (_, _, csv) = download(&gw.client, &base, &format!("{key}.csv"), None).await;
        let sync = get_on(&gw, &format!("/export/csv/{table}")).await;
        let lines = |b: &[u8]| {
            let text = String::from_utf8(b.to_vec()).unwrap();
            let mut header_and_rows: Vec<String> = text.split("\r\n").map(str::to_owned).collect();
            header_and_rows[1..].sort();
            header_and_rows
        };
        assert_eq!(lines(&csv), lines(&sync), "{table}");
    }
    let (status, body) = start_on(&gw, json!({"format": "json"})).await;
    assert_eq!(status, 202, "{body}");
    let key = body["progressKey"].as_str().unwrap().to_owned();
    let (done, _) = wait_done(&gw.client, &base, &key).await;
    assert_eq!(done["status"], "completed", "{done}");
    let (_, _, body) = download(&gw.client, &base, &format!("{key}.json"), None).await;
    let dumped: Value = serde_json::from_slice(&body).unwrap();
    for table in ["items", "pairs", "loose", "words"] {
        let sync: Value =
            serde_json::from_slice(&get_on(&gw, &format!("/export/json/{table}")).await).unwrap();
        let sorted = |v: &Value| {
            let mut rows = v.as_array().unwrap().clone();
            rows.sort_by_key(Value::to_string);
            rows
        };
        assert_eq!(sorted(&dumped[table]), sorted(&sync), "{table}");
    }
    // SQL in the source's dialect: the parts joined are the streamed dump, byte for byte.
    let (status, body) = start_on(&gw, json!({"format": "sql"})).await;
    assert_eq!(status, 202, "{body}");
    let key = body["progressKey"].as_str().unwrap().to_owned();
    let (done, _) = wait_done(&gw.client, &base, &key).await;
    assert_eq!(done["status"], "completed", "{done}");
    let (_, _, script) = download(&gw.client, &base, &format!("{key}.sql"), None).await;
    let streamed = get_on(&gw, "/export/dump").await;
    assert!(
        script == streamed,
        "{}\n---\n{}",
        String::from_utf8_lossy(&script),
        String::from_utf8_lossy(&streamed)
    );
    // The keyless table went out in several parts (streamed, cut at statement boundaries
    // once a part holds 2 KiB), each the file the manifest describes; no temporary is left.
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(store.path().join(&key).join("manifest.json")).unwrap(),
    )
    .unwrap();
    let loose: Vec<&Value> = manifest["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["table"] == "loose")
        .collect();
    assert!(loose.len() >= 3, "{manifest}");
    assert_eq!(
        loose
            .iter()
            .map(|p| p["rows"].as_u64().unwrap())
            .sum::<u64>(),
        1200
    );
    for part in &loose {
        let bytes = std::fs::read(store.path().join(part["path"].as_str().unwrap())).unwrap();
        assert_eq!(bytes.len() as u64, part["bytes"].as_u64().unwrap());
        assert!(part["rows"].as_u64().unwrap() > 0, "{part}");
    }
    let dir = store.path().join(&key).join("loose");
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains('#')), "{names:?}");
    if kind == SourceKind::Postgres {
        // A keyed table is one COPY block over many parts: its header opens the first part,
        // its `\.` closes the last, and the parts between are bare data lines.
        let words: Vec<String> = manifest["parts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["table"] == "words")
            .map(|p| {
                let path = store.path().join(p["path"].as_str().unwrap());
                String::from_utf8(std::fs::read(path).unwrap()).unwrap()
            })
            .collect();
        assert!(words.len() >= 3, "{manifest}");
        let (first, last) = (&words[0], &words[words.len() - 1]);
        let header = format!(
            "COPY \"{}\".\"words\" (\"w\", \"n\") FROM stdin;\n",
            db.namespace
        );
        assert!(first.starts_with(&header), "{first}");
        assert!(first.contains("\\\\. 0007\t7\n\\\\. 0015\t15\n"), "{first}");
        assert!(last.ends_with("ünï ☃ 1198\t1198\n\\.\n"), "{last}");
        for part in &words[1..] {
            assert!(!part.contains("COPY "), "{part}");
        }
        assert_eq!(words.concat().matches('\n').count(), 1202);
    }
    drop(gw);
    db.finish().await;
}

/// Runs `sql` in `session`.
async fn in_session(session: &mut starbase_backends::AnySession, sql: &str) {
    let plan = starbase_protocol::Plan {
        mode: starbase_protocol::ExecMode::Single,
        steps: vec![starbase_protocol::Statement::new(
            sql,
            starbase_protocol::Dialect::MySql,
            starbase_protocol::Params::None,
        )],
    };
    let mut stream = session
        .execute(plan, starbase_backends::ExecOptions::default())
        .await
        .unwrap();
    loop {
        match stream.recv().await.unwrap() {
            Ok(starbase_backends::Event::Finished) => return,
            Ok(_) => {}
            Err(e) => panic!("{sql}: {e}"),
        }
    }
}

#[tokio::test]
async fn a_large_mysql_table_s_total_is_innodb_s_estimate_until_the_dump_completes() {
    let Some(db) = ExternalDb::start(SourceKind::MySql).await else {
        return;
    };
    let sources = vec![db.source("external")];
    let store = tempfile::tempdir().unwrap();
    let store_url = store.path().to_str().unwrap().to_owned();
    // Slices of 1 ms of work, each followed by a 20 ms pause: the dump takes seconds.
    let gw = TestGateway::start_with(|c| {
        c.sources = sources;
        c.dump.url = Some(store_url);
        c.dump.max_execution_time = std::time::Duration::from_millis(1);
        c.dump.breathing_interval = std::time::Duration::from_millis(20);
    })
    .await;
    for sql in [
        "CREATE TABLE big (id INT PRIMARY KEY, v VARCHAR(20))",
        // MariaDB's sequence engine.
        "INSERT INTO big SELECT seq, CONCAT('v', seq) FROM seq_1_to_150000",
        "ANALYZE TABLE big",
    ] {
        query_on(&gw, "external", sql, json!([])).await;
    }
    // InnoDB's estimate counts rows no snapshot sees yet: 100,000 more, never committed.
    let backend = db.backend("uncommitted");
    let mut open = backend.session(starbase_backends::SessionConfig::default());
    in_session(&mut open, "BEGIN").await;
    in_session(
        &mut open,
        "INSERT INTO big SELECT seq, 'x' FROM seq_150001_to_250000",
    )
    .await;

    let (code, body) = start_on(&gw, json!({"format": "csv"})).await;
    assert_eq!(code, 202, "{body}");
    let key = body["progressKey"].as_str().unwrap().to_owned();
    let base = gw.url("");
    let during = crate::dump_jobs::first_total(&gw.client, &base, &key).await;
    let estimate = during["progress"]["totalRows"].as_u64().unwrap();
    assert!(
        (200_000..=300_000).contains(&estimate),
        "the total while dumping is InnoDB's estimate, not a count: {during}"
    );
    let (done, seen) = wait_done(&gw.client, &base, &key).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(*seen.last().unwrap(), 100);
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "progress went back: {seen:?}"
    );
    assert_eq!(
        done["progress"]["totalRows"], 150_000,
        "a completed dump's total is the rows it dumped: {done}"
    );
    open.close().await;
    backend.shutdown().await;
    drop(gw);
    db.finish().await;
}
