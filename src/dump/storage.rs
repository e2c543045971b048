//! Where dump parts go: an `object_store` (a directory under the data dir by default, or
//! S3/R2/any S3-compatible endpoint for `s3://bucket/prefix`).
//!
//! Owns building the store from the configuration, object paths
//! (`<prefix>/<job>/<table>/part-00001.<ext>`, `<prefix>/<job>/manifest.json`), writing a
//! part (one PUT, or a multipart upload above `MULTIPART_THRESHOLD`) with retries, and
//! reading byte ranges back. A local PUT is written to a temporary file and renamed, an S3
//! PUT or multipart completion is atomic: an object either exists whole or not at all. Must
//! not know formats or SQL.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    BackoffConfig, ClientOptions, GetOptions, GetRange, ObjectStore, PutPayload, RetryConfig,
    WriteMultipart,
};
use starbase_protocol::{DbError, SqlState};

use super::model::{Manifest, Unit, UnitKind};
use crate::config::Config;
use crate::error::Error;

/// Parts larger than this go up by multipart upload.
pub const MULTIPART_THRESHOLD_BYTES: usize = 8 * 1024 * 1024;
/// Size of one multipart chunk (S3's minimum is 5 MiB except for the last).
pub const MULTIPART_CHUNK_BYTES: usize = 5 * 1024 * 1024;
/// Attempts at writing one part before the job fails.
const PART_ATTEMPTS: u32 = 4;
/// First pause between attempts; doubled each time.
const PART_BACKOFF: Duration = Duration::from_millis(500);

/// The dump store.
#[derive(Debug, Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
}

fn storage_error(what: &str, e: &dyn std::fmt::Display) -> DbError {
    DbError::new(SqlState::IO_ERROR, format!("dump storage: {what}: {e}"))
}

impl Storage {
    /// The store named by `dump_url` (`s3://bucket/prefix`, a directory, or by default
    /// `<data_dir>/dumps`).
    ///
    /// # Errors
    /// `22023` for a URL that is not `s3://bucket[/prefix]` or a path; `58030` when the
    /// directory cannot be created.
    pub fn from_config(config: &Config) -> Result<Self, Error> {
        let url = config.dump.url.as_deref().unwrap_or_default();
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(DbError::invalid_parameter(
                    "dump_url: s3:// needs a bucket name (s3://bucket/prefix)",
                )
                .into());
            }
            let s3 = &config.dump.s3;
            let mut builder = AmazonS3Builder::new()
                .with_bucket_name(bucket)
                .with_region(s3.region.clone().unwrap_or_else(|| "us-east-1".to_owned()))
                .with_retry(RetryConfig {
                    backoff: BackoffConfig::default(),
                    max_retries: 3,
                    retry_timeout: Duration::from_secs(30),
                })
                .with_client_options(
                    ClientOptions::new()
                        .with_timeout(Duration::from_secs(120))
                        .with_connect_timeout(Duration::from_secs(5)),
                );
            if let Some(endpoint) = &s3.endpoint {
                builder = builder
                    .with_endpoint(endpoint)
                    .with_allow_http(endpoint.starts_with("http://"));
            }
            if let Some(key) = &s3.access_key_id {
                builder = builder.with_access_key_id(key);
            }
            if let Some(secret) = &s3.secret_access_key {
                builder = builder.with_secret_access_key(secret.expose());
            }
            if let Some(token) = &s3.session_token {
                builder = builder.with_token(token.expose());
            }
            let store = builder
                .build()
                .map_err(|e| DbError::invalid_parameter(format!("dump_url: {e}")))?;
            let prefix = Path::parse(prefix.trim_matches('/'))
                .map_err(|e| DbError::invalid_parameter(format!("dump_url prefix: {e}")))?;
            return Ok(Self {
                store: Arc::new(store),
                prefix,
            });
        }
        let dir = match url.strip_prefix("file://") {
            Some(path) => std::path::PathBuf::from(path),
            None if url.is_empty() => config.data_dir.join("dumps"),
            None if url.contains("://") => {
                return Err(DbError::invalid_parameter(format!(
                    "dump_url: \"{url}\" is neither s3://bucket/prefix nor a directory"
                ))
                .into());
            }
            None => std::path::PathBuf::from(url),
        };
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating dump directory {}", dir.display()), e))?;
        let store = LocalFileSystem::new_with_prefix(&dir)
            .map_err(|e| Error::io("opening the dump directory", std::io::Error::other(e)))?;
        Ok(Self {
            store: Arc::new(store),
            prefix: Path::default(),
        })
    }

    fn job_dir(&self, job: &str) -> Path {
        self.prefix.child(job)
    }

    /// The path of part `part_no` of `unit`.
    #[must_use]
    pub fn part_path(&self, job: &str, unit: &Unit, part_no: u64, extension: &str) -> Path {
        let dir = match unit.kind {
            UnitKind::Schema => "@schema".to_owned(),
            UnitKind::Post => "@post".to_owned(),
            UnitKind::Table => encode(&unit.name),
        };
        self.job_dir(job)
            .child(dir.as_str())
            .child(format!("part-{part_no:05}.{extension}").as_str())
    }

    fn manifest_path(&self, job: &str) -> Path {
        self.job_dir(job).child("manifest.json")
    }

    /// Writes one object, retrying with backoff; multipart above the threshold.
    ///
    /// # Errors
    /// `58030` naming the path and the store's last error.
    pub async fn put(&self, path: &Path, bytes: Bytes) -> Result<(), DbError> {
        let mut pause = PART_BACKOFF;
        let mut attempt = 1;
        loop {
            match self.put_once(path, bytes.clone()).await {
                Ok(()) => return Ok(()),
                Err(e) if attempt >= PART_ATTEMPTS => {
                    return Err(storage_error(&format!("writing \"{path}\""), &e));
                }
                Err(e) => {
                    tracing::warn!(%path, attempt, error = %e, "writing a dump part failed; retrying");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    attempt += 1;
                }
            }
        }
    }

    async fn put_once(&self, path: &Path, bytes: Bytes) -> Result<(), object_store::Error> {
        if bytes.len() <= MULTIPART_THRESHOLD_BYTES {
            self.store.put(path, PutPayload::from(bytes)).await?;
            return Ok(());
        }
        let upload = self.store.put_multipart(path).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, MULTIPART_CHUNK_BYTES);
        for chunk in bytes.chunks(MULTIPART_CHUNK_BYTES) {
            writer.wait_for_capacity(2).await?;
            writer.put(bytes.slice_ref(chunk));
        }
        writer.finish().await?;
        Ok(())
    }

    /// Writes the manifest (the last object of a dump).
    ///
    /// # Errors
    /// As [`Storage::put`].
    pub async fn put_manifest(&self, manifest: &Manifest) -> Result<(), DbError> {
        let json = serde_json::to_vec_pretty(manifest)
            .map_err(|e| DbError::internal(format!("encoding the manifest: {e}")))?;
        self.put(&self.manifest_path(&manifest.dump_id), Bytes::from(json))
            .await
    }

    /// Reads the manifest; `None` when the dump has none (it is not complete).
    ///
    /// # Errors
    /// `58030` for a store failure; `XX000` for a damaged manifest.
    pub async fn manifest(&self, job: &str) -> Result<Option<Manifest>, DbError> {
        let result = match self.store.get(&self.manifest_path(job)).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(storage_error("reading the manifest", &e)),
        };
        let bytes = result
            .bytes()
            .await
            .map_err(|e| storage_error("reading the manifest", &e))?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| DbError::internal(format!("the dump's manifest is damaged: {e}")))
    }

    /// Streams bytes `start..end` of the object at `path`.
    pub fn read_range(
        &self,
        path: &str,
        start: u64,
        end: u64,
    ) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
        let store = Arc::clone(&self.store);
        let path = Path::parse(path);
        futures::stream::once(async move {
            let path = path.map_err(std::io::Error::other)?;
            let options = GetOptions {
                range: Some(GetRange::Bounded(start..end)),
                ..GetOptions::default()
            };
            let result = store
                .get_opts(&path, options)
                .await
                .map_err(std::io::Error::other)?;
            Ok::<_, std::io::Error>(
                result
                    .into_stream()
                    .map(|r| r.map_err(std::io::Error::other)),
            )
        })
        .map(|r| match r {
            Ok(stream) => stream.boxed(),
            Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
        })
        .flatten()
    }
}

/// A table name as one path segment: letters, digits, `_`, `-` and inner `.` as they are,
/// every other byte as `=XX`, so names never collide with each other or with `@schema`.
fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, b) in name.bytes().enumerate() {
        let plain = b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b == b'.' && i > 0);
        if plain {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    if out.is_empty() {
        out.push_str("=00");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_become_distinct_segments() {
        assert_eq!(encode("users"), "users");
        assert_eq!(encode("a/b"), "a=2Fb");
        assert_eq!(encode("@schema"), "=40schema");
        assert_eq!(encode(".."), "=2E.");
        assert_eq!(encode("a=2F"), "a=3D2F");
        assert_ne!(encode("a b"), encode("a_b"));
    }
}
