//! `starbase dump`: a command-line client of a running server's asynchronous dumps.
//!
//! Owns starting a dump (`POST /export/dump`), following its status with a progress bar
//! (rows, bytes, ETA) on stderr, downloading the result to a file or uploading it to
//! `s3://bucket/key` (multipart, AWS_* variables) as it streams, and `dump status <key>`.
//! Failures are errors (the binary exits non-zero). Must not know how the server dumps.

use std::time::Duration;

use futures::StreamExt as _;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;

use crate::cli::{DumpAction, DumpArgs};

/// Default server address.
const DEFAULT_SERVER: &str = "http://127.0.0.1:8787";
/// How often the status is asked for.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Why `starbase dump` failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DumpClientError(String);

fn fail(what: impl std::fmt::Display) -> DumpClientError {
    DumpClientError(what.to_string())
}

/// Runs `starbase dump` on a new runtime; `env` reads the environment (for the token).
///
/// # Errors
/// A refused request, a failed dump, or a failed download, with the server's message.
pub fn run_blocking(
    args: DumpArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), DumpClientError> {
    let token = args
        .token
        .clone()
        .or_else(|| env("STARBASE_ADMIN_TOKEN"))
        .or_else(|| env("ADMIN_AUTHORIZATION_TOKEN"))
        .ok_or_else(|| fail("no token: pass --token or set STARBASE_ADMIN_TOKEN"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(fail)?;
    runtime.block_on(run(args, token))
}

async fn run(args: DumpArgs, token: String) -> Result<(), DumpClientError> {
    let server = args
        .server
        .clone()
        .unwrap_or_else(|| DEFAULT_SERVER.to_owned());
    let server = server.trim_end_matches('/').to_owned();
    let http = reqwest::Client::new();
    let client = Client {
        http,
        server,
        token,
    };
    if let Some(DumpAction::Status { key }) = &args.action {
        let status = client.status(key).await?;
        write_stdout(&format!("{status:#}\n"));
        if status["status"] == "failed" {
            return Err(fail(format!(
                "dump {key} failed: {}",
                status["error"].as_str().unwrap_or("unknown error")
            )));
        }
        return Ok(());
    }
    let mut body = json!({"format": args.format.clone().unwrap_or_else(|| "sql".to_owned())});
    if !args.tables.is_empty() {
        body["tables"] = json!(args.tables);
    }
    let mut request = client
        .http
        .post(format!("{}/export/dump", client.server))
        .bearer_auth(&client.token)
        .json(&body);
    if let Some(source) = &args.source {
        request = request.header("X-Starbase-Source", source);
    }
    let response = request.send().await.map_err(fail)?;
    let code = response.status();
    let answer: Value = response.json().await.map_err(fail)?;
    if code.as_u16() != 202 {
        return Err(fail(format!(
            "the server refused the dump ({code}): {}",
            answer["error"].as_str().unwrap_or("")
        )));
    }
    let key = answer["progressKey"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let done = client.follow(&key).await?;
    if done["status"] != "completed" {
        return Err(fail(format!(
            "dump {key} failed: {} ({})",
            done["error"].as_str().unwrap_or("unknown error"),
            done["code"].as_str().unwrap_or("")
        )));
    }
    let download = done["downloadUrl"].as_str().unwrap_or_default().to_owned();
    match &args.to {
        None => write_stdout(&format!("{key}\n{}{download}\n", client.server)),
        Some(to) => {
            client.save(&download, to).await?;
            write_stdout(&format!("{key}\n{to}\n"));
        }
    }
    Ok(())
}

#[allow(clippy::print_stdout)] // the command's output
fn write_stdout(text: &str) {
    print!("{text}");
}

struct Client {
    http: reqwest::Client,
    server: String,
    token: String,
}

impl Client {
    async fn status(&self, key: &str) -> Result<Value, DumpClientError> {
        let response = self
            .http
            .get(format!("{}/export/dump/status/{key}", self.server))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(fail)?;
        let code = response.status();
        let body: Value = response.json().await.map_err(fail)?;
        if !code.is_success() {
            return Err(fail(format!(
                "status of {key} ({code}): {}",
                body["error"].as_str().unwrap_or("")
            )));
        }
        Ok(body)
    }

    /// Polls until the dump ends, drawing the progress bar.
    async fn follow(&self, key: &str) -> Result<Value, DumpClientError> {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{bar:30}] {pos}/{len} rows  {msg}  ETA {eta}",
            )
            .map_err(fail)?
            .progress_chars("=> "),
        );
        loop {
            let status = self.status(key).await?;
            let p = &status["progress"];
            bar.set_length(p["totalRows"].as_u64().unwrap_or(0));
            bar.set_position(p["processedRows"].as_u64().unwrap_or(0));
            bar.set_message(format!(
                "{} written",
                indicatif::HumanBytes(p["bytes"].as_u64().unwrap_or(0))
            ));
            match status["status"].as_str() {
                Some("completed" | "failed") => {
                    bar.finish_and_clear();
                    return Ok(status);
                }
                _ => tokio::time::sleep(POLL_INTERVAL).await,
            }
        }
    }

    /// Downloads the dump into a file or an S3 object, as it streams.
    async fn save(&self, path: &str, to: &str) -> Result<(), DumpClientError> {
        let response = self
            .http
            .get(format!("{}{path}", self.server))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(fail)?;
        if !response.status().is_success() {
            return Err(fail(format!("download failed ({})", response.status())));
        }
        let mut body = response.bytes_stream();
        if let Some(rest) = to.strip_prefix("s3://") {
            use object_store::ObjectStore as _;
            let (bucket, key) = rest
                .split_once('/')
                .ok_or_else(|| fail("--to s3://bucket/key needs a key"))?;
            let store = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .map_err(fail)?;
            let path = object_store::path::Path::parse(key).map_err(fail)?;
            let upload = store.put_multipart(&path).await.map_err(fail)?;
            let mut writer = object_store::WriteMultipart::new(upload);
            while let Some(chunk) = body.next().await {
                writer.wait_for_capacity(2).await.map_err(fail)?;
                writer.write(&chunk.map_err(fail)?);
            }
            writer.finish().await.map_err(fail)?;
            return Ok(());
        }
        let mut file = tokio::fs::File::create(to).await.map_err(fail)?;
        while let Some(chunk) = body.next().await {
            file.write_all(&chunk.map_err(fail)?).await.map_err(fail)?;
        }
        file.flush().await.map_err(fail)?;
        Ok(())
    }
}
