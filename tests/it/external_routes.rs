//! Routes beyond `/query` on external sources: table exports, imports and REST, unknown
//! sources, the dialects listed (SQL dumps are `external_dump`'s).

use serde_json::{Value, json};
use starbase::config::SourceKind;

use crate::common::external::{ITEMS, gateway, post_on, query_on};
use crate::common::{ADMIN, TestGateway};

crate::common::external::on_both!(
    unknown_sources_are_3d000_and_dialects_are_listed,
    table_exports_stream_from_the_source,
    imports_are_atomic_and_round_trip,
    rest_crud_and_filters,
);

async fn unknown_sources_are_3d000_and_dialects_are_listed(kind: SourceKind) {
    let Some((db, gw)) = gateway(kind).await else {
        return;
    };
    let backend = kind.as_str();
    let (status, body) = post_on(&gw, "nowhere", "/query", json!({"sql": "SELECT 1"})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("3D000")),
        "{body}"
    );
    let response = gw
        .client
        .get(gw.url("/status/database"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["result"]["dialects"],
        json!({"internal": "sqlite", "external": backend, "warehouse": backend})
    );
    gw.stop().await;
    db.finish().await;
}

async fn get_on(gw: &TestGateway, source: &str, path: &str) -> (u16, String) {
    let response = gw
        .client
        .get(gw.url(path))
        .bearer_auth(ADMIN)
        .header("X-Starbase-Source", source)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn table_exports_stream_from_the_source(kind: SourceKind) {
    let Some((db, gw)) = gateway(kind).await else {
        return;
    };
    query_on(&gw, "external", ITEMS, json!([])).await;
    let insert = "INSERT INTO items (id, name, price) VALUES ($1, $2, $3)";
    query_on(&gw, "external", insert, json!([1, "a,b", "2.50"])).await;
    query_on(&gw, "external", insert, json!([2, "plain", null])).await;
    let (status, body) = get_on(&gw, "external", "/export/json/items").await;
    assert_eq!(status, 200, "{body}");
    let rows: Value = serde_json::from_str(&body).unwrap();
    let mut rows = rows.as_array().unwrap().clone();
    rows.sort_by_key(|r| r["id"].as_i64());
    assert_eq!(
        rows,
        [
            json!({"id": 1, "name": "a,b", "price": "2.50"}),
            json!({"id": 2, "name": "plain", "price": null})
        ]
    );
    let (status, body) = get_on(&gw, "external", "/export/csv/items").await;
    assert_eq!(status, 200, "{body}");
    let mut lines: Vec<&str> = body.lines().collect();
    lines[1..].sort_unstable();
    assert_eq!(lines, ["id,name,price", "1,\"a,b\",\"2.50\"", "2,plain,"]);
    let (status, body) = get_on(&gw, "external", "/export/json/missing").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("42P01"), "{body}");
    // A quote in the name is matched against the catalog, never pasted.
    let (status, _) = get_on(&gw, "external", "/export/json/items%22%20--").await;
    assert_eq!(status, 404);
    gw.stop().await;
    db.finish().await;
}

/// `method` `path` on the `external` source with an optional JSON body.
async fn rest(gw: &TestGateway, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = gw
        .client
        .request(method, gw.url(path))
        .bearer_auth(ADMIN)
        .header("X-Starbase-Source", "external");
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn rest_crud_and_filters(kind: SourceKind) {
    let Some((db, gw)) = gateway(kind).await else {
        return;
    };
    let ddl = match kind {
        SourceKind::Postgres => {
            "CREATE TABLE items (id SERIAL PRIMARY KEY, name TEXT NOT NULL, \
             price NUMERIC(10,2), active BOOLEAN DEFAULT true)"
        }
        SourceKind::MySql => {
            "CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL, \
             price DECIMAL(10,2), active BOOLEAN DEFAULT true)"
        }
    };
    query_on(&gw, "external", ddl, json!([])).await;
    let (status, body) = rest(
        &gw,
        "POST",
        "/rest/items",
        Some(json!({"name": "apple", "price": "1.50"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let apple = json!({"id": 1, "name": "apple", "price": "1.50", "active": true});
    assert_eq!(body["result"]["data"], apple, "{body}");
    rest(
        &gw,
        "POST",
        "/rest/items",
        Some(json!({"name": "pear", "active": false})),
    )
    .await;

    let (status, body) = rest(&gw, "GET", "/rest/items?active=true&price.gt=1", None).await;
    assert_eq!((status, &body["result"]), (200, &json!([apple])), "{body}");
    let (_, body) = rest(&gw, "GET", "/rest/items/2", None).await;
    assert_eq!(body["result"][0]["name"], "pear", "{body}");
    let (_, body) = rest(&gw, "GET", "/rest/items?sort_by=id&offset=1", None).await;
    assert_eq!(
        body["result"],
        json!([{"id": 2, "name": "pear", "price": null, "active": false}])
    );
    let (_, body) = rest(
        &gw,
        "GET",
        "/rest/items?id.in=1,2&active.is=notnull&name.like=p%25",
        None,
    )
    .await;
    assert_eq!(body["result"].as_array().map(Vec::len), Some(1), "{body}");
    let path = format!("/rest/{}/items?sort_by=id&order=desc&limit=1", db.namespace);
    let (_, body) = rest(&gw, "GET", &path, None).await;
    assert_eq!(body["result"][0]["id"], 2, "{body}");

    let (status, body) = rest(&gw, "PATCH", "/rest/items/1", Some(json!({"name": "plum"}))).await;
    assert_eq!(
        (status, &body["result"]["data"]["name"]),
        (200, &json!("plum")),
        "{body}"
    );
    let (status, body) = rest(&gw, "PUT", "/rest/items/1", Some(json!({"name": "fig"}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["result"]["data"],
        json!({"id": 1, "name": "fig", "price": null, "active": true}),
        "PUT resets omitted columns to their defaults"
    );
    let (status, _) = rest(&gw, "DELETE", "/rest/items/1", None).await;
    assert_eq!(status, 200);
    let (status, body) = rest(&gw, "DELETE", "/rest/items/1", None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("02000")),
        "{body}"
    );
    let (status, body) = rest(&gw, "GET", "/rest/items?id=abc", None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("22P02")),
        "{body}"
    );
    let (_, body) = rest(&gw, "GET", "/rest/missing", None).await;
    assert_eq!(body["code"], "42P01", "{body}");
    let (_, body) = rest(&gw, "GET", "/rest/items?nope=1", None).await;
    assert_eq!(body["code"], "42703", "{body}");
    gw.stop().await;
    db.finish().await;
}

/// POSTs `body` with `content_type` to `path` on the `external` source.
async fn upload(gw: &TestGateway, path: &str, content_type: &str, body: String) -> (u16, Value) {
    let response = gw
        .client
        .post(gw.url(path))
        .bearer_auth(ADMIN)
        .header("X-Starbase-Source", "external")
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn imports_are_atomic_and_round_trip(kind: SourceKind) {
    let Some((db, gw)) = gateway(kind).await else {
        return;
    };
    query_on(&gw, "external", ITEMS, json!([])).await;
    query_on(&gw, "external", &ITEMS.replace("items", "copy"), json!([])).await;
    let rows = json!({"data": [{"id": 1, "title": "a", "price": "1.25"}, {"id": 2, "title": "b"}],
                      "columnMapping": {"title": "name"}});
    let (status, body) = upload(
        &gw,
        "/import/json/items",
        "application/json",
        rows.to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let csv = "id,name,price\r\n3,\"c, d\",\"2.50\"\r\n4,e,\r\n".to_owned();
    let (status, body) = upload(&gw, "/import/csv/items", "text/csv", csv).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["result"]["message"]
            .as_str()
            .unwrap()
            .contains("Imported 2"),
        "{body}"
    );
    // A failing record rolls the whole import back.
    let bad = "id,name\r\n5,f\r\n1,dup\r\n".to_owned();
    let (status, body) = upload(&gw, "/import/csv/items", "text/csv", bad).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("23505")),
        "{body}"
    );
    let count = query_on(
        &gw,
        "external",
        "SELECT count(*) AS n FROM items",
        json!([]),
    )
    .await;
    assert_eq!(count, json!([{"n": 4}]));
    // An export imports back into an empty copy with identical rows.
    let (status, csv) = get_on(&gw, "external", "/export/csv/items").await;
    assert_eq!(status, 200);
    let (status, body) = upload(&gw, "/import/csv/copy", "text/csv", csv).await;
    assert_eq!(status, 200, "{body}");
    let diff = "SELECT count(*) AS n FROM (SELECT * FROM items EXCEPT SELECT * FROM copy) d";
    assert_eq!(
        query_on(&gw, "external", diff, json!([])).await,
        json!([{"n": 0}])
    );
    let (status, body) = upload(
        &gw,
        "/import/json/missing",
        "application/json",
        "{\"data\": []}".into(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("42P01")),
        "{body}"
    );
    gw.stop().await;
    db.finish().await;
}
