//! Dumps to a real S3-protocol server (SeaweedFS on loopback, SigV4 checked): a complete
//! dump with a multipart part restores identical tables; wrong credentials fail the job with
//! the reason; the server going away mid-dump fails it after retries, and resuming once it
//! is back completes the same dump.

use std::time::Duration;

use serde_json::json;

use crate::common::TestGateway;
use crate::common::s3::{ACCESS_KEY, BUCKET, S3Server, SECRET_KEY, weed_binary};
use crate::dump_jobs::{
    SCHEMA, data, download, sqlite3_checksums, sqlite3_load, start_dump, status, wait_done,
};

fn s3_config(c: &mut starbase::config::Config, endpoint: &str, secret: &str, prefix: &str) {
    c.dump.url = Some(format!("s3://{BUCKET}/{prefix}"));
    c.dump.s3.endpoint = Some(endpoint.to_owned());
    c.dump.s3.region = Some("us-east-1".to_owned());
    c.dump.s3.access_key_id = Some(ACCESS_KEY.to_owned());
    c.dump.s3.secret_access_key = Some(starbase::config::Secret::new(secret.to_owned()));
}

#[tokio::test]
async fn dumps_to_s3_complete_fail_with_the_reason_and_resume_after_an_outage() {
    let Some(weed) = weed_binary() else { return };
    let s3_dir = tempfile::tempdir().unwrap();
    let mut s3 = S3Server::start(&weed, s3_dir.path()).await;
    let endpoint = s3.endpoint();
    let data_dir = tempfile::tempdir().unwrap();
    let gw = TestGateway::start_with(|c| {
        c.data_dir = data_dir.path().to_path_buf();
        s3_config(c, &endpoint, SECRET_KEY, "nightly/db");
        c.dump.chunk_size = 5;
        c.dump.part_bytes = Some(9 * 1024 * 1024);
    })
    .await;
    gw.query(SCHEMA, json!([])).await;
    gw.query(&data(2000), json!([])).await;
    // 2 MiB of SQL per row: the first part passes the multipart threshold.
    gw.query(
        "CREATE TABLE big (id INTEGER PRIMARY KEY, payload BLOB); \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 8) \
         INSERT INTO big SELECT i, randomblob(1048576) FROM n",
        json!([]),
    )
    .await;
    let database = data_dir.path().join("starbase.sqlite");
    let expected = sqlite3_checksums(&database);
    let base = gw.url("");

    let key = start_dump(&gw.client, &base, json!({"format": "sql"})).await;
    let (done, seen) = wait_done(&gw.client, &base, &key).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert!(seen.windows(2).all(|w| w[0] <= w[1]) && seen.last() == Some(&100));
    let (code, _, script) = download(&gw.client, &base, &format!("{key}.sql"), None).await;
    assert_eq!(code, 200);
    assert!(script.len() > 16 * 1024 * 1024);
    let scratch = tempfile::tempdir().unwrap();
    let restored = sqlite3_load(scratch.path(), &script);
    assert!(
        sqlite3_checksums(&restored) == expected,
        "restored tables differ"
    );
    let (code, _, slice) = download(
        &gw.client,
        &base,
        &format!("{key}.sql"),
        Some("bytes=9000000-9999999"),
    )
    .await;
    assert_eq!(code, 206);
    assert_eq!(slice, script[9_000_000..10_000_000]);
    // The objects are in the bucket under the prefix; the big part went up in several parts.
    let objects = list(&endpoint, &format!("nightly/db/{key}")).await;
    assert!(
        objects.iter().any(|(p, _)| p.ends_with("/manifest.json")),
        "{objects:?}"
    );
    assert!(
        objects
            .iter()
            .any(|(p, etag)| p.contains("/big/") && etag.contains('-')),
        "a multipart ETag: {objects:?}"
    );

    // Wrong credentials: the server refuses the signature; the job fails with the reason.
    let bad = TestGateway::start_with(|c| s3_config(c, &endpoint, "wrong-secret", "bad")).await;
    bad.query("CREATE TABLE t (x); INSERT INTO t VALUES (1)", json!([]))
        .await;
    let bad_key = start_dump(&bad.client, &bad.url(""), json!({"format": "csv"})).await;
    let (done, _) = wait_done(&bad.client, &bad.url(""), &bad_key).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["code"], "58030", "{done}");
    assert!(
        done["error"].as_str().unwrap().contains("dump storage"),
        "{done}"
    );

    // An outage mid-dump: retries, then failed; resumed once the server is back.
    let slow = TestGateway::start_with(|c| {
        c.data_dir = tempfile::tempdir().unwrap().keep();
        s3_config(c, &endpoint, SECRET_KEY, "slow");
        c.dump.chunk_size = 50;
        c.dump.part_bytes = Some(4 * 1024);
        c.dump.max_execution_time = Duration::ZERO;
        c.dump.breathing_interval = Duration::from_millis(10);
    })
    .await;
    slow.query(SCHEMA, json!([])).await;
    slow.query(&data(6000), json!([])).await;
    let slow_base = slow.url("");
    let key = start_dump(&slow.client, &slow_base, json!({"format": "sql"})).await;
    loop {
        let s = status(&slow.client, &slow_base, &key).await;
        if s["progress"]["processedRows"].as_u64().unwrap() > 1000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    s3.kill();
    let (done, _) = wait_done(&slow.client, &slow_base, &key).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["code"], "58030", "{done}");
    let (code, _, _) = download(&slow.client, &slow_base, &format!("{key}.sql"), None).await;
    assert_eq!(code, 409, "a failed dump is not downloadable");
    s3.restart().await;
    let response = slow
        .client
        .post(slow.url(&format!("/export/dump/resume/{key}")))
        .bearer_auth(crate::common::ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let (done, _) = wait_done(&slow.client, &slow_base, &key).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert!(done.get("error").is_none(), "{done}");
    let (_, _, resumed) = download(&slow.client, &slow_base, &format!("{key}.sql"), None).await;
    let again = start_dump(&slow.client, &slow_base, json!({"format": "sql"})).await;
    wait_done(&slow.client, &slow_base, &again).await;
    let (_, _, fresh) = download(&slow.client, &slow_base, &format!("{again}.sql"), None).await;
    assert!(
        resumed == fresh,
        "the resumed dump differs from an uninterrupted one"
    );
}

/// The objects under `prefix`, with their ETags, as the S3 server lists them.
async fn list(endpoint: &str, prefix: &str) -> Vec<(String, String)> {
    use futures::StreamExt as _;
    use object_store::ObjectStore as _;
    let store = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(BUCKET)
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_access_key_id(ACCESS_KEY)
        .with_secret_access_key(SECRET_KEY)
        .build()
        .unwrap();
    let prefix = object_store::path::Path::from(prefix);
    store
        .list(Some(&prefix))
        .map(|m| {
            let m = m.unwrap();
            (m.location.to_string(), m.e_tag.unwrap_or_default())
        })
        .collect()
        .await
}
