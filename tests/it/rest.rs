//! LiteREST on the embedded database: both path forms, filters, CRUD by (composite) key, and
//! names checked against the real schema.

use serde_json::{Value, json};

use crate::common::{ADMIN, TestGateway};

async fn call(
    gw: &TestGateway,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = gw.client.request(method, gw.url(path)).bearer_auth(ADMIN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn seed(gw: &TestGateway) {
    gw.query(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, age INTEGER, team TEXT DEFAULT 'none')",
        json!([]),
    )
    .await;
    gw.query(
        "INSERT INTO users (id, name, age, team) VALUES (1, 'Alice', 30, 'red'), (2, 'Bob', 25, 'blue'), (3, 'Carol', NULL, 'red')",
        json!([]),
    )
    .await;
}

#[tokio::test]
async fn get_with_both_path_forms_filters_sorting_and_paging() {
    use reqwest::Method;
    let gw = TestGateway::start().await;
    seed(&gw).await;
    let (status, body) = call(&gw, Method::GET, "/rest/users?sort_by=id", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"].as_array().unwrap().len(), 3);
    let (_, schema_form) = call(&gw, Method::GET, "/rest/main/users?sort_by=id", None).await;
    assert_eq!(schema_form, body);

    let names = |body: &Value| -> Vec<String> {
        body["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let cases = [
        ("/rest/users/2", vec!["Bob"]),
        ("/rest/main/users/1", vec!["Alice"]),
        (
            "/rest/users?team=red&sort_by=name&order=desc",
            vec!["Carol", "Alice"],
        ),
        ("/rest/users?age.gt=26", vec!["Alice"]),
        ("/rest/users?age.gte=25&sort_by=age", vec!["Bob", "Alice"]),
        ("/rest/users?age.lt=30", vec!["Bob"]),
        ("/rest/users?age.ne=30", vec!["Bob"]),
        (
            "/rest/users?name.like=%25o%25&sort_by=id",
            vec!["Bob", "Carol"],
        ),
        (
            "/rest/users?id.in=1,%203&sort_by=id",
            vec!["Alice", "Carol"],
        ),
        ("/rest/users?age.is=null", vec!["Carol"]),
        (
            "/rest/users?age.is=notnull&sort_by=id&limit=1&offset=1",
            vec!["Bob"],
        ),
        ("/rest/users?name=Robert'); DROP TABLE users;--", vec![]),
    ];
    for (path, expected) in cases {
        let (status, body) = call(&gw, Method::GET, path, None).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(names(&body), expected, "{path}");
    }
    assert_eq!(
        gw.query("SELECT count(*) AS n FROM users", json!([])).await,
        json!([{"n": 3}])
    );
    gw.stop().await;
}

#[tokio::test]
async fn crud_by_primary_key_returns_stored_rows() {
    use reqwest::Method;
    let gw = TestGateway::start().await;
    seed(&gw).await;
    let (status, body) = call(
        &gw,
        Method::POST,
        "/rest/users",
        Some(json!({"name": "Dan", "age": 41})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["result"]["message"], "Resource created successfully");
    // The row as stored: generated id and column default included.
    assert_eq!(
        body["result"]["data"],
        json!({"id": 4, "name": "Dan", "age": 41, "team": "none"})
    );

    let (status, body) = call(
        &gw,
        Method::PATCH,
        "/rest/users/4",
        Some(json!({"age": 42})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["result"]["data"],
        json!({"id": 4, "name": "Dan", "age": 42, "team": "none"})
    );

    // PUT replaces the row: omitted columns go back to their default (or NULL).
    let (status, body) = call(
        &gw,
        Method::PUT,
        "/rest/main/users/4",
        Some(json!({"name": "Daniel"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["message"], "Resource replaced successfully");
    assert_eq!(
        body["result"]["data"],
        json!({"id": 4, "name": "Daniel", "age": null, "team": "none"})
    );

    let (status, body) = call(&gw, Method::DELETE, "/rest/users/4", None).await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"result": {"message": "Resource deleted successfully"}})
        )
    );
    let (status, body) = call(&gw, Method::DELETE, "/rest/users/4", None).await;
    assert_eq!((status, body["code"].clone()), (404, json!("02000")));
    let (status, _) = call(
        &gw,
        Method::PATCH,
        "/rest/users/99",
        Some(json!({"age": 1})),
    )
    .await;
    assert_eq!(status, 404);
    gw.stop().await;
}

#[tokio::test]
async fn composite_keys() {
    use reqwest::Method;
    let gw = TestGateway::start().await;
    gw.query(
        "CREATE TABLE member (org TEXT, uid INTEGER, role TEXT, PRIMARY KEY (org, uid))",
        json!([]),
    )
    .await;
    let (status, _) = call(
        &gw,
        Method::POST,
        "/rest/member",
        Some(json!({"org": "a", "uid": 1, "role": "x"})),
    )
    .await;
    assert_eq!(status, 201);
    call(
        &gw,
        Method::POST,
        "/rest/member",
        Some(json!({"org": "a", "uid": 2, "role": "y"})),
    )
    .await;
    let (status, body) = call(
        &gw,
        Method::PATCH,
        "/rest/member?org=a&uid=2",
        Some(json!({"role": "z"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["result"]["data"],
        json!({"org": "a", "uid": 2, "role": "z"})
    );
    let (status, body) = call(
        &gw,
        Method::PATCH,
        "/rest/member",
        Some(json!({"org": "a", "uid": 1, "role": "w"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(&gw, Method::DELETE, "/rest/member?org=a", None).await;
    assert_eq!(
        (status, body["code"].clone()),
        (400, json!("22023")),
        "{body}"
    );
    assert!(body["error"].as_str().unwrap().contains("\"uid\""));
    let (status, body) = call(&gw, Method::DELETE, "/rest/member/1", None).await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = call(&gw, Method::DELETE, "/rest/member?org=a&uid=1", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        gw.query("SELECT org, uid, role FROM member", json!([]))
            .await,
        json!([{"org": "a", "uid": 2, "role": "z"}])
    );
    gw.stop().await;
}

#[tokio::test]
async fn unknown_names_and_bad_input_are_precise_errors() {
    use reqwest::Method;
    let gw = TestGateway::start().await;
    seed(&gw).await;
    let cases: Vec<(Method, &str, Option<Value>, u16, &str)> = vec![
        (Method::GET, "/rest/nope", None, 400, "42P01"),
        (Method::GET, "/rest/main/nope", None, 400, "42P01"),
        (Method::GET, "/rest/sqlite_master", None, 400, "42P01"),
        (Method::GET, "/rest/users%22%20--", None, 400, "42P01"),
        (Method::GET, "/rest/users?nope=1", None, 400, "42703"),
        (Method::GET, "/rest/users?sort_by=nope", None, 400, "42703"),
        (Method::GET, "/rest/users?age.between=1", None, 400, "22023"),
        (
            Method::GET,
            "/rest/users?order=sideways",
            None,
            400,
            "22023",
        ),
        (Method::GET, "/rest/users?limit=-1", None, 400, "22023"),
        (Method::GET, "/rest/users?age=old", None, 400, "22P02"),
        (Method::GET, "/rest/users/abc", None, 400, "22P02"),
        (Method::GET, "/rest/", None, 400, "22023"),
        (
            Method::POST,
            "/rest/users",
            Some(json!({"nope": 1})),
            400,
            "42703",
        ),
        (Method::POST, "/rest/users", Some(json!({})), 400, "22023"),
        (Method::POST, "/rest/users", Some(json!([1])), 400, "22023"),
        (
            Method::POST,
            "/rest/users",
            Some(json!({"age": 1})),
            400,
            "23502",
        ),
        (
            Method::POST,
            "/rest/users",
            Some(json!({"id": 1, "name": "dup"})),
            400,
            "23505",
        ),
        (
            Method::PATCH,
            "/rest/users/1",
            Some(json!({"id": 1})),
            400,
            "22023",
        ),
        (
            Method::PATCH,
            "/rest/users/1",
            Some(json!({"bogus": 1})),
            400,
            "42703",
        ),
        (Method::DELETE, "/rest/users", None, 400, "22023"),
    ];
    for (method, path, body, status, code) in cases {
        let (got_status, got) = call(&gw, method.clone(), path, body).await;
        assert_eq!(
            (got_status, got["code"].as_str()),
            (status, Some(code)),
            "{method} {path}: {got}"
        );
    }
    assert_eq!(
        gw.query("SELECT count(*) AS n FROM users", json!([])).await,
        json!([{"n": 3}])
    );
    gw.stop().await;
}
