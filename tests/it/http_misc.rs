//! Health, status, CORS, routing, sources, limits and timeouts on the HTTP frontend.

use serde_json::{Value, json};

use crate::common::{ADMIN, TestGateway, assert_error};

#[tokio::test]
async fn healthz_needs_no_auth_and_status_does() {
    let gw = TestGateway::start().await;
    let response = gw.client.get(gw.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"status": "ok"})
    );

    let response = gw
        .client
        .get(gw.url("/status/database"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);

    let response = gw
        .client
        .get(gw.url("/status/database"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["result"]["dialects"]["internal"], "sqlite");
    assert!(body["result"]["databaseSize"].as_u64().unwrap() > 0);
    gw.stop().await;
}

#[tokio::test]
async fn cors_preflight_and_headers() {
    let gw = TestGateway::start().await;
    for path in ["/query", "/anything/at/all"] {
        let response = gw
            .client
            .request(reqwest::Method::OPTIONS, gw.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 204);
        let h = response.headers();
        assert_eq!(h["access-control-allow-origin"], "*");
        assert_eq!(
            h["access-control-allow-methods"],
            "GET, POST, PATCH, PUT, DELETE, OPTIONS"
        );
        assert_eq!(
            h["access-control-allow-headers"],
            "Authorization, Content-Type, X-Starbase-Source, X-Data-Source"
        );
        assert_eq!(h["access-control-max-age"], "86400");
    }
    // Ordinary responses, errors included, carry the CORS headers too.
    let response = gw
        .client
        .post(gw.url("/query"))
        .json(&json!({"sql": "SELECT 1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    gw.stop().await;
}

#[tokio::test]
async fn unknown_routes_methods_and_sources() {
    let gw = TestGateway::start().await;
    let response = gw
        .client
        .get(gw.url("/nope"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], "42704");

    let response = gw
        .client
        .get(gw.url("/query"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);

    let response = gw
        .client
        .post(gw.url("/query"))
        .bearer_auth(ADMIN)
        .header("X-Starbase-Source", "external")
        .json(&json!({"sql": "SELECT 1"}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert_error(
        status,
        &response.json().await.unwrap(),
        404,
        "3D000",
        "external",
    );
    let (status, body) = gw
        .post("/query?source=internal", json!({"sql": "SELECT 1 AS x"}))
        .await;
    assert_eq!((status, body), (200, json!({"result": [{"x": 1}]})));
    gw.stop().await;
}

#[tokio::test]
async fn statement_timeout_is_57014_and_server_recovers() {
    let gw = TestGateway::start_with(|c| {
        c.statement_timeout = Some(std::time::Duration::from_millis(300))
    })
    .await;
    let (status, body) = gw
        .post("/query", json!({"sql": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"}))
        .await;
    assert_error(status, &body, 408, "57014", "statement timeout");
    assert_eq!(
        gw.query("SELECT 2 AS two", json!([])).await,
        json!([{"two": 2}])
    );
    gw.stop().await;
}

#[tokio::test]
async fn response_limits_are_clear_errors() {
    let gw = TestGateway::start_with(|c| {
        c.max_response_rows = 1000;
        c.max_response_bytes = 1 << 20;
    })
    .await;
    let (status, body) = gw
        .post("/query", json!({"sql": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 5000) SELECT x FROM c"}))
        .await;
    assert_error(status, &body, 400, "54000", "1000 rows");
    let (status, body) = gw
        .post("/query", json!({"sql": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 900) SELECT x, randomblob(4000) AS b FROM c"}))
        .await;
    assert_error(status, &body, 400, "54000", "bytes");
    // A transaction whose response is too large is rolled back.
    gw.query("CREATE TABLE big (x)", json!([])).await;
    let (status, _) = gw
        .post("/query", json!({"transaction": [
            {"sql": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 5000) INSERT INTO big SELECT x FROM c"},
            {"sql": "SELECT * FROM big"}
        ]}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        gw.query("SELECT count(*) AS n FROM big", json!([])).await,
        json!([{"n": 0}])
    );
    gw.stop().await;
}
