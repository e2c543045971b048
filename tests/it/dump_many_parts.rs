//! A dump of more parts than the registry gives at once (a page of 1,024 records): its
//! manifest lists every one, and its downloads, whole and by range, join them all in order.

use std::path::Path;

use serde_json::{Value, json};

use crate::common::{ADMIN, TestGateway};
use crate::dump_jobs::{SCHEMA, data, download, sha256_hex, start_dump, wait_done};

/// The rows a synchronous export gives for `path`.
async fn export(gw: &TestGateway, path: &str) -> Vec<u8> {
    gw.client
        .get(gw.url(path))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec()
}

/// The manifest of `key`, after checking that each part it lists is the file it describes.
fn checked_manifest(store: &Path, key: &str) -> Value {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(store.join(key).join("manifest.json")).unwrap())
            .unwrap();
    let mut rows = 0;
    for part in manifest["parts"].as_array().unwrap() {
        let bytes = std::fs::read(store.join(part["path"].as_str().unwrap())).unwrap();
        assert_eq!(bytes.len() as u64, part["bytes"].as_u64().unwrap());
        assert_eq!(sha256_hex(&bytes), part["sha256"].as_str().unwrap());
        rows += part["rows"].as_u64().unwrap();
    }
    assert_eq!(manifest["totalRows"], rows);
    manifest
}

#[tokio::test]
async fn a_dump_of_more_parts_than_a_page_is_listed_and_joined_whole() {
    let store = tempfile::tempdir().unwrap();
    // One row per part.
    let gw = TestGateway::start_with(|c| {
        c.dump.url = Some(store.path().to_str().unwrap().to_owned());
        c.dump.chunk_size = 1;
        c.dump.part_bytes = Some(1);
    })
    .await;
    gw.query(SCHEMA, json!([])).await;
    gw.query(&data(1100), json!([])).await;
    let base = gw.url("");

    // JSON: tables follow each other across pages of records.
    let key = start_dump(&gw.client, &base, json!({"format": "json"})).await;
    let (done, _) = wait_done(&gw.client, &base, &key).await;
    assert_eq!(done["status"], "completed", "{done}");
    let manifest = checked_manifest(store.path(), &key);
    let parts = manifest["parts"].as_array().unwrap();
    assert!(parts.len() > 1100, "{} parts", parts.len());
    assert_eq!(
        manifest["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "artist")
            .unwrap()["rows"],
        1100 - 1100 / 97
    );
    let (code, _, whole) = download(&gw.client, &base, &format!("{key}.json"), None).await;
    assert_eq!(code, 200);
    let dumped: Value = serde_json::from_slice(&whole).unwrap();
    for table in ["artist", "tag", "audit"] {
        let sync: Value =
            serde_json::from_slice(&export(&gw, &format!("/export/json/{table}")).await).unwrap();
        let mut got = dumped[table].as_array().unwrap().clone();
        let mut want = sync.as_array().unwrap().clone();
        let order = |v: &Value| v.to_string();
        got.sort_by_key(order);
        want.sort_by_key(order);
        assert_eq!(got, want, "{table}");
    }
    // A range that starts in the first page of records and ends in the second.
    let (from, to) = (whole.len() / 3, whole.len() * 9 / 10);
    let (code, headers, middle) = download(
        &gw.client,
        &base,
        &format!("{key}.json"),
        Some(&format!("bytes={from}-{}", to - 1)),
    )
    .await;
    assert_eq!(code, 206);
    assert_eq!(
        headers["content-range"],
        format!("bytes {from}-{}/{}", to - 1, whole.len()).as_str()
    );
    assert_eq!(middle, whole[from..to]);

    // CSV of one table: the first part whole, every other one without its header row.
    let key = start_dump(
        &gw.client,
        &base,
        json!({"format": "csv", "tables": ["artist"]}),
    )
    .await;
    let (done, _) = wait_done(&gw.client, &base, &key).await;
    assert_eq!(done["status"], "completed", "{done}");
    let manifest = checked_manifest(store.path(), &key);
    assert!(manifest["parts"].as_array().unwrap().len() > 1024);
    let (code, _, csv) = download(&gw.client, &base, &format!("{key}.csv"), None).await;
    assert_eq!(code, 200);
    assert_eq!(
        String::from_utf8_lossy(&csv),
        String::from_utf8_lossy(&export(&gw, "/export/csv/artist").await)
    );
    let (code, _, tail) = download(
        &gw.client,
        &base,
        &format!("{key}.csv"),
        Some(&format!("bytes={}-", csv.len() - 5000)),
    )
    .await;
    assert_eq!(code, 206);
    assert_eq!(tail, csv[csv.len() - 5000..]);
}
