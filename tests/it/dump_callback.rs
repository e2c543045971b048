//! Dump callbacks: the outcome is POSTed to `callbackUrl` with an HMAC-SHA256 signature of
//! the body, retried until the receiver accepts it; failures are reported the same way.

use std::collections::HashMap;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::common::{ADMIN, TestGateway};
use crate::dump_jobs::{download, start_dump, wait_done};

/// One request the listener received.
struct Received {
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// A local HTTP listener answering each request with the next status of `statuses` (then 200).
async fn listener(statuses: Vec<u16>) -> (String, mpsc::Receiver<Received>) {
    let socket = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/dump", socket.local_addr().unwrap());
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        let mut statuses = statuses.into_iter();
        loop {
            let (mut conn, _) = socket.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let head_end = loop {
                let n = conn.read(&mut chunk).await.unwrap();
                assert!(n > 0, "connection closed mid-request");
                buf.extend_from_slice(&chunk[..n]);
                if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break at + 4;
                }
            };
            let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
            let headers: HashMap<String, String> = head
                .lines()
                .skip(1)
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                .collect();
            let len: usize = headers["content-length"].parse().unwrap();
            while buf.len() < head_end + len {
                let n = conn.read(&mut chunk).await.unwrap();
                assert!(n > 0);
                buf.extend_from_slice(&chunk[..n]);
            }
            let status = statuses.next().unwrap_or(200);
            let reply =
                format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            conn.write_all(reply.as_bytes()).await.unwrap();
            let body = buf[head_end..head_end + len].to_vec();
            let _ = tx.send(Received { headers, body }).await;
        }
    });
    (url, rx)
}

fn verify(received: &Received) -> Value {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, ADMIN.as_bytes());
    let signature = &received.headers["x-starbase-signature"];
    let hex = signature.strip_prefix("sha256=").expect("sha256= prefix");
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    ring::hmac::verify(&key, &received.body, &bytes).expect("the signature matches the body");
    assert_eq!(received.headers["content-type"], "application/json");
    serde_json::from_slice(&received.body).unwrap()
}

#[tokio::test]
async fn callbacks_are_signed_retried_and_report_failures() {
    let gw = TestGateway::start_with(|c| c.dump.allow_http_callbacks = true).await;
    gw.query(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('a'), (NULL)",
        json!([]),
    )
    .await;
    let base = gw.url("");
    // The receiver refuses the first attempt: the callback comes again.
    let (url, mut rx) = listener(vec![503]).await;
    let key = start_dump(
        &gw.client,
        &base,
        json!({"format": "json", "callbackUrl": url}),
    )
    .await;
    let (done, _) = wait_done(&gw.client, &base, &key).await;
    assert_eq!(done["status"], "completed");
    let first = verify(&rx.recv().await.unwrap());
    let second = verify(&rx.recv().await.unwrap());
    assert_eq!(first, second);
    assert_eq!(second["status"], "completed");
    assert_eq!(second["dumpId"], key);
    assert_eq!(second["format"], "json");
    assert_eq!(
        second["downloadUrl"],
        format!("http://{}/export/dump/download/{key}.json", gw.http)
    );
    assert!(second["completedAt"].as_str().unwrap().ends_with('Z'));
    let (_, _, body) = download(&gw.client, &base, &format!("{key}.json"), None).await;
    assert_eq!(
        second["size"].as_u64().unwrap(),
        done["size"].as_u64().unwrap()
    );
    assert!(!body.is_empty());

    // A failing dump is reported too, with the reason.
    let (url, mut rx) = listener(vec![]).await;
    let key = start_dump(
        &gw.client,
        &base,
        json!({"format": "csv", "tables": ["missing"], "callbackUrl": url}),
    )
    .await;
    let failed = verify(&rx.recv().await.unwrap());
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["dumpId"], key);
    assert_eq!(failed["code"], "42P01");
    assert!(failed["error"].as_str().unwrap().contains("missing"));
}
