//! Crash safety of asynchronous dumps: the real binary is killed with SIGKILL in the middle
//! of a dump, started again on the same data directory, and the job resumes from its last
//! checkpoint and finishes with exactly the dump an uninterrupted run writes.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::common::ADMIN;
use crate::dump_jobs::{
    SCHEMA, data, download, sqlite3_checksums, sqlite3_load, start_dump, status, wait_done,
};

/// A running binary, its HTTP base URL and everything it logged.
struct Running {
    child: Child,
    base: String,
    log: Arc<Mutex<Vec<String>>>,
}

fn start(data_dir: &Path) -> Running {
    let mut child = crate::binary::command(&[
        "serve",
        "--data-dir",
        data_dir.to_str().unwrap(),
        "--http-listen",
        "127.0.0.1:0",
        "--pg-listen",
        "127.0.0.1:0",
    ])
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
    let response = client
        .post(format!("{base}/query"))
        .bearer_auth(ADMIN)
        .json(&json!({"sql": sql}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn sigkill_mid_dump_then_restart_resumes_and_equals_an_uninterrupted_dump() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let client = reqwest::Client::new();
    let mut server = start(&data_dir);
    query(&client, &server.base, SCHEMA).await;
    query(&client, &server.base, &data(20_000)).await;
    let expected = sqlite3_checksums(&data_dir.join("starbase.sqlite"));

    let key = start_dump(&client, &server.base, json!({"format": "sql"})).await;
    let started_at = loop {
        let s = status(&client, &server.base, &key).await;
        assert!(
            s["status"] == "processing" || s["status"] == "pending",
            "{s}"
        );
        let total = s["progress"]["totalRows"].as_u64().unwrap();
        let processed = s["progress"]["processedRows"].as_u64().unwrap();
        if total > 0 && processed > total / 4 {
            assert!(processed < total, "the dump must be killed mid-way: {s}");
            break s["progress"]["startedAt"].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
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
    let again = start_dump(&client, &server.base, json!({"format": "sql"})).await;
    let (done, _) = wait_done(&client, &server.base, &again).await;
    assert_eq!(done["status"], "completed", "{done}");
    let (_, _, fresh) = download(&client, &server.base, &format!("{again}.sql"), None).await;
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
