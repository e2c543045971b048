//! `TestGateway`: a real gateway on 127.0.0.1 port 0 with its own temporary data directory.

pub mod external;
pub mod jwt;
pub mod login;
pub mod s3;

use std::net::SocketAddr;

use serde_json::Value;
use starbase::config::{Config, Secret};
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const ADMIN: &str = "test-admin-token";
pub const CLIENT: &str = "test-client-token";

pub struct TestGateway {
    pub http: SocketAddr,
    pub pg: SocketAddr,
    pub client: reqwest::Client,
    shutdown: CancellationToken,
    task: Option<JoinHandle<Result<(), starbase::Error>>>,
    _dir: TempDir,
}

impl TestGateway {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::start_full(adjust, Vec::new()).await
    }

    /// A gateway whose pgwire proxy reaches these external PostgreSQL servers.
    pub async fn start_with_proxy(
        targets: Vec<starbase::frontend::pgwire::proxy::ProxyTarget>,
    ) -> Self {
        Self::start_full(|_| {}, targets).await
    }

    /// [`Self::start_with_proxy`] with the configuration adjusted first.
    pub async fn start_with_proxy_and(
        adjust: impl FnOnce(&mut Config),
        targets: Vec<starbase::frontend::pgwire::proxy::ProxyTarget>,
    ) -> Self {
        Self::start_full(adjust, targets).await
    }

    /// A gateway serving these backends to pgwire clients by database name.
    pub async fn start_with_wire_sources(
        sources: std::collections::HashMap<String, starbase_backends::AnyBackend>,
    ) -> Self {
        Self::start_all(|_| {}, Vec::new(), sources).await
    }

    async fn start_full(
        adjust: impl FnOnce(&mut Config),
        targets: Vec<starbase::frontend::pgwire::proxy::ProxyTarget>,
    ) -> Self {
        Self::start_all(adjust, targets, std::collections::HashMap::new()).await
    }

    async fn start_all(
        adjust: impl FnOnce(&mut Config),
        targets: Vec<starbase::frontend::pgwire::proxy::ProxyTarget>,
        sources: std::collections::HashMap<String, starbase_backends::AnyBackend>,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::for_tests(dir.path());
        config.admin_token = Some(Secret::new(ADMIN.into()));
        config.client_token = Some(Secret::new(CLIENT.into()));
        adjust(&mut config);
        let mut server = starbase::Server::bind(&config).await.unwrap();
        if !targets.is_empty() {
            server = server.with_proxy_targets(targets);
        }
        if !sources.is_empty() {
            server = server.with_wire_sources(sources);
        }
        let http = server.http_addr();
        let pg = server.pg_addr();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(server.serve(shutdown.clone()));
        Self {
            http,
            pg,
            client: reqwest::Client::new(),
            shutdown,
            task: Some(task),
            _dir: dir,
        }
    }

    /// A tokio-postgres connection string for this gateway with `password`.
    pub fn pg_config(&self, password: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user=tester password={password} dbname=main",
            self.pg.port()
        )
    }

    /// A tokio-postgres client authenticated as admin; its connection task runs until the
    /// client is dropped.
    pub async fn pg_client(&self) -> tokio_postgres::Client {
        self.pg_client_as(ADMIN).await
    }

    /// A tokio-postgres client on database `dbname` (a source's name reaches the wire
    /// proxy), or the connection's error.
    pub async fn pg_connect_to(
        &self,
        dbname: &str,
        password: &str,
    ) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let config = format!(
            "host=127.0.0.1 port={} user=anyone password={password} dbname={dbname}",
            self.pg.port()
        );
        let (client, connection) = tokio_postgres::connect(&config, tokio_postgres::NoTls).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }

    pub async fn pg_client_as(&self, password: &str) -> tokio_postgres::Client {
        let (client, connection) =
            tokio_postgres::connect(&self.pg_config(password), tokio_postgres::NoTls)
                .await
                .unwrap();
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }

    /// POSTs a JSON body to `path` as admin; returns status and parsed body.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.post_as(ADMIN, path, body).await
    }

    pub async fn post_as(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// Runs one statement through `/query` and returns the `result` (panics on error).
    pub async fn query(&self, sql: &str, params: Value) -> Value {
        let (status, body) = self
            .post("/query", serde_json::json!({"sql": sql, "params": params}))
            .await;
        assert_eq!(status, 200, "{sql}: {body}");
        body["result"].clone()
    }

    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Asserts an error body: status, SQLSTATE, and a message fragment.
pub fn assert_error(status: u16, body: &Value, want_status: u16, want_code: &str, fragment: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["code"], want_code, "{body}");
    let message = body["error"].as_str().expect("error message");
    assert!(
        message.to_lowercase().contains(&fragment.to_lowercase()),
        "message {message:?} lacks {fragment:?}"
    );
    assert!(body.get("result").is_none(), "{body}");
}
