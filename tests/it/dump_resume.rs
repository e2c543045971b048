//! Crash safety of asynchronous dumps: the real binary is killed with SIGKILL in the middle
//! of a dump, started again on the same data directory, and the job resumes from its last
//! checkpoint and finishes with exactly the dump an uninterrupted run writes (the internal
//! database, and a PostgreSQL source whose tables are `COPY` blocks cut into parts). Also a
//! part whose upload cannot be finished (its place is taken) while the next ones render: it
//! is written again once the store recovers, and the dump is the undisturbed one (on a
//! PostgreSQL source too, where the table's `COPY` statement has run ahead of that part).
//! And a PostgreSQL dump reads on a connection of its own, not one of the pool's.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::json;
use starbase::config::SourceKind;

use crate::common::ADMIN;
use crate::common::external::ExternalDb;
use crate::dump_jobs::{
    SCHEMA, data, download, sqlite3_checksums, sqlite3_load, start_dump, status, wait_done,
};

/// A running binary, its HTTP base URL and everything it logged.
struct Running {
    child: Child,
    base: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Running {
    /// A test that fails midway does not leave its server running (after an explicit kill
    /// or exit this does nothing).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data_dir: &Path) -> Running {
    start_with(data_dir, &[])
}

/// `serve` on `data_dir` with more flags (`--config FILE`).
fn start_with(data_dir: &Path, extra: &[&str]) -> Running {
    let mut args = vec![
        "serve",
        "--data-dir",
        data_dir.to_str().unwrap(),
        "--http-listen",
        "127.0.0.1:0",
        "--pg-listen",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    let mut child = crate::binary::command(&args)
        .env("STARBASE_ADMIN_TOKEN", ADMIN)
        .env("DUMP_CHUNK_SIZE", "100")
        .env("STARBASE_DUMP_PART_BYTES", "4096")
        .env("MAX_EXECUTION_TIME", "0")
        .env("DUMP_BREATHING_INTERVAL", "5")
        .env_remove("STARBASE_DUMP_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let sink = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line.clone());
            let _ = tx.send(line);
        }
    });
    while let Ok(line) = rx.recv() {
        if let Some(addr) = line.split("http=").nth(1) {
            let addr = addr.split_whitespace().next().unwrap().to_owned();
            return Running {
                child,
                base: format!("http://{addr}"),
                log,
            };
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("server exited before serving: {:?}", log.lock().unwrap());
}

async fn query(client: &reqwest::Client, base: &str, sql: &str) {
    query_on(client, base, "internal", sql).await;
}

async fn query_on(client: &reqwest::Client, base: &str, source: &str, sql: &str) {
    let response = client
        .post(format!("{base}/query"))
        .bearer_auth(ADMIN)
        .header("X-Starbase-Source", source)
        .json(&json!({"sql": sql}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert_eq!(status, 200, "{sql}: {}", response.text().await.unwrap());
}

/// A server on `data_dir` holding the dump tests' schema and 20,000 artists, and the
/// checksums of its tables.
async fn seeded(client: &reqwest::Client, data_dir: &Path) -> (Running, Vec<String>) {
    let server = start(data_dir);
    query(client, &server.base, SCHEMA).await;
    query(client, &server.base, &data(20_000)).await;
    let expected = sqlite3_checksums(&data_dir.join("starbase.sqlite"));
    (server, expected)
}

/// A SQL dump run to completion without interference: its final status and its file.
async fn undisturbed_dump(client: &reqwest::Client, base: &str) -> (serde_json::Value, Vec<u8>) {
    let key = start_dump(client, base, json!({"format": "sql"})).await;
    let (done, _) = wait_done(client, base, &key).await;
    assert_eq!(done["status"], "completed", "{done}");
    let (_, _, file) = download(client, base, &format!("{key}.sql"), None).await;
    (done, file)
}

#[tokio::test]
async fn sigkill_mid_dump_then_restart_resumes_and_equals_an_uninterrupted_dump() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let client = reqwest::Client::new();
    let (mut server, expected) = seeded(&client, &data_dir).await;

    let key = start_dump(&client, &server.base, json!({"format": "sql"})).await;
    let started_at =
        a_quarter_done(&client, &server.base, &key).await["progress"]["startedAt"].clone();
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    // No part of the unfinished dump claims to be complete.
    assert!(
        !data_dir
            .join("dumps")
            .join(&key)
            .join("manifest.json")
            .exists()
    );

    let mut server = start(&data_dir);
    let (done, seen) = wait_done(&client, &server.base, &key).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(*seen.last().unwrap(), 100);
    assert_eq!(
        done["progress"]["startedAt"], started_at,
        "the same job continued"
    );
    assert!(
        server
            .log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("resuming an interrupted dump") && l.contains(&key)),
        "{:?}",
        server.log.lock().unwrap()
    );
    let (code, _, resumed) = download(&client, &server.base, &format!("{key}.sql"), None).await;
    assert_eq!(code, 200);
    let scratch = tempfile::tempdir().unwrap();
    let restored = sqlite3_load(scratch.path(), &resumed);
    assert!(
        sqlite3_checksums(&restored) == expected,
        "restored tables differ"
    );

    // An uninterrupted dump of the same data is the same file, byte for byte.
    let (_, fresh) = undisturbed_dump(&client, &server.base).await;
    assert!(
        fresh == resumed,
        "the resumed dump differs from an uninterrupted one"
    );

    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(server.child.wait().unwrap().success());
}

#[tokio::test]
async fn a_part_that_cannot_be_finished_is_written_again_once_storage_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let client = reqwest::Client::new();
    let (mut server, expected) = seeded(&client, &data_dir).await;

    let key = start_dump(&client, &server.base, json!({"format": "sql"})).await;
    let blocked = block_a_part_until_retried(&client, &server, &data_dir, &key, "artist").await;
    let (done, seen) = wait_done(&client, &server.base, &key).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(*seen.last().unwrap(), 100);
    assert!(blocked.is_file(), "the blocked part was written in the end");

    let (_, _, written) = download(&client, &server.base, &format!("{key}.sql"), None).await;
    let scratch = tempfile::tempdir().unwrap();
    assert!(
        sqlite3_checksums(&sqlite3_load(scratch.path(), &written)) == expected,
        "restored tables differ"
    );
    // Byte for byte what a dump without the failure writes: nothing rendered while the
    // failed part was finishing was kept, nothing was counted twice.
    let (done, fresh) = undisturbed_dump(&client, &server.base).await;
    assert_eq!(
        done["progress"]["processedRows"], done["progress"]["totalRows"],
        "{done}"
    );
    assert!(
        fresh == written,
        "the retried dump differs from an undisturbed one"
    );
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

/// Parts of 4 KiB, a 5 ms pause per page: once table `table` of dump `key` has parts, a
/// part thirty further on is about to be written. A non-empty directory where it goes makes
/// its finish (the rename into place) fail, while the parts after it render. Returns once
/// the failed finish has been retried after its pause, with the way cleared again (the
/// store has recovered); the path of that part.
async fn block_a_part_until_retried(
    client: &reqwest::Client,
    server: &Running,
    data_dir: &Path,
    key: &str,
    table: &str,
) -> std::path::PathBuf {
    let table_dir = data_dir.join("dumps").join(key).join(table);
    let blocked = loop {
        let last = std::fs::read_dir(&table_dir).ok().and_then(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter_map(|n| {
                    n.strip_prefix("part-")?
                        .strip_suffix(".sql")?
                        .parse::<u64>()
                        .ok()
                })
                .max()
        });
        if let Some(last) = last {
            let blocked = table_dir.join(format!("part-{:05}.sql", last + 30));
            std::fs::create_dir_all(blocked.join("in-the-way")).unwrap();
            break blocked;
        }
        let s = status(client, &server.base, key).await;
        assert!(
            s["status"] == "pending" || s["status"] == "processing",
            "the dump ended before the test could block a part: {s}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    };
    let retried = |log: &[String]| {
        log.iter()
            .any(|l| l.contains("writing a dump part failed; writing it again"))
    };
    loop {
        if retried(&server.log.lock().unwrap()) {
            break;
        }
        let s = status(client, &server.base, key).await;
        assert_eq!(
            s["status"], "processing",
            "the blocked part was never retried: {s}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    std::fs::remove_dir_all(&blocked).unwrap();
    blocked
}

/// A configuration file in `dir` whose source `pg` is the test's schema of the local
/// PostgreSQL, with the server's `settings` (top-level lines) and the source's (`extra`,
/// lines of its table); the `--config` flag that names it.
fn pg_source(dir: &Path, db: &ExternalDb, settings: &str, extra: &str) -> [String; 2] {
    let config = dir.join("starbase.toml");
    std::fs::write(
        &config,
        format!(
            "{settings}[[sources]]\nname = \"pg\"\n\
             url = \"postgres://postgres@127.0.0.1:5432/test\"\nsearch_path = \"{}\"\n{extra}",
            db.namespace
        ),
    )
    .unwrap();
    ["--config".to_owned(), config.to_str().unwrap().to_owned()]
}

/// A server on a data directory in `dir` (with the settings of `pg_source`) whose source
/// `pg` holds what the statements `sql` make; that data directory.
async fn pg_server_with(
    client: &reqwest::Client,
    dir: &Path,
    db: &ExternalDb,
    (settings, extra): (&str, &str),
    sql: &[&str],
) -> (Running, std::path::PathBuf) {
    let data_dir = dir.join("data");
    let [flag, config] = pg_source(dir, db, settings, extra);
    let server = start_with(&data_dir, &[&flag, &config]);
    for sql in sql {
        query_on(client, &server.base, "pg", sql).await;
    }
    (server, data_dir)
}

#[tokio::test]
async fn a_postgres_dump_holds_no_pooled_connection() {
    let Some(db) = ExternalDb::start(SourceKind::Postgres).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    // One pooled connection, given up for after two seconds.
    let (server, _) = pg_server_with(
        &client,
        dir.path(),
        &db,
        ("", "pool_size = 1\nacquire_timeout = \"2s\"\n"),
        &[
            "CREATE TABLE words (w text PRIMARY KEY, n int)",
            "INSERT INTO words SELECT 'w' || lpad(n::text, 6, '0'), n FROM generate_series(1, 20000) n",
        ],
    )
    .await;
    let key = start_dump_on(&client, &server.base, "pg").await;
    a_quarter_done(&client, &server.base, &key).await;
    // Mid-dump, the pool's one connection is free for a client.
    for _ in 0..3 {
        query_on(&client, &server.base, "pg", "SELECT count(*) FROM words").await;
    }
    let s = status(&client, &server.base, &key).await;
    assert_eq!(s["status"], "processing", "the dump ended too soon: {s}");
    let (done, _) = wait_done(&client, &server.base, &key).await;
    assert_eq!(done["status"], "completed", "{done}");
    drop(server);
    db.finish().await;
}

/// The whole dump of source `pg` as `GET /export/dump` streams it.
async fn streamed_pg_dump(client: &reqwest::Client, base: &str) -> Vec<u8> {
    client
        .get(format!("{base}/export/dump"))
        .bearer_auth(ADMIN)
        .header("X-Starbase-Source", "pg")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec()
}

#[tokio::test]
async fn a_postgres_part_that_cannot_be_finished_is_read_again_from_its_first_key() {
    let Some(db) = ExternalDb::start(SourceKind::Postgres).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let (server, data_dir) = pg_server_with(
        &client,
        dir.path(),
        &db,
        ("", ""),
        &[
            "CREATE TABLE words (w text COLLATE \"C\" PRIMARY KEY, n int)",
            "INSERT INTO words SELECT E'k\\t' || lpad(n::text, 6, '0'), n FROM generate_series(1, 20000) n",
        ],
    )
    .await;
    // The part is written again from its first key while the table's `COPY` statement has
    // already sent the rows after it: those are read away and a new statement starts there.
    let key = start_dump_on(&client, &server.base, "pg").await;
    let blocked = block_a_part_until_retried(&client, &server, &data_dir, &key, "words").await;
    let (done, seen) = wait_done(&client, &server.base, &key).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(*seen.last().unwrap(), 100);
    assert!(blocked.is_file(), "the blocked part was written in the end");
    assert_eq!(done["progress"]["processedRows"], 20_000, "{done}");
    let (_, _, written) = download(&client, &server.base, &format!("{key}.sql"), None).await;
    assert!(
        written == streamed_pg_dump(&client, &server.base).await,
        "the retried dump differs from the streamed one"
    );
    drop(server);
    db.finish().await;
}

#[tokio::test]
async fn a_large_postgres_table_s_total_is_the_planner_s_estimate_until_the_dump_completes() {
    let Some(db) = ExternalDb::start(SourceKind::Postgres).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    // Slices of 1 ms of work, each followed by a 20 ms pause: the dump takes seconds.
    let (server, _) = pg_server_with(
        &client,
        dir.path(),
        &db,
        ("max_execution_time = 1\ndump_breathing_interval = 20\n", ""),
        &[
            "CREATE TABLE big (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = false)",
            "INSERT INTO big SELECT n, 'v' || n FROM generate_series(1, 200000) n",
            "ANALYZE big",
            // The catalog goes on saying 200,000 rows: the table keeps its pages until a VACUUM.
            "DELETE FROM big WHERE id > 150000",
        ],
    )
    .await;
    let key = start_dump_on(&client, &server.base, "pg").await;
    let during = crate::dump_jobs::first_total(&client, &server.base, &key).await;
    let estimate = during["progress"]["totalRows"].as_u64().unwrap();
    assert!(
        (190_000..=210_000).contains(&estimate),
        "the total while dumping is the planner's estimate, not a count: {during}"
    );
    let (done, seen) = wait_done(&client, &server.base, &key).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(*seen.last().unwrap(), 100);
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "progress went back: {seen:?}"
    );
    assert_eq!(done["progress"]["processedRows"], 150_000, "{done}");
    assert_eq!(
        done["progress"]["totalRows"], 150_000,
        "a completed dump's total is the rows it dumped: {done}"
    );
    drop(server);
    db.finish().await;
}

/// `POST /export/dump` of `body` on source `source`; the progress key.
async fn start_dump_on(client: &reqwest::Client, base: &str, source: &str) -> String {
    let response = client
        .post(format!("{base}/export/dump"))
        .bearer_auth(ADMIN)
        .header("X-Starbase-Source", source)
        .json(&json!({"format": "sql"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let body: serde_json::Value = response.json().await.unwrap();
    body["progressKey"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn sigkill_mid_postgres_dump_then_restart_resumes_and_equals_the_streamed_dump() {
    let Some(db) = ExternalDb::start(SourceKind::Postgres).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let data_dir = dir.path().join("data");
    let [flag, config] = pg_source(dir.path(), &db, "", "");
    let flags = [flag.as_str(), config.as_str()];
    let mut server = start_with(&data_dir, &flags);
    // A text key with COPY escapes in it (each page's last key is read back from its line),
    // and a keyless table (one pass, dumped again whole after the restart).
    for sql in [
        "CREATE TABLE words (w text COLLATE \"C\" PRIMARY KEY, big bigint, f float8, b bytea)",
        "INSERT INTO words SELECT (ARRAY[E'tab\\t', E'nl\\n', E'back\\\\', 'q''', '\\N'])[n % 5 + 1] \
           || lpad(n::text, 6, '0'), n * 400000000000001, n / 7.0, decode(md5(n::text), 'hex') \
         FROM generate_series(1, 20000) n",
        "CREATE TABLE loose (note text, n int)",
        "INSERT INTO loose SELECT 'n' || n, n FROM generate_series(1, 3000) n",
    ] {
        query_on(&client, &server.base, "pg", sql).await;
    }
    let key = start_dump_on(&client, &server.base, "pg").await;
    a_quarter_done(&client, &server.base, &key).await;
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    let mut server = start_with(&data_dir, &flags);
    let (done, _) = wait_done(&client, &server.base, &key).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert!(
        server
            .log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("resuming an interrupted dump") && l.contains(&key))
    );
    let (code, _, resumed) = download(&client, &server.base, &format!("{key}.sql"), None).await;
    assert_eq!(code, 200);
    let streamed = streamed_pg_dump(&client, &server.base).await;
    assert!(
        resumed == streamed,
        "the resumed dump differs from the streamed one"
    );
    let text = String::from_utf8(resumed).unwrap();
    assert_eq!(
        text.matches(" FROM stdin;\n").count(),
        2,
        "one COPY block per table"
    );

    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(server.child.wait().unwrap().success());
    db.finish().await;
}

/// Polls the dump's status until more than a quarter of its rows are done (and not all of
/// them: the caller kills the server mid-way); returns that status.
async fn a_quarter_done(client: &reqwest::Client, base: &str, key: &str) -> serde_json::Value {
    loop {
        let s = status(client, base, key).await;
        assert!(
            s["status"] == "processing" || s["status"] == "pending",
            "{s}"
        );
        let total = s["progress"]["totalRows"].as_u64().unwrap();
        let processed = s["progress"]["processedRows"].as_u64().unwrap();
        if total > 0 && processed > total / 4 {
            assert!(processed < total, "the dump must be killed mid-way: {s}");
            return s;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
